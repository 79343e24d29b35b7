"""The window's widgets and where they sit: inputs on the left, compare and history right.

Only layout: the widgets are made, placed and labelled here, and handed back as a
:class:`WindowParts`; what they do is wired by :mod:`refiner_gui.ui.window_content`.
GUI thread only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.jobs import JobStore
from refiner_gui.ui.error_panel import ErrorPanel
from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.history import HistoryPanel
from refiner_gui.ui.inputs_column import InputsColumn
from refiner_gui.ui.inputs_panel import InputsPanel
from refiner_gui.ui.review import ReviewBar
from refiner_gui.ui.skeleton import DEMO_BANNER_COLOUR, LEFT_WIDTH

PLACEHOLDER_TEXT = (
    "<h2>Coarse vs refined</h2>"
    "<p>Drop the person photo, the top garment and the coarse try-on result on the "
    "left, choose Woman or Man, then press <b>Refine</b> (Ctrl+Enter).</p>"
    "<p>The refined image appears here beside the coarse one: zoom with the wheel, "
    "drag to pan, and switch to Swipe, Flicker or Difference to judge it.</p>"
)

DEMO_TEXT = (
    "DEMO — results come from a local sandbox: the coarse image stamped SANDBOX. It is not "
    "the refiner model. No key, no network, no credits."
)

DEFAULT_SIZE = (1400, 860)
TASK_ID_SAMPLE = "8717b46612a6496883a3c211588466ae"
"""As wide as a task id: the widest word of the status and result lines (they wrap)."""


@dataclass
class WindowParts:
    """Every widget the window's logic talks to (all children of :attr:`root`)."""

    root: QSplitter
    inputs: InputsPanel
    refine_button: QPushButton
    progress: QProgressBar
    stage_label: QLabel
    error_panel: ErrorPanel
    placeholder: QLabel
    right_layout: QVBoxLayout
    review_bar: ReviewBar
    result_bar: QWidget
    save_button: QPushButton
    save_cmp_button: QPushButton
    copy_button: QPushButton
    folder_button: QPushButton
    result_label: QLabel
    compare_page: QWidget
    history: HistoryPanel
    tabs: QTabWidget
    inputs_column: InputsColumn


def build_parts(*, demo: bool, inputs_dir: Path, store: JobStore) -> WindowParts:
    """Make and lay out the window's content (not yet shown)."""
    inputs = InputsPanel(inputs_dir)
    refine = QPushButton("Refine")
    refine.setObjectName("refineButton")
    refine.setMinimumHeight(44)
    refine.setAccessibleName("Refine")
    # A font, not a style sheet: a style sheet takes the button's drawing away from the
    # style, which then ignores a dark palette (a white slab in a dark window).
    font = refine.font()
    font.setPointSizeF(13)
    font.setBold(True)
    refine.setFont(font)
    progress = QProgressBar()
    progress.setAccessibleName("Job progress")
    progress.setTextVisible(False)
    progress.setMaximumHeight(8)
    progress.hide()
    stage = QLabel("")
    stage.setTextFormat(Qt.TextFormat.PlainText)  # it shows error titles from the service
    stage.setAccessibleName("Job status")
    stage.setWordWrap(True)
    stage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    # A task id (it cannot wrap) is reserved from the start: a job that shows one must not
    # widen the inputs strip, and so the window.
    stage.setMinimumWidth(stage.fontMetrics().horizontalAdvance(TASK_ID_SAMPLE))

    left = InputsColumn(inputs)
    if demo:
        left.insert_above(_demo_banner())
    for below in (refine, progress, stage):
        left.add_below(below)

    placeholder = QLabel(PLACEHOLDER_TEXT)
    placeholder.setWordWrap(True)
    placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
    placeholder.setMargin(40)
    buttons, result_label, result_bar = _result_bar()
    review_bar = ReviewBar()
    review_bar.hide()
    compare = QWidget()
    cv = QVBoxLayout(compare)
    cv.setContentsMargins(0, 0, 0, 0)
    cv.addWidget(placeholder, 1)  # the viewer goes right after it, once built
    cv.addWidget(review_bar)
    cv.addWidget(result_bar)
    result_bar.hide()

    history = HistoryPanel(store)
    tabs = QTabWidget()
    tabs.setAccessibleName("Result and history")
    tabs.addTab(compare, "Compare")
    tabs.addTab(history, "History")
    tabs.setTabToolTip(0, "Coarse vs refined, with the QA review of the shown look")
    tabs.setTabToolTip(1, "Every job: open, review, re-run, delete, export")

    error_panel = ErrorPanel()
    right = QWidget()
    rv = QVBoxLayout(right)
    rv.setContentsMargins(0, 8, 8, 8)
    rv.addWidget(error_panel)
    rv.addWidget(tabs, 1)
    # What a result brings (its job line wraps down to a task id) is reserved from the
    # start, so the window's minimum does not grow when one arrives (Qt would widen it).
    right.setMinimumWidth(result_label.fontMetrics().horizontalAdvance(TASK_ID_SAMPLE) + 80)

    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, 0)
    splitter.setStretchFactor(1, 1)
    splitter.setSizes([LEFT_WIDTH, DEFAULT_SIZE[0] - LEFT_WIDTH])
    splitter.setChildrenCollapsible(False)
    save, save_cmp, copy, folder = buttons
    return WindowParts(
        root=splitter,
        inputs=inputs,
        refine_button=refine,
        progress=progress,
        stage_label=stage,
        error_panel=error_panel,
        placeholder=placeholder,
        right_layout=cv,
        review_bar=review_bar,
        result_bar=result_bar,
        save_button=save,
        save_cmp_button=save_cmp,
        copy_button=copy,
        folder_button=folder,
        result_label=result_label,
        compare_page=compare,
        history=history,
        tabs=tabs,
        inputs_column=left,
    )


def _demo_banner() -> QLabel:
    banner = QLabel(DEMO_TEXT)
    banner.setObjectName("demoBanner")
    banner.setWordWrap(True)
    banner.setAccessibleName("Demo mode notice")
    banner.setStyleSheet(
        f"#demoBanner {{ background: {DEMO_BANNER_COLOUR}; color: #222;"
        " padding: 6px; border-radius: 4px; font-weight: bold; }"
    )
    return banner


def _result_bar() -> tuple[tuple[QPushButton, ...], QLabel, QWidget]:
    bar = QWidget()
    # Wraps onto a second row in a narrow window rather than widening it.
    h = FlowLayout(bar, spacing=6)
    h.setContentsMargins(0, 0, 0, 0)
    specs = (
        ("Save refined…", "Save the refined image with its provenance (Ctrl+S)"),
        ("Save comparison…", "Save coarse and refined side by side as one image"),
        ("Copy", "Copy the refined image to the clipboard"),
        ("Open output folder", ""),
    )
    buttons = []
    for text, tip in specs:
        button = QPushButton(text)
        if tip:
            button.setToolTip(tip)
        button.setAccessibleName(text.rstrip("…"))
        h.addWidget(button)
        buttons.append(button)
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)  # two task ids (a try-on, then its refinement) are long
    h.addWidget(label, stretch=True)
    return tuple(buttons), label, bar
