"""Loading several files at once into the input slots, by role; and swapping two slots.

:class:`FileLoader` is what Ctrl+O with several files, files dropped anywhere on the window
and several files dropped on one slot all lead to. It reads the pictures on the pool
(:func:`refiner_gui.role_guess.guess_from_files`, plus small thumbnails), then either puts
every file in its slot and says where each went (status bar), or, when the rules are not
sure, opens :class:`~refiner_gui.ui.assign_dialog.AssignDialog`. It never assigns by order.

It also swaps two slots' files when a thumbnail is dragged from one slot onto another.
GUI thread only; the background function takes and returns plain data.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtWidgets import QWidget

from refiner_gui.role_guess import RoleGuess, guess_from_files
from refiner_gui.slots import SLOT_LABELS, SLOTS
from refiner_gui.threads import run_task
from refiner_gui.ui.assign_dialog import AssignDialog
from refiner_gui.ui.drop_mime import dragged_slot, local_files
from refiner_gui.ui.inputs_panel import InputsPanel
from refiner_gui.workers import load_image

log = logging.getLogger(__name__)

DIALOG_THUMB_SIDE = 144
"""Thumbnails for the assignment dialog are decoded at about twice their shown size."""


def read_for_assignment(files: Sequence[Path]) -> tuple[RoleGuess, dict[Path, QImage]]:
    """Worker thread: the role guess for ``files`` and, when the dialog will need them
    (the guess is not complete), a small thumbnail of each."""
    guess, _facts = guess_from_files(files)
    if guess.complete:
        return guess, {}
    return guess, {path: load_image(path, DIALOG_THUMB_SIDE) for path in guess.files}


class FileLoader(QObject):
    """Puts several files into ``inputs``' slots by role; ``say`` shows a status message.

    Signals (GUI thread):
        loaded(dict): slot → file, after files were put in their slots.
        asking(AssignDialog): the rules were not sure; the dialog is open (window-modal).
    """

    loaded = Signal(dict)
    asking = Signal(object)

    def __init__(self, inputs: InputsPanel, parent: QWidget, say: Callable[[str], object]) -> None:
        super().__init__(parent)
        self._inputs = inputs
        self._parent = parent
        self._say = say
        self._dialog: AssignDialog | None = None
        self._reading = 0  # bumps per load: only the latest load's result is used
        for slot in SLOTS:
            view = inputs.slot_view(slot)
            view.filesDropped.connect(functools.partial(self._on_files_on_slot, slot))
            view.swapRequested.connect(functools.partial(self.swap, target=slot))

    def dialog(self) -> AssignDialog | None:
        """The assignment dialog while it is open (for tests and the screenshot)."""
        return self._dialog

    def load(self, files: Sequence[Path]) -> None:
        """Read ``files`` in the background, then fill the slots or ask (see module doc)."""
        files = list(dict.fromkeys(Path(f) for f in files))
        if not files:
            return
        if self._inputs.slot_view(SLOTS[0]).is_locked():
            self._say("Wait for the running job to finish before loading other images.")
            return
        self._reading += 1
        number = self._reading
        run_task(
            functools.partial(read_for_assignment, files),
            functools.partial(self._on_read, number),
            self._on_read_failed,
            owner=self,
        )

    def swap(self, source: str, target: str) -> None:
        """Exchange the files of slots ``source`` and ``target`` (each is checked again)."""
        if source == target or source not in SLOTS or target not in SLOTS:
            return
        views = [self._inputs.slot_view(s) for s in (source, target)]
        if any(v.is_locked() for v in views):
            return
        first, second = self._inputs.original_path(source), self._inputs.original_path(target)
        for slot, path, view in ((source, first, views[0]), (target, second, views[1])):
            if path is None and view.has_content():  # a download or a paste in progress
                self._say(f"Wait until the {SLOT_LABELS[slot]} has arrived, then swap.")
                return
        self._put(target, first)
        self._put(source, second)
        self._say(f"Swapped the {SLOT_LABELS[source]} and the {SLOT_LABELS[target]}.")

    def _put(self, slot: str, path: Path | None) -> None:
        if path is None:
            self._inputs.clear_slot(slot)
        else:
            self._inputs.set_file(slot, path)

    def _on_files_on_slot(self, slot: str, files: list[Path]) -> None:
        self._say(
            f"{len(files)} files were dropped on the {SLOT_LABELS[slot]}: "
            "each goes to the slot its name or picture says."
        )
        self.load(files)

    def _on_read(self, number: int, result: tuple[RoleGuess, dict[Path, QImage]]) -> None:
        if number != self._reading:
            return  # a newer load replaced this one
        guess, thumbs = result
        if guess.complete:
            self._apply(guess.roles, guess)
            return
        filled = {s for s in SLOTS if self._inputs.original_path(s) is not None}
        dialog = AssignDialog(list(guess.files), guess, thumbs, filled, self._parent)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(functools.partial(self._on_dialog_accepted, dialog, guess))
        dialog.finished.connect(self._on_dialog_finished)
        self._dialog = dialog
        dialog.open()
        self.asking.emit(dialog)

    def _on_dialog_accepted(self, dialog: AssignDialog, guess: RoleGuess) -> None:
        self._apply(dialog.assignment(), guess)

    def _on_dialog_finished(self, _result: int) -> None:
        self._dialog = None

    def _on_read_failed(self, exc: Exception) -> None:
        # read_facts and load_image never raise for a bad file: this is a bug; no crash.
        log.error("reading dropped files failed", exc_info=exc)
        self._say(f"Could not read the files: {exc}")

    def _apply(self, roles: dict[str, Path], guess: RoleGuess) -> None:
        """Put each file in its slot (person first: the coarse is checked against it)."""
        if self._inputs.slot_view(SLOTS[0]).is_locked():
            self._say("A job started meanwhile: the images were not loaded.")
            return
        for slot in SLOTS:
            if slot in roles:
                self._inputs.set_file(slot, roles[slot])
        where = "; ".join(f"{SLOT_LABELS[s]}: {roles[s].name}" for s in SLOTS if s in roles)
        unused = [p.name for p in guess.files if p not in roles.values()]
        tail = f" Not used: {', '.join(unused)}." if unused else ""
        self._say(f"Loaded {where}.{tail}" if where else f"Nothing loaded.{tail}")
        self.loaded.emit(dict(roles))


class WindowDropTarget(QObject):
    """Files dropped anywhere on ``window`` (outside a slot) go to ``loader``.

    An event filter, so the window's own class is not touched; slots still take their own
    drops first (Qt gives a drop to the innermost widget that accepts it). One dropped item
    goes to :attr:`on_source` first (a folder or .csv may make a batch); it returns True
    when it took the drop.
    """

    def __init__(self, window: QWidget, loader: FileLoader) -> None:
        super().__init__(window)
        self._loader = loader
        self.on_source: Callable[[Path], bool] | None = None
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, (QDragEnterEvent, QDragMoveEvent))
            mime = event.mimeData()
            if local_files(mime) and dragged_slot(mime) is None:
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            files = local_files(event.mimeData())
            if files:
                event.acceptProposedAction()
                if not (len(files) == 1 and self.on_source and self.on_source(files[0])):
                    self._loader.load(files)
            else:
                event.ignore()
            return True
        return super().eventFilter(watched, event)
