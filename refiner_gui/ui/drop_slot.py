"""One input slot: a drop target that shows a thumbnail, the file's facts and its verdict.

A :class:`DropSlot` is a view. It turns what the user does (drop, click, Enter/Space,
Ctrl+V, ×, Fix) into signals and draws what its controller tells it to; it never reads
files, checks images or starts work. All methods run on the GUI thread.

What counts as an input is decided in :mod:`~refiner_gui.ui.drop_mime`; several files at
once are handed on whole (``filesDropped``) for the window to assign by role, and a slot's
thumbnail can be dragged onto another slot to swap the two (``swapRequested``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.safe_text import plain_tooltip
from refiner_gui.ui.drop_mime import classify_mime, dragged_slot, local_files
from refiner_gui.ui.key_help import KeyHelp
from refiner_gui.ui.slot_drag import start_slot_drag
from refiner_gui.ui.slot_look import (
    BUSY,
    COMPACT_SLOT,
    ERROR,
    NONE,
    OK,
    PROBLEM,
    fit_thumbnail,
    status_colour,
    wrap_in_given_width,
)

IMAGE_FILTER = (
    "Images (*.jpg *.jpeg *.png *.bmp *.webp *.heic *.heif *.tif *.tiff *.gif);;All files (*)"
)
"""Browse filter: the formats the service takes plus those Fix can convert."""

THUMB_HEIGHT = 170
"""Logical height of the thumbnail area; decode thumbnails at about twice this for 2x screens."""

MIN_WIDTH = 190
"""Narrowest a slot gets: two fit side by side in the window's input column."""

DROP_SLOT_KEYS: tuple[KeyHelp, ...] = (
    KeyHelp("Enter or Space", "Choose a file for the slot", "Input slot (when it has the focus)"),
    KeyHelp("Ctrl+V", "Paste a picture, file or web address", "Input slot (when it has the focus)"),
    KeyHelp("Delete or Backspace", "Empty the slot", "Input slot (when it has the focus)"),
)
"""The keys :meth:`DropSlot.keyPressEvent` handles, for the keyboard help."""


class DropSlot(QFrame):
    """A labelled drop target for one input image.

    Signals (GUI thread):
        fileDropped(Path): a local file was dropped, pasted or chosen with the file dialog.
        urlDropped(str): an http(s) address was dropped or pasted; the controller fetches it.
        imageDropped(QImage): raw image data was dropped or pasted; the controller saves it.
        clearRequested(): the user pressed × (or Delete).
        fixRequested(): the user pressed Fix.
        filesDropped(list[Path]): several local files arrived at once (not fileDropped).
        swapRequested(str): another slot's thumbnail (that slot's key) was dropped here.
    """

    fileDropped = Signal(object)
    urlDropped = Signal(str)
    imageDropped = Signal(QImage)
    clearRequested = Signal()
    fixRequested = Signal()
    filesDropped = Signal(list)
    swapRequested = Signal(str)

    def __init__(
        self, title: str, subject: str, parent: QWidget | None = None, *, key: str = ""
    ) -> None:
        """``title`` is the visible label ("Person photo"); ``subject`` names the image in
        accessible names and tooltips ("person photo"); ``key`` (the slot's name) lets its
        thumbnail be dragged onto another slot."""
        super().__init__(parent)
        self._key = key
        self._press: QPoint | None = None
        self._preview = "empty"  # "empty", "loading", "shown" or "none" (no preview)
        self._title = title
        self._subject = subject
        self._locked = False
        self._drag_over = False
        self._has_content = False
        self._highlight: str | None = None
        self._verdict_kind = NONE
        self._source: QPixmap | None = None
        self._browse_dir = ""
        self.compact = False  # the small look of the inputs strip (see set_compact)

        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(title)
        self.setAccessibleDescription(
            f"Drop the {subject} here, press Enter to choose a file, or paste with Ctrl+V."
        )
        self.setToolTip(
            f"Drop the {subject} here (a file, a picture or a web address),\n"
            "click to choose a file, or paste with Ctrl+V. Drag it onto another slot to swap."
        )
        self.setMinimumWidth(MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

        self._title_label = QLabel(title)
        font = self._title_label.font()
        font.setBold(True)
        self._title_label.setFont(font)
        self._title_label.setWordWrap(True)  # "Top garment (or dress)" in a narrow column
        wrap_in_given_width(self._title_label)
        self._title_label.setAccessibleName(f"{title} label")

        self._clear_button = QToolButton()
        self._clear_button.setText("×")
        self._clear_button.setAutoRaise(True)
        self._clear_button.setCursor(Qt.CursorShape.ArrowCursor)
        self._clear_button.setAccessibleName(f"Clear {subject}")
        self._clear_button.setToolTip(f"Remove the {subject} (Delete)")
        self._clear_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self._clear_button.clicked.connect(self.clearRequested)
        self._clear_button.hide()

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self._title_label, 1)
        header.addWidget(self._clear_button)

        self._highlight_label = self._wrapped_label(f"Message about the {subject}")
        self._highlight_label.hide()

        self._thumb = QLabel()
        self._thumb.setTextFormat(Qt.TextFormat.PlainText)
        self._thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._thumb.setFixedHeight(THUMB_HEIGHT)
        self._thumb.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._thumb.setWordWrap(True)
        self._thumb.setAccessibleName(f"Preview of the {subject}")

        self._name_label = QLabel()
        self._name_label.setTextFormat(Qt.TextFormat.PlainText)
        self._name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._name_label.setAccessibleName(f"File name of the {subject}")
        self._info_label = self._wrapped_label(f"Size of the {subject}")
        self._verdict_label = self._wrapped_label(f"Check result for the {subject}")
        self._verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        self._fix_button = QPushButton("Fix")
        self._fix_button.setCursor(Qt.CursorShape.ArrowCursor)
        self._fix_button.setAccessibleName(f"Fix {subject}")
        self._fix_button.setToolTip(
            f"Make a copy of the {subject} that the service accepts.\n"
            "The original file is not changed."
        )
        self._fix_button.clicked.connect(self.fixRequested)
        self._fix_button.hide()
        fix_row = QHBoxLayout()
        fix_row.setContentsMargins(0, 0, 0, 0)
        fix_row.addWidget(self._fix_button)
        fix_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self._highlight_label)
        layout.addWidget(self._thumb)
        layout.addWidget(self._name_label)
        layout.addWidget(self._info_label)
        layout.addWidget(self._verdict_label)
        layout.addLayout(fix_row)
        layout.addStretch(1)

        self.show_empty()

    @staticmethod
    def _wrapped_label(accessible_name: str) -> QLabel:
        label = QLabel()
        label.setTextFormat(Qt.TextFormat.PlainText)  # messages quote files and services
        label.setWordWrap(True)
        label.setAccessibleName(accessible_name)
        wrap_in_given_width(label)
        return label

    # -- what the controller tells the view to show ----------------------------------------

    def title(self) -> str:
        return self._title

    def has_content(self) -> bool:
        """True when a file (or a download in progress) occupies the slot."""
        return self._has_content

    def show_empty(self, error: str | None = None) -> None:
        """Back to the empty look; ``error`` (plain words) is shown as why it is empty."""
        self._has_content = False
        self._source = None
        self._thumb.setPixmap(QPixmap())
        self._thumb.setText("Drop an image here\nor click to choose a file")
        self._preview = "empty"
        self._set_muted(self._thumb)
        self._name_label.clear()
        self._name_label.setToolTip("")
        self._name_label.hide()
        self._info_label.clear()
        self._info_label.hide()
        self._clear_button.setVisible(error is not None)
        if error:
            self.set_verdict(ERROR, error)
        else:
            self.set_verdict(NONE, "")
        self.update()

    def show_busy_empty(self, text: str) -> None:
        """A slot waiting for its file (downloading, saving pasted data): no file yet."""
        self.show_empty()
        self._has_content = True
        self._clear_button.show()
        self._thumb.setText(text)
        self.set_verdict(BUSY, text)

    def show_file(self, name: str, tooltip: str) -> None:
        """A file occupies the slot: show its name (``tooltip``: the full path)."""
        self._has_content = True
        self._clear_button.show()
        metrics = self._name_label.fontMetrics()
        width = max(60, self._name_label.width() or self.width() - 24)
        self._name_label.setText(metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width))
        self._name_label.setProperty("full_name", name)
        self._name_label.setToolTip(plain_tooltip(tooltip))
        self._name_label.setVisible(not self.compact)
        if self._preview == "empty":  # a new file; a failed preview stays "No preview"
            self._preview = "loading"
            self._thumb.setText("Loading preview…")
        self.update()

    def set_details(self, text: str) -> None:
        """The facts line, e.g. "JPEG · 320×480 · 45 KB"; empty hides it."""
        self._info_label.setText(text)
        self._info_label.setVisible(bool(text) and not self.compact)

    def set_thumbnail(self, image: QImage | None) -> None:
        """Show ``image`` (already decoded near display size) or "No preview" when None/null.

        Builds the QPixmap here, on the GUI thread, as pixmaps require.
        """
        if image is None or image.isNull():
            self._source = None
            self._preview = "none"
            self._thumb.setPixmap(QPixmap())
            self._thumb.setText("No preview")
            self._set_muted(self._thumb)
            return
        self._source = QPixmap.fromImage(image)
        self._preview = "shown"
        self._thumb.setText("")
        self._update_thumbnail()

    def set_verdict(
        self, kind: str, text: str, *, fixable: bool = False, tooltip: str = ""
    ) -> None:
        """Show the pre-flight verdict: ``kind`` is one of NONE, BUSY, OK, PROBLEM, ERROR.

        ``fixable`` shows the Fix button (only for PROBLEM); ``tooltip`` can list every
        problem when the text shows only the first.
        """
        self._verdict_kind = kind
        self._verdict_label.setText(text)
        self._verdict_label.setToolTip(plain_tooltip(tooltip))
        self._apply_verdict_colour()
        self._fix_button.setVisible(kind == PROBLEM and fixable)
        self._fix_button.setEnabled(not self._locked)

    def verdict_text(self) -> str:
        return self._verdict_label.text()

    def verdict_shown(self) -> bool:
        """Whether the verdict line is on screen (hidden when empty or outranked)."""
        return not self._verdict_label.isHidden()

    def preview_text(self) -> str:
        """The thumbnail area's words ("Loading preview…", "No preview"), "" with a picture."""
        return self._thumb.text()

    def verdict_kind(self) -> str:
        return self._verdict_kind

    def details_text(self) -> str:
        return self._info_label.text()

    def name_text(self) -> str:
        """The full file name shown (not elided)."""
        value = self._name_label.property("full_name")
        return str(value) if value and self._name_label.isVisible() else ""

    def fix_visible(self) -> bool:
        return not self._fix_button.isHidden()

    def set_highlight(self, message: str | None) -> None:
        """Mark the slot red with ``message`` (the service rejected it); None clears."""
        self._highlight = message
        self._highlight_label.setText(message or "")
        self._highlight_label.setVisible(bool(message))
        pal = self._highlight_label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, status_colour(ERROR, self.palette()))
        self._highlight_label.setPalette(pal)
        self._apply_verdict_colour()
        self.setAccessibleDescription(
            message
            or f"Drop the {self._subject} here, press Enter to choose a file, or paste with Ctrl+V."
        )
        self.update()

    def highlight_message(self) -> str | None:
        return self._highlight

    def set_locked(self, locked: bool) -> None:
        """Refuse drops, clicks, paste, × and Fix while a job runs; the view stays readable."""
        self._locked = locked
        self.setAcceptDrops(not locked)
        self._clear_button.setEnabled(not locked)
        self._fix_button.setEnabled(not locked)
        self.setCursor(Qt.CursorShape.ArrowCursor if locked else Qt.CursorShape.PointingHandCursor)
        self.update()

    def is_locked(self) -> bool:
        return self._locked

    def set_browse_dir(self, folder: str) -> None:
        """Where the file dialog opens next time."""
        self._browse_dir = folder

    # -- user input --------------------------------------------------------------------------

    def route_mime(self, mime: QMimeData | None) -> bool:
        """Emit the signal for the best input in ``mime``; False when it holds none."""
        files = local_files(mime)
        if len(files) > 1:
            self.filesDropped.emit(files)
            return True
        found = classify_mime(mime)
        if found is None:
            return False
        kind, value = found
        if kind == "file":
            self.fileDropped.emit(value)
        elif kind == "image":
            self.imageDropped.emit(value)
        else:
            self.urlDropped.emit(value)
        return True

    def browse(self) -> None:
        """Open the file dialog; a chosen file is emitted as ``fileDropped``."""
        if self._locked:
            return
        # Looked up on the class at call time, so tests can patch getOpenFileName.
        chosen, _filter = QFileDialog.getOpenFileName(
            self, f"Choose the {self._subject}", self._browse_dir, IMAGE_FILTER
        )
        if chosen:
            self.fileDropped.emit(Path(chosen))

    def paste(self) -> bool:
        """Take the clipboard's file, picture or address. False when it holds none of them."""
        if self._locked:
            return False
        return self.route_mime(QGuiApplication.clipboard().mimeData())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        source = dragged_slot(mime)
        if self._locked or (source is None and classify_mime(mime) is None) or source == self._key:
            event.ignore()
            return
        event.acceptProposedAction()
        self._drag_over = True
        self.update()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._drag_over:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._drag_over = False
        self.update()
        super().dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self._drag_over = False
        self.update()
        source = dragged_slot(event.mimeData())
        if source is not None and not self._locked and source != self._key:
            event.acceptProposedAction()
            self.swapRequested.emit(source)
        elif not self._locked and self.route_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def is_drag_over(self) -> bool:
        return self._drag_over

    def mousePressEvent(self, event: QMouseEvent) -> None:
        left = event.button() == Qt.MouseButton.LeftButton
        self._press = event.position().toPoint() if left else None
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Dragging a slot's thumbnail (farther than a click wobbles) starts a swap drag."""
        if (
            self._press is not None
            and self._key
            and self._source is not None
            and not self._locked
            and (event.position().toPoint() - self._press).manhattanLength()
            >= QApplication.startDragDistance()
        ):
            self._press = None  # the release after a drag is not a click
            start_slot_drag(self, self._key, self._source)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed, self._press = self._press, None
        if (
            pressed is not None
            and event.button() == Qt.MouseButton.LeftButton
            and self.rect().contains(event.position().toPoint())
            and not self._locked
        ):
            event.accept()
            self.browse()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Paste):
            if self.paste():
                event.accept()
                return
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            if not self._locked:
                event.accept()
                self.browse()
                return
        elif (
            event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and self._has_content
            and not self._locked
        ):
            event.accept()
            self.clearRequested.emit()
            return
        super().keyPressEvent(event)

    # -- drawing -------------------------------------------------------------------------------

    def set_compact(self, compact: bool) -> None:
        """Compact: a small thumbnail, the title and the verdict (no name, no facts)."""
        self.compact = compact
        self.setMinimumWidth(COMPACT_SLOT.width() if compact else MIN_WIDTH)
        self._thumb.setFixedHeight(COMPACT_SLOT.height() if compact else THUMB_HEIGHT)
        for label in (self._name_label, self._info_label):
            label.setVisible(not compact and bool(label.text()))
        self._update_thumbnail()

    def sizeHint(self) -> QSize:
        return QSize(MIN_WIDTH + 30, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_thumbnail()
        full = self._name_label.property("full_name")
        if full and self._name_label.isVisible():
            metrics = self._name_label.fontMetrics()
            width = max(60, self._name_label.width())
            self._name_label.setText(
                metrics.elidedText(str(full), Qt.TextElideMode.ElideMiddle, width)
            )

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_verdict_colour()
            self.set_highlight(self._highlight)
            if self._source is None:
                self._set_muted(self._thumb)
        elif event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to a 2x screen
            self._update_thumbnail()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """A rounded border in palette colours: dashed while empty, the highlight colour
        while dragging over or focused, red while the service's complaint is shown."""
        super().paintEvent(event)
        pal = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = 1.0
        colour = pal.color(QPalette.ColorRole.Mid)
        style = Qt.PenStyle.SolidLine if self._has_content else Qt.PenStyle.DashLine
        fill: QColor | None = None
        if self._highlight:
            colour, width = status_colour(ERROR, pal), 2.0
        if self._drag_over:
            colour, width = pal.color(QPalette.ColorRole.Highlight), 2.0
            style = Qt.PenStyle.SolidLine
            fill = QColor(colour)
            fill.setAlpha(40)
        elif self.hasFocus() and not self._highlight:
            colour, width = pal.color(QPalette.ColorRole.Highlight), 2.0
        pen = QPen(colour, width, style)
        pen.setCosmetic(True)
        painter.setPen(pen)
        if fill is not None:
            painter.setBrush(fill)
        inset = width / 2 + 0.5
        rect = QRectF(self.rect()).adjusted(inset, inset, -inset, -inset)
        painter.drawRoundedRect(rect, 8, 8)
        if self._locked:
            # A light veil says "not now" without greying the picture out of recognition.
            veil = pal.color(QPalette.ColorRole.Window)
            veil.setAlpha(90)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(veil)
            painter.drawRoundedRect(rect, 8, 8)
        painter.end()

    def _update_thumbnail(self) -> None:
        """Scale the decoded image to the thumbnail area in device pixels, never enlarging."""
        if self._source is None:
            return
        area = self._thumb.contentsRect().size()
        self._thumb.setPixmap(fit_thumbnail(self._source, area, self.devicePixelRatioF()))

    def _apply_verdict_colour(self) -> None:
        # The service's complaint (red, above) outranks our own checks: never a green
        # "✓ OK" beside it.
        hidden = self._verdict_kind == OK and bool(self._highlight)
        self._verdict_label.setVisible(bool(self._verdict_label.text()) and not hidden)
        pal = self._verdict_label.palette()
        colour = status_colour(self._verdict_kind, self.palette())
        pal.setColor(QPalette.ColorRole.WindowText, colour)
        self._verdict_label.setPalette(pal)

    def _set_muted(self, label: QLabel) -> None:
        pal = label.palette()
        pal.setColor(
            QPalette.ColorRole.WindowText, self.palette().color(QPalette.ColorRole.PlaceholderText)
        )
        label.setPalette(pal)


__all__ = ["DropSlot", "IMAGE_FILTER", "NONE", "BUSY", "OK", "PROBLEM", "ERROR", "status_colour"]
