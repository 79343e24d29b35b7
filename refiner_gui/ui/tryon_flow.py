"""The window's side of jobs that make their own coarse image (Try on Clothes Pro or
Premium, then the Refiner; :mod:`refiner_gui.jobs.two_stage`).

When the coarse slot is empty and the person photo and top are ready, Refine becomes
"Generate coarse, then refine"; "Generate coarse only" stops after the first call. The
model (Pro or Premium) is chosen under the button and remembered in the settings. Before
a job starts its cost is shown (and checked against the credit balance once it is
known). While it runs, the stage line says which of the two calls it is at; once it
succeeds the generated coarse image goes into the coarse slot (a first-class input, ready
to be refined again), and the viewer can compare any two of person, coarse and refined.

A helper of :class:`~refiner_gui.ui.window_content.WindowContent`, which calls it from
``update_actions``, ``start_job``, progress and success. GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QMessageBox,
    QPushButton,
    QWidget,
)

from refiner_gui.api import ProgressEvent
from refiner_gui.api.models import Stage
from refiner_gui.jobs import Job, JobState
from refiner_gui.jobs.two_stage import COSTS, MODEL_NAMES, job_cost
from refiner_gui.settings import save_settings
from refiner_gui.slots import BOTTOM, COARSE, PERSON, SLOTS, TOP
from refiner_gui.threads import run_task
from refiner_gui.ui.eliding_combo import ElidingComboBox
from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.job_status import STAGE_TEXT
from refiner_gui.ui.running_preview import (
    GENERATED_CAPTION,
    GENERATING_CAPTION,
    GENERATING_ONLY_CAPTION,
)
from refiner_gui.workers import JobOutcome, JobRequest, load_image
from refiner_gui.zoom_levels import scaled_levels

if TYPE_CHECKING:
    from refiner_gui.ui.inputs_panel import InputsPanel
    from refiner_gui.ui.window_content import WindowContent

log = logging.getLogger(__name__)

GENERATE_TEXT = "Generate coarse, then refine"
MODEL_LABELS = {
    "pro": "Coarse by Try on Clothes Pro (~40 s, 30 credits)",
    "premium": "Coarse by Try on Clothes Premium (~80 s, 50 credits)",
}
# Which two images the viewer compares (left, right), by the selector's entries.
PAIRS = {
    "Coarse → Refined": ("coarse", "refined"),
    "Person → Coarse": ("person", "coarse"),
    "Person → Refined": ("person", "refined"),
}
DEFAULT_PAIR = "Coarse → Refined"


def can_generate(inputs: InputsPanel, *, need_gender: bool) -> bool:
    """Whether a job that makes its coarse image can start from ``inputs``: the coarse
    slot is empty, the person photo and top are checked OK, the bottom (if any) too, and
    (to refine afterwards) a gender is chosen."""
    if inputs.original_path(COARSE) is not None:
        return False
    for slot in (PERSON, TOP):
        report = inputs.report(slot)
        if report is None or not report.ok:
            return False
    if inputs.original_path(BOTTOM) is not None:
        report = inputs.report(BOTTOM)
        if report is None or not report.ok:
            return False
    return not need_gender or inputs.gender() is not None


def only_possible(inputs: InputsPanel) -> bool:
    """Whether the coarse image could be generated now (gender not needed yet)."""
    return can_generate(inputs, need_gender=False)


def cost_message(kind: str, model: str, balance: float | None) -> tuple[str, bool]:
    """The confirmation's text for a job of ``kind`` with ``model``, and whether the
    balance (when known) covers it."""
    cost = job_cost(kind, model)
    if kind == "tryon_refine":
        what = (
            f"This makes the coarse image with {MODEL_NAMES[model]} ({COSTS[model]} credits), "
            f"then refines it ({COSTS['refiner']} credits): {cost} credits in all"
        )
    else:
        what = f"This makes the coarse image with {MODEL_NAMES[model]}: {cost} credits"
    text = what + ", charged only for calls that succeed."
    if balance is None:
        return text + " (Your balance is not known yet.)", True
    enough = balance >= cost
    text += f" Your balance: {balance:,.0f} credits."
    if not enough:
        text += " That is not enough: top up your AILabTools account first."
    return text, enough


def stage_line(event: ProgressEvent, model: str | None) -> str:
    """The stage line of a two-stage job: "Step 1 of 2 · coarse image (Pro) · Uploading 40%"."""
    text = STAGE_TEXT.get(event.stage, event.stage.value)
    if event.bytes_total and event.bytes_done is not None:
        text += f" {event.bytes_done * 100 // max(event.bytes_total, 1)}%"
    if event.step == "tryon":
        name = f" ({MODEL_NAMES[model].removeprefix('Try on Clothes ')})" if model else ""
        text = text.replace("Refining", "Generating")
        return f"Step 1 · coarse image{name} · {text}"
    return f"Step 2 · refinement · {text}"


class TryOnFlow(QObject):
    """The model choice, "Generate coarse only", the cost check and the compare selector.

    ``confirm(text) -> bool`` and ``warn(text)`` ask the user (modal message boxes by
    default; tests replace them).
    """

    def __init__(self, content: WindowContent) -> None:
        super().__init__(content)
        self.content = content
        p = content.parts
        self.balance: float | None = None
        self._balance_asked = False
        self._model_of_run: str | None = None
        self._preview_step: tuple[int | None, str] | None = None  # (run id, stage) shown
        self._person: tuple[int, QImage, tuple[QImage, ...]] | None = None  # job id, image
        self.confirm: Callable[[str], bool] = self._ask
        self.warn: Callable[[str], None] = self._tell

        self.bar = QWidget()
        row = FlowLayout(self.bar)  # wraps in a narrow inputs column (and the strip)
        # As wide as its longest label when there is room (the button then wraps under
        # it); in the inputs strip its text is cut short with "…" (the list shows all).
        self.model_box = ElidingComboBox()
        self.model_box.setAccessibleName("Coarse image model")
        self.model_box.setToolTip("Which try-on makes the coarse image when its slot is empty")
        for model, label in MODEL_LABELS.items():
            self.model_box.addItem(label, model)
        chosen = content.settings.tryon_model
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(chosen)))
        self.model_box.currentIndexChanged.connect(self._remember_model)
        self.coarse_only = QPushButton("Generate coarse only")
        self.coarse_only.setAccessibleName("Generate coarse only")
        self.coarse_only.clicked.connect(self.start_coarse_only)
        row.addWidget(self.model_box)
        row.addWidget(self.coarse_only)
        left = p.refine_button.parentWidget().layout()  # type: ignore[union-attr]
        assert isinstance(left, QBoxLayout)
        left.insertWidget(left.indexOf(p.refine_button) + 1, self.bar)

        self.pair_box = QComboBox()
        self.pair_box.setAccessibleName("Compare which images")
        self.pair_box.setToolTip("Which two images the viewer compares")
        self.pair_box.addItems(list(PAIRS))
        self.pair_box.currentTextChanged.connect(self._show_pair)
        bar_layout = p.result_bar.layout()
        assert isinstance(bar_layout, FlowLayout)  # the result bar wraps (window_layout)
        bar_layout.insertWidget(0, self.pair_box)
        content.review.shown.connect(self._new_result)

    # -- state ---------------------------------------------------------------------------

    def model(self) -> str:
        """The chosen try-on model: "pro" or "premium"."""
        return str(self.model_box.currentData() or "pro")

    def can_start(self) -> bool:
        """Whether Refine now means "Generate coarse, then refine"."""
        return can_generate(self.content.parts.inputs, need_gender=True)

    def update_actions(self, *, running: bool, key_ok: bool) -> None:
        """Re-label Refine when it would generate the coarse image; enable the bar."""
        p = self.content.parts
        inputs = p.inputs
        self.model_box.setEnabled(not running)
        only = not running and key_ok and can_generate(inputs, need_gender=False)
        self.coarse_only.setEnabled(only)
        self.coarse_only.setToolTip(
            cost_message("tryon", self.model(), self.balance)[0]
            if only
            else "Add a person photo and a top (and leave the coarse slot empty)"
        )
        if running or inputs.readiness().ready or not only_possible(inputs):
            return
        p.refine_button.setText(GENERATE_TEXT)
        ready = key_ok and self.can_start()
        p.refine_button.setEnabled(ready)
        if inputs.gender() is None:
            tip = "Choose Woman or Man for the refinement (or use Generate coarse only)"
        elif not key_ok:
            tip = p.refine_button.toolTip()  # the window's own words about the key
        else:
            tip = cost_message("tryon_refine", self.model(), self.balance)[0] + " (Ctrl+Enter)"
        p.refine_button.setToolTip(tip)
        if p.error_panel.isHidden() and self.content.shown is None:
            p.stage_label.setText(
                f"Ready to generate the coarse image, then refine "
                f"({job_cost('tryon_refine', self.model())} credits)."
                if ready
                else tip
            )
        if ready:
            self.content.menus.update(
                can_refine=True, running=False, has_result=self.content.shown is not None
            )
        if key_ok:
            self._ask_balance()

    # -- starting ------------------------------------------------------------------------

    def start(self, *, parent_id: int | None = None, coarse_only: bool = False) -> bool:
        """Confirm the cost, then start the job; False when not startable or declined."""
        content = self.content
        inputs = content.parts.inputs
        if not can_generate(inputs, need_gender=not coarse_only):
            return False
        model = self.model()
        kind = "tryon" if coarse_only else "tryon_refine"
        text, enough = cost_message(kind, model, self.balance)
        if not enough:
            self.warn(text)
            return False
        if not self.confirm(text):
            return False
        files = {s: inputs.path(s) for s in SLOTS if s != COARSE}
        request = JobRequest(
            {s: path for s, path in files.items() if path is not None},
            inputs.gender() or "",
            parent_id=parent_id,
            generate_coarse=model,
            coarse_only=coarse_only,
        )
        return self.run(request)

    def run(self, request: JobRequest) -> bool:
        """Start ``request`` (a job that makes its coarse image; the cost already agreed
        to); False once shut down or while a job runs."""
        content = self.content
        if content.job_running() or content.jobs.is_closed():
            return False
        self._model_of_run = request.generate_coarse
        if not content._began(content.jobs.start(request), "Generating the coarse image", None):
            return False
        only = request.coarse_only  # no refined image is promised then
        content.preview.set_caption(GENERATING_ONLY_CAPTION if only else GENERATING_CAPTION)
        return True

    @Slot()
    def start_coarse_only(self) -> bool:
        """The "Generate coarse only" button."""
        if self.content.job_running() or self.content.jobs.is_closed():
            return False
        return self.start(coarse_only=True)

    # -- a running and a finished job ----------------------------------------------------

    def progressed(self, event: ProgressEvent) -> None:
        """Name the stage on the status line (after :class:`JobStatus` took the event);
        the running preview says what is coming, and shows the coarse image once made."""
        if event.step is None:
            return
        self.content.status.set_stage_text(stage_line(event, self._model_of_run))
        made = event.step == "refine" or event.stage is Stage.DONE
        step = (self.content.run_id, "made" if made else "making")
        if step == self._preview_step:
            return  # done once per stage of a run
        self._preview_step = step
        job = self._running_job()
        if job is None or job.tryon is None:
            return
        preview = self.content.preview
        coarse = job.input_path(COARSE)
        if not made:
            coarse_only = job.kind == "tryon"
            preview.set_caption(GENERATING_ONLY_CAPTION if coarse_only else GENERATING_CAPTION)
        elif job.kind == "tryon_refine" and coarse is not None:
            preview.set_coarse(coarse, GENERATED_CAPTION)

    def _running_job(self) -> Job | None:
        """The window's running job as stored now (None before it is created)."""
        job_id = self.content.job_id
        if job_id is None:
            return None
        try:
            return self.content.store.get(job_id)
        except KeyError:
            return None

    def succeeded(self, outcome: JobOutcome) -> None:
        """A job that made its coarse image: put it in the coarse slot (ready to be refined
        again); a "coarse only" job is shown as person → coarse."""
        job = outcome.job
        if job.tryon is None:
            return
        coarse = job.input_path(COARSE)
        if coarse is not None:
            self.content.parts.inputs.set_file(COARSE, coarse)
        shown = self.content.shown
        if job.kind == "tryon" and shown is not None and shown.job.id == job.id:
            self.pair_box.setCurrentText("Person → Coarse")
            self.content.window.statusBar().showMessage(
                "Coarse image ready: it is in the coarse slot; press Refine to refine it.", 8000
            )

    def failed(self, job_id: int | None) -> None:
        """A job whose refinement failed after its coarse image was made: the coarse image
        is kept, and goes into the coarse slot (Refine then retries only the refinement)."""
        if job_id is None:
            return
        try:
            job = self.content.store.get(job_id)
        except KeyError:
            return
        coarse = job.input_path(COARSE)
        if job.kind != "tryon_refine" or not job.tryon_done or job.state is JobState.SUBMITTED:
            return
        if coarse is not None and self.content.parts.inputs.original_path(COARSE) is None:
            self.content.parts.inputs.set_file(COARSE, coarse)
            self.content.window.statusBar().showMessage(
                "The coarse image was kept: it is in the coarse slot. Press Refine to try "
                "only the refinement again.",
                15_000,
            )

    # -- the compare selector ------------------------------------------------------------

    @Slot(int)
    def _new_result(self, _job_id: int) -> None:
        blind = self.content.parts.review_bar.blind()
        self.pair_box.setEnabled(not blind)
        if self.pair_box.currentText() != DEFAULT_PAIR:
            self.pair_box.blockSignals(True)
            self.pair_box.setCurrentText(DEFAULT_PAIR)
            self.pair_box.blockSignals(False)

    @Slot(str)
    def _show_pair(self, name: str) -> None:
        outcome = self.content.shown
        if outcome is None or name not in PAIRS:
            return
        if "person" in PAIRS[name]:
            person = outcome.job.input_path(PERSON)
            if person is None:
                return
            if self._person is None or self._person[0] != outcome.job.id:
                job_id = outcome.job.id
                run_task(
                    lambda: _load_with_levels(person),
                    lambda loaded: self._person_loaded(job_id, loaded),
                    owner=self,
                )
                return
        self._display(name)

    def _person_loaded(self, job_id: int, loaded: tuple[QImage, tuple[QImage, ...]]) -> None:
        self._person = (job_id, *loaded)
        shown = self.content.shown
        if shown is not None and shown.job.id == job_id:
            self._display(self.pair_box.currentText())

    def _display(self, name: str) -> None:
        outcome = self.content.shown
        if outcome is None:
            return
        pictures = {
            "coarse": (outcome.coarse, outcome.coarse_levels),
            "refined": (outcome.refined, outcome.refined_levels),
        }
        if self._person is not None and self._person[0] == outcome.job.id:
            pictures["person"] = (self._person[1], self._person[2])
        left, right = PAIRS[name]
        if left not in pictures or right not in pictures:
            return
        viewer = self.content.viewer
        (left_image, left_levels), (right_image, right_levels) = pictures[left], pictures[right]
        viewer.set_images(left_image, right_image, left_levels, right_levels)
        viewer.set_labels(left.title(), right.title())

    # -- settings, balance, dialogs ------------------------------------------------------

    @Slot(int)
    def _remember_model(self, _index: int) -> None:
        settings = self.content.settings
        if settings.tryon_model != self.model():
            settings.tryon_model = self.model()
            save_settings(settings)
        self.content.update_actions()

    def _ask_balance(self) -> None:
        """Learn the credit balance once (a credits query on the thread pool)."""
        if self._balance_asked:
            return
        self._balance_asked = True
        factory = self.content.jobs.client_factory

        def query() -> float | None:
            from refiner_gui.ui.key_test import universal_balance

            client = factory()
            try:
                best = universal_balance(client.credits())
            finally:
                client.close()
            return None if best is None else float(best.balance)

        run_task(query, self._on_balance, self._on_balance_error, owner=self)

    def _on_balance(self, balance: float | None) -> None:
        self.balance = balance
        self.content.update_actions()

    def _on_balance_error(self, exc: Exception) -> None:
        log.info("credit balance unknown: %s", type(exc).__name__)

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self.content.window, "Start this job?", text)
        return answer == QMessageBox.StandardButton.Yes

    def _tell(self, text: str) -> None:
        QMessageBox.warning(self.content.window, "Not enough credits", text)


def _load_with_levels(path: Path) -> tuple[QImage, tuple[QImage, ...]]:
    """The person photo and its zoom levels, decoded on a pool thread."""
    image = load_image(path)
    return image, scaled_levels(image)
