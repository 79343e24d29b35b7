"""History → Re-run of jobs that made their coarse image: a "coarse only" job makes a new
coarse image (priced as the try-on), a two-stage job refines its stored coarse image again
(25 credits), and one whose try-on failed runs both stages again. Against the sandbox:
its per-endpoint submission counters say what was really sent."""

from __future__ import annotations

from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.slots import COARSE
from refiner_gui.ui.rerun_dialog import RerunDialog
from tests.test_main_window import factory, make_window  # noqa: F401 (fixture)
from tests.test_window_tryon import fill_without_coarse


def agree_to_rerun(qtbot, w, job_id: int) -> RerunDialog:
    """Ask History's re-run of ``job_id``, wait for the balance, then click Re-run."""
    w.content.reruns.ask(job_id)
    dialog = w.findChild(RerunDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: "asking" not in dialog.balance_text(), timeout=10_000)
    texts = (dialog.cost_label.text(), dialog.balance_text(), dialog.rerun_button.text())
    dialog.rerun_button.click()
    qtbot.waitUntil(lambda: w.job_running(), timeout=10_000)
    qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
    return texts


def first_job(qtbot, w, images, *, coarse_only: bool, gender: str | None = "woman"):
    fill_without_coarse(qtbot, w, images, gender=gender)
    tryon = w.content.tryon
    tryon.confirm = lambda text: True
    if coarse_only:
        qtbot.waitUntil(tryon.coarse_only.isEnabled, timeout=10_000)
        tryon.coarse_only.click()
    else:
        w.refine_button.click()
    qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
    return w.content.store.get(w.content.job_id)


def test_a_coarse_only_job_is_re_run_as_a_new_try_on(qtbot, make_window, job_images):  # noqa: F811
    with SandboxServer(credits=75) as srv:
        w = make_window(srv)
        w.content.tryon.model_box.setCurrentIndex(w.content.tryon.model_box.findData("pro"))
        first = first_job(qtbot, w, job_images, coarse_only=True, gender=None)
        assert first.kind == "tryon" and srv.submissions_by_kind == {"pro": 1}
        cost, balance, button = agree_to_rerun(qtbot, w, first.id)
        assert srv.submissions_by_kind == {"pro": 2}  # a new coarse image, never refined
    assert "30 credits" in cost and button == "Re-run for 30 credits"
    assert "45 credits" in balance and "not enough" not in balance  # 75 - 30: enough
    again = w.content.store.get(w.content.job_id)
    assert again.kind == "tryon" and again.parent_id == first.id
    assert again.tryon.model == "pro"
    assert w.inputs.original_path(COARSE) == again.input_path(COARSE)  # the new one


def test_a_two_stage_job_is_re_run_as_a_refinement_of_its_coarse_image(
    qtbot,
    make_window,  # noqa: F811
    job_images,
):
    with SandboxServer() as srv:
        w = make_window(srv)
        first = first_job(qtbot, w, job_images, coarse_only=False)
        assert first.kind == "tryon_refine"
        cost, _balance, button = agree_to_rerun(qtbot, w, first.id)
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 2}  # the coarse reused
    assert "25 credits" in cost and button == "Re-run for 25 credits"
    again = w.content.store.get(w.content.job_id)
    assert again.kind == "refine" and again.parent_id == first.id
    assert again.inputs[COARSE].sha256 == first.inputs[COARSE].sha256


def test_a_two_stage_job_whose_try_on_failed_runs_both_stages_again(
    qtbot,
    make_window,  # noqa: F811
    job_images,
):
    with SandboxServer() as srv:
        w = make_window(srv)
        srv.inject(Fault("tryon", "task_failed"))
        first = first_job(qtbot, w, job_images, coarse_only=False)
        assert first.kind == "tryon_refine" and first.input_path(COARSE) is None
        cost, _balance, button = agree_to_rerun(qtbot, w, first.id)
        assert srv.submissions_by_kind == {"pro": 2, "refiner": 1}
    assert "55 credits" in cost and button == "Re-run for 55 credits"
    again = w.content.store.get(w.content.job_id)
    assert again.kind == "tryon_refine" and again.state.value == "succeeded"


def test_the_re_run_of_a_try_on_is_checked_against_the_balance(qtbot, make_window, job_images):  # noqa: F811
    with SandboxServer(credits=57) as srv:
        w = make_window(srv)
        first = first_job(qtbot, w, job_images, coarse_only=True, gender=None)
        w.content.reruns.ask(first.id)  # 27 credits left: a refinement, not the try-on (30)
        dialog = w.findChild(RerunDialog)
        qtbot.waitUntil(lambda: "asking" not in dialog.balance_text(), timeout=10_000)
        assert "27 credits" in dialog.balance_text() and "not enough" in dialog.balance_text()
        dialog.cancel_button.click()
        assert not w.job_running() and srv.submissions_by_kind == {"pro": 1}
