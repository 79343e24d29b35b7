"""JobController with two-stage jobs: the coarse image made by Try on Clothes Pro/Premium,
then refined; progress names each stage with its own task id; re-runs reuse the coarse."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from refiner_gui.api.models import ProgressEvent
from refiner_gui.controllers import JobController
from refiner_gui.jobs import JobState
from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from refiner_gui.workers import JobRequest
from tests.test_job_controller import Log, factory, store  # noqa: F401 (fixture)


class Steps(QObject):
    """The (step, task id) pairs the controller's progress carried, in order."""

    def __init__(self, controller: JobController) -> None:
        super().__init__()
        self.seen: list[tuple[str | None, str | None]] = []
        controller.progressed.connect(self.progressed)

    @Slot(int, object)
    def progressed(self, _run: int, event: ProgressEvent) -> None:
        if event.task_id and (event.step, event.task_id) not in self.seen:
            self.seen.append((event.step, event.task_id))


def person_and_garments(job_images):
    return {PERSON: job_images["person"], TOP: job_images["top"], BOTTOM: job_images["bottom"]}


def test_generate_then_refine_reports_both_stages(qtbot, store, job_images):  # noqa: F811
    with SandboxServer(latency=0.1) as srv:
        controller = JobController(store, factory(srv))
        log, steps = Log(controller), Steps(controller)
        run = controller.start(
            JobRequest(person_and_garments(job_images), "woman", generate_coarse="premium")
        )
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 1}
    assert log.events[run] == ["started", "created", "succeeded", "ended"]
    job = log.outcomes[run].job  # type: ignore[attr-defined]
    assert job.state is JobState.SUCCEEDED and job.kind == "tryon_refine"
    assert steps.seen == [("tryon", job.tryon.task_id), ("refine", job.task_id)]


def test_rerun_reuses_the_generated_coarse_image(qtbot, store, job_images):  # noqa: F811
    with SandboxServer() as srv:
        controller = JobController(store, factory(srv))
        log = Log(controller)
        first = controller.start(
            JobRequest(person_and_garments(job_images), "man", generate_coarse="pro")
        )
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
        parent = log.outcomes[first].job  # type: ignore[attr-defined]
        again = controller.rerun(parent.id)
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
        # The re-run refined the stored coarse image: no second try-on was paid for.
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 2}
    child = log.outcomes[again].job  # type: ignore[attr-defined]
    assert child.kind == "refine" and child.parent_id == parent.id
    assert child.inputs[COARSE].sha256 == parent.inputs[COARSE].sha256


def test_coarse_only_and_a_failure_named_by_stage(qtbot, store, job_images):  # noqa: F811
    with SandboxServer() as srv:
        controller = JobController(store, factory(srv))
        log = Log(controller)
        only = controller.start(
            JobRequest(person_and_garments(job_images), "", generate_coarse="pro", coarse_only=True)
        )
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
        srv.inject(Fault("submit", "task_failed"))
        broken = controller.start(
            JobRequest(person_and_garments(job_images), "woman", generate_coarse="pro")
        )
        qtbot.waitUntil(lambda: not controller.is_busy(), timeout=30_000)
    made = log.outcomes[only].job  # type: ignore[attr-defined]
    assert made.kind == "tryon" and made.state is JobState.SUCCEEDED
    error = log.outcomes[broken]
    assert str(error).startswith("Refining failed: ")
