"""The result viewer's toolbar: mode buttons, zoom controls and the difference threshold.

A view only: :class:`ViewerToolbar` builds and lays out the controls; the
:class:`~refiner_gui.ui.viewer.compare_view.CompareViewer` connects them and keeps them in
step with what it shows. GUI thread only.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.viewer.modes import ViewMode

MODE_TIPS = {
    ViewMode.SIDE_BY_SIDE: "Both images next to each other; zoom and pan move both.",
    ViewMode.SWIPE: "Refined over coarse with a divider you drag to wipe between them.",
    ViewMode.FLICKER: "One image at a time in the same place; Space (or this button) switches.",
    ViewMode.DIFFERENCE: "Heatmap of where the refined image differs from the coarse one.",
}


class ViewerToolbar(QWidget):
    """One row: a checkable button per :class:`ViewMode` (exclusive, ids in ViewMode
    order), zoom out / level / zoom in / Fit / 1:1, and at the right the threshold slider
    (0-255) with its value, which the viewer shows in Difference mode only.

    Args:
        threshold: the slider's initial value.
    """

    def __init__(self, threshold: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Viewer toolbar")
        # Three groups that wrap onto a second row in a narrow window.
        row = FlowLayout(self, spacing=16)
        row.setContentsMargins(6, 4, 6, 4)
        modes_box, modes_row = _group()
        zoom_box, zoom_row = _group()

        self.mode_group = QButtonGroup(self)
        self.mode_group.setExclusive(True)
        self.mode_buttons: dict[ViewMode, QToolButton] = {}
        shortcuts_hint = {ViewMode.FLICKER: " (Space switches)"}
        for index, mode in enumerate(ViewMode):
            button = QToolButton()
            button.setText(mode.value)
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAccessibleName(f"{mode.value} mode")
            button.setToolTip(MODE_TIPS[mode] + shortcuts_hint.get(mode, ""))
            self.mode_group.addButton(button, index)
            self.mode_buttons[mode] = button
            modes_row.addWidget(button)
        self.zoom_out_button = _tool_button("\u2212", "Zoom out", "Zoom out (-)")
        self.zoom_label = QLabel("100 %")
        self.zoom_label.setAccessibleName("Zoom level")
        self.zoom_label.setToolTip("Current zoom; 100 % shows every image pixel")
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("8888 %"))
        self.zoom_in_button = _tool_button("+", "Zoom in", "Zoom in (+)")
        self.fit_button = _tool_button("Fit", "Fit to window", "Fit the image into the view (0)")
        self.actual_button = _tool_button(
            "1:1", "Actual size", "Show at actual size, one image pixel per screen pixel (1)"
        )
        for widget in (
            self.zoom_out_button,
            self.zoom_label,
            self.zoom_in_button,
            self.fit_button,
            self.actual_button,
        ):
            zoom_row.addWidget(widget)
        row.addWidget(modes_box)
        row.addWidget(zoom_box)
        row.addWidget(self._build_threshold_box(threshold))

    def _build_threshold_box(self, threshold: int) -> QWidget:
        self.threshold_box = QWidget()
        box = QHBoxLayout(self.threshold_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(6)
        caption = QLabel("Threshold")
        self.threshold_slider = slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 255)
        slider.setValue(threshold)
        slider.setPageStep(8)
        slider.setMinimumWidth(160)
        slider.setAccessibleName("Difference threshold")
        slider.setToolTip(
            "Differences up to this level (0-255, largest channel) count as unchanged; "
            "raise it to ignore compression noise."
        )
        caption.setBuddy(slider)
        caption.setToolTip(slider.toolTip())
        caption.setAccessibleName("Threshold")
        self.threshold_value = QLabel(str(threshold))
        self.threshold_value.setAccessibleName("Threshold value")
        self.threshold_value.setToolTip("Current difference threshold")
        self.threshold_value.setMinimumWidth(
            self.threshold_value.fontMetrics().horizontalAdvance("888")
        )
        box.addWidget(caption)
        box.addWidget(slider)
        box.addWidget(self.threshold_value)
        return self.threshold_box


def _group() -> tuple[QWidget, QHBoxLayout]:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(4)
    return box, row


def _tool_button(text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setAutoRaise(True)
    button.setAccessibleName(name)
    button.setToolTip(tip)
    return button
