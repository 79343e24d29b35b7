"""The window's left column: the scrolled input slots, collapsible to a strip of thumbnails.

Only layout: :class:`InputsColumn` holds the :class:`~refiner_gui.ui.inputs_panel.InputsPanel`
in a vertical-only scroll area, a toggle that collapses the slots to a one-column strip
(and gives the width back to the viewer), and below them what must stay in view however
far the slots are scrolled: the gender choice, Refine and the job's status.
GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.slots import SLOTS
from refiner_gui.ui.inputs_panel import InputsPanel
from refiner_gui.ui.skeleton import LEFT_WIDTH

COLLAPSE_TEXT = "\u25c0 Strip"
EXPAND_TEXT = "\u25b6 Full"


class InputsScroll(QScrollArea):
    """A scroll area that scrolls only up and down: it asks for the panel's minimum width
    (plus the vertical scroll bar), so the panel is never cut off at the side."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """The panel's minimum width and a small height (the rest scrolls)."""
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        frame = 2 * self.frameWidth()
        return QSize(inner.minimumSizeHint().width() + bar + frame, hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """As wide as the panel would like."""
        hint = super().sizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        return QSize(max(inner.sizeHint().width(), self.minimumSizeHint().width()), hint.height())


class InputsColumn(QWidget):
    """The left column. ``compactChanged(bool)`` follows the strip toggle (the window
    remembers it). The column resizes its splitter pane when toggled, never the window."""

    compactChanged = Signal(bool)

    def __init__(self, inputs: InputsPanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.inputs = inputs
        self._wide_width = 0  # the pane's width before it was collapsed

        self.toggle = QToolButton()
        self.toggle.setObjectName("inputsToggle")
        self.toggle.setCheckable(True)
        self.toggle.setText(COLLAPSE_TEXT)
        self.toggle.setAccessibleName("Collapse inputs")
        self.toggle.setToolTip(
            "Collapse the inputs to a strip of thumbnails, leaving the room to the viewer"
        )
        self.toggle.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.toggle.toggled.connect(self._on_toggled)
        title = QLabel("Inputs")
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        title.setMinimumWidth(1)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(title, 1)
        header.addWidget(self.toggle)

        self.scroll_area = InputsScroll()
        self.scroll_area.setObjectName("inputsScroll")
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        # The panel reflows to the width it gets; sideways scrolling would only hide slots.
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(inputs)

        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(8, 8, 8, 8)
        self.layout_.addLayout(header)
        self.layout_.addWidget(self.scroll_area, 1)
        # Always in view below the scrolled slots: the hint asks for it when it is unset.
        gender = inputs.take_gender_row()
        self.layout_.addWidget(gender)
        # Moving it reset its place in the Tab order: it follows the last slot again.
        previous: QWidget = inputs.slot_view(SLOTS[-1])
        for button in gender.findChildren(QRadioButton):
            QWidget.setTabOrder(previous, button)
            previous = button

    def add_below(self, widget: QWidget) -> None:
        """Add ``widget`` under the slots (Refine, progress, status), always in view."""
        self.layout_.addWidget(widget)

    def insert_above(self, widget: QWidget) -> None:
        """Add ``widget`` above the slots (the demo banner)."""
        self.layout_.insertWidget(0, widget)

    def is_compact(self) -> bool:
        """Whether the slots are collapsed to a strip."""
        return self.inputs.compact

    def set_compact(self, compact: bool) -> None:
        """Collapse (True) or expand the slots; the same as pressing the toggle."""
        self.toggle.setChecked(compact)

    def wide_width(self) -> int:
        """The pane's width when expanded: now, or before it was collapsed (0: unknown)."""
        return (self._wide_width or LEFT_WIDTH) if self.is_compact() else self.width()

    def set_wide_width(self, width: int) -> None:
        """The width to expand back to (a remembered one)."""
        self._wide_width = max(0, width)

    @Slot(bool)
    def _on_toggled(self, compact: bool) -> None:
        splitter = self.parentWidget()
        sizes = splitter.sizes() if isinstance(splitter, QSplitter) else []
        if compact and len(sizes) == 2:
            self._wide_width = sizes[0]
        self.inputs.set_compact(compact)
        self.toggle.setText(EXPAND_TEXT if compact else COLLAPSE_TEXT)
        self.toggle.setAccessibleName("Expand inputs" if compact else "Collapse inputs")
        self.toggle.setToolTip(
            "Show the inputs in full: file names, sizes and rules"
            if compact
            else "Collapse the inputs to a strip of thumbnails, leaving the room to the viewer"
        )
        if isinstance(splitter, QSplitter) and len(sizes) == 2:
            total = sum(sizes)
            # The panel sits in the scroll area's viewport, outside this layout: tell the
            # scroll area its minimum changed, and measure again now.
            self.scroll_area.updateGeometry()
            self.layout_.invalidate()
            splitter.updateGeometry()  # and the window's layout, which caches the splitter's
            left = 0 if compact else self._wide_width or LEFT_WIDTH
            left = max(left, self.minimumSizeHint().width())
            if left and total > left:
                splitter.setSizes([left, total - left])
        self.compactChanged.emit(compact)
