"""The window's menus as data: every menu action, its shortcuts and when it is enabled.

:data:`MENU_ACTIONS` is the single table the menus are built from
(:func:`build_actions`), their enabled state is updated from (:func:`update_enabled`) and
the keyboard help lists (:func:`menu_key_help`), so the three cannot drift apart.

Qt-light: only QtGui/QtWidgets types for building. GUI thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from refiner_gui.ui.key_help import KeyHelp

StandardKey = QKeySequence.StandardKey

MENUS: tuple[tuple[str, str], ...] = (
    ("file", "File"),
    ("edit", "Edit"),
    ("job", "Job"),
    ("view", "View"),
    ("help", "Help"),
)
"""Menu ids in menu-bar order, with their titles (without mnemonics)."""

CONDITIONS = ("has_result", "can_refine", "running", "can_undo")
"""The named conditions an action may be enabled by:

* ``has_result``: a refined result is shown (save, copy it);
* ``can_refine``: no job runs, the inputs are ready and an API key (or demo) is there;
* ``running``: a job is running (cancel it);
* ``can_undo``: a review change (verdict, tag, blind answer) can be undone.
"""


@dataclass(frozen=True)
class ActionSpec:
    """One menu entry.

    Attributes:
        name: the id; also the key of its handler in :func:`build_actions`.
        menu: the menu it belongs to, one of the ids in :data:`MENUS`.
        text: the menu text, with its ``&`` mnemonic.
        shortcuts: keys as portable text ("Ctrl+E") or a platform standard key; the first
            is the one menus show.
        fallback: keys used when every standard key in ``shortcuts`` is unbound on this
            platform (e.g. Preferences outside macOS and KDE).
        tip: status bar and tooltip text ("" for none).
        enabled_when: a name from :data:`CONDITIONS`, or None for always enabled.
        separator_before: put a separator line above it in its menu.
    """

    name: str
    menu: str
    text: str
    shortcuts: tuple[str | QKeySequence.StandardKey, ...] = ()
    fallback: tuple[str, ...] = ()
    tip: str = ""
    enabled_when: str | None = None
    separator_before: bool = False

    @property
    def plain_text(self) -> str:
        """The text without its mnemonic marker ("Open images…")."""
        return self.text.replace("&&", "\0").replace("&", "").replace("\0", "&")


MENU_ACTIONS: tuple[ActionSpec, ...] = (
    # File
    ActionSpec(
        "open",
        "file",
        "&Open images…",
        (StandardKey.Open,),
        tip="Choose images for the empty slots, in order",
    ),
    ActionSpec(
        "new_batch",
        "file",
        "New &batch…",
        ("Ctrl+Shift+N",),
        tip="Refine many looks: a folder of looks or a CSV manifest, with a dry run first",
    ),
    ActionSpec(
        "save",
        "file",
        "&Save refined…",
        (StandardKey.Save,),
        enabled_when="has_result",
        separator_before=True,
    ),
    ActionSpec(
        "save_comparison",
        "file",
        "Save &comparison…",
        ("Ctrl+Shift+S",),
        enabled_when="has_result",
    ),
    ActionSpec(
        "copy_refined",
        "file",
        "&Copy refined image",
        ("Ctrl+Shift+C",),
        enabled_when="has_result",
    ),
    ActionSpec("open_output_folder", "file", "Open output &folder"),
    ActionSpec(
        "export_review",
        "file",
        "&Export review…",
        ("Ctrl+E",),
        tip="Export the jobs shown in History (with their filter) as HTML, CSV, JSON or a "
        "contact sheet",
        separator_before=True,
    ),
    ActionSpec("quit", "file", "&Quit", (StandardKey.Quit,), separator_before=True),
    # Edit
    ActionSpec(
        "undo_review",
        "edit",
        "&Undo review change",
        ("Ctrl+Z",),
        tip="Undo the last verdict, tag or blind answer, and show that look",
        enabled_when="can_undo",
    ),
    ActionSpec(
        "settings",
        "edit",
        "&Settings…",
        (StandardKey.Preferences,),
        ("Ctrl+,",),
        separator_before=True,
    ),
    # Job
    ActionSpec(
        "refine",
        "job",
        "&Refine",
        ("Ctrl+Return", "Ctrl+Enter"),
        tip="Submit the images to the refiner",
        enabled_when="can_refine",
    ),
    ActionSpec("cancel", "job", "&Cancel", ("Esc",), enabled_when="running"),
    # View
    ActionSpec("view_side_by_side", "view", "Side by side", ("Ctrl+1",)),
    ActionSpec("view_swipe", "view", "Swipe", ("Ctrl+2",)),
    ActionSpec("view_flicker", "view", "Flicker (A/B)", ("Ctrl+3",)),
    ActionSpec("view_difference", "view", "Difference", ("Ctrl+4",)),
    ActionSpec("fit", "view", "&Fit", ("0",), separator_before=True),
    ActionSpec("actual_size", "view", "&Actual size", ("1",)),
    # Help
    ActionSpec("photo_rules", "help", "&Photo rules", ("F1",)),
    ActionSpec(
        "keyboard_shortcuts",
        "help",
        "&Keyboard shortcuts",
        ("Ctrl+/",),
        tip="List every key the window knows",
    ),
    ActionSpec("about", "help", "&About Refiner"),
)
"""Every menu action, in menu order. The main window's ``_build_menus`` reproduced here;
"Keyboard shortcuts" is new."""


def key_sequences(spec: ActionSpec) -> list[QKeySequence]:
    """The key sequences ``spec`` binds on this platform (standard keys resolved; the
    fallback when they are all unbound). Needs a QGuiApplication for standard keys."""
    sequences = [QKeySequence(key) for key in spec.shortcuts]
    sequences = [s for s in sequences if not s.isEmpty()]
    if not sequences:
        sequences = [QKeySequence(key) for key in spec.fallback]
    return sequences


def build_actions(
    parent: QWidget,
    menus: Mapping[str, QMenu],
    handlers: Mapping[str, Callable[[], object]],
    specs: Iterable[ActionSpec] = MENU_ACTIONS,
) -> dict[str, QAction]:
    """Create the actions of ``specs``, connect them and add them to ``menus``.

    Args:
        parent: owner of the actions (the main window, so shortcuts are window-wide).
        menus: menu id -> menu, for every menu the specs name.
        handlers: action name -> callable run (GUI thread) when the action triggers; the
            ``checked`` argument of ``triggered`` is not passed on.
        specs: the table; :data:`MENU_ACTIONS` by default.

    Returns:
        action name -> QAction, in table order. Their enabled state is left alone; call
        :func:`update_enabled`.

    Raises:
        KeyError: a spec's handler or menu is missing (checked before anything is built).
        ValueError: ``handlers`` names an action the table does not have.
    """
    specs = tuple(specs)
    names = {spec.name for spec in specs}
    missing = [spec.name for spec in specs if spec.name not in handlers]
    if missing:
        raise KeyError(f"no handler for action(s): {', '.join(missing)}")
    unknown = sorted(set(handlers) - names)
    if unknown:
        raise ValueError(f"handler(s) for unknown action(s): {', '.join(unknown)}")
    no_menu = sorted({spec.menu for spec in specs} - set(menus))
    if no_menu:
        raise KeyError(f"no menu for: {', '.join(no_menu)}")

    actions: dict[str, QAction] = {}
    for spec in specs:
        action = QAction(spec.text, parent)
        action.setObjectName(f"action_{spec.name}")
        sequences = key_sequences(spec)
        if sequences:
            action.setShortcuts(sequences)
        if spec.tip:
            action.setStatusTip(spec.tip)
            action.setToolTip(spec.tip)
        handler = handlers[spec.name]
        # triggered(bool) would pass `checked` to a handler that takes no argument.
        action.triggered.connect(lambda _checked=False, run=handler: run())
        menu = menus[spec.menu]
        if spec.separator_before:
            menu.addSeparator()
        menu.addAction(action)
        actions[spec.name] = action
    return actions


def update_enabled(
    actions: Mapping[str, QAction],
    conditions: Mapping[str, bool],
    specs: Iterable[ActionSpec] = MENU_ACTIONS,
) -> None:
    """Enable each action whose ``enabled_when`` condition holds; always-on ones stay on.

    Raises:
        KeyError: ``conditions`` lacks a condition some action in ``actions`` needs.
    """
    for spec in specs:
        action = actions.get(spec.name)
        if action is None:
            continue
        action.setEnabled(spec.enabled_when is None or conditions[spec.enabled_when])


def menu_key_help(specs: Iterable[ActionSpec] = MENU_ACTIONS) -> tuple[KeyHelp, ...]:
    """One help row per action with keys, as the platform shows them ("Ctrl+O")."""
    titles = dict(MENUS)
    rows: list[KeyHelp] = []
    for spec in specs:
        sequences = key_sequences(spec)
        if not sequences:
            continue
        keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences)
        rows.append(KeyHelp(keys, spec.plain_text, f"{titles[spec.menu]} menu"))
    return tuple(rows)


__all__ = [
    "CONDITIONS",
    "MENUS",
    "MENU_ACTIONS",
    "ActionSpec",
    "build_actions",
    "key_sequences",
    "menu_key_help",
    "update_enabled",
]
