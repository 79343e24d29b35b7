"""The window's "Generate coarse, then refine": Refine's new meaning when the coarse slot
is empty, the model choice (remembered), the cost confirmation, both stages on the status
line, the generated coarse image back in its slot, and the three-way compare selector."""

from __future__ import annotations

from refiner_gui.sandbox import Fault, SandboxServer
from refiner_gui.settings import load_settings
from refiner_gui.slots import COARSE, PERSON, TOP
from refiner_gui.ui.tryon_flow import GENERATE_TEXT
from tests.test_main_window import factory, make_window  # noqa: F401 (fixture)


def fill_without_coarse(qtbot, w, imgs, gender="woman"):
    w.inputs.set_file(PERSON, imgs["person"])
    w.inputs.set_file(TOP, imgs["top"])
    if gender:
        w.inputs.set_gender(gender)
    qtbot.waitUntil(lambda: w.refine_button.text() == GENERATE_TEXT, timeout=10_000)


def flow(w):
    return w.content.tryon


def test_generate_then_refine_from_the_window(qtbot, make_window, job_images, tmp_path):  # noqa: F811
    with SandboxServer(latency=0.2) as srv:
        w = make_window(srv)
        fill_without_coarse(qtbot, w, job_images)
        tryon = flow(w)
        tryon.model_box.setCurrentIndex(tryon.model_box.findData("premium"))
        assert load_settings().tryon_model == "premium"  # remembered
        qtbot.waitUntil(lambda: tryon.balance is not None, timeout=10_000)
        asked: list[str] = []
        tryon.confirm = lambda text: asked.append(text) or True
        lines: list[str] = []
        assert w.refine_button.isEnabled()
        w.refine_button.click()
        assert w.job_running()
        qtbot.waitUntil(
            lambda: lines.append(w.stage_label.text()) or not w.job_running(), timeout=30_000
        )
        assert srv.submissions_by_kind == {"premium": 1, "refiner": 1}
    # The cost was shown first, with the balance it was checked against.
    assert "50 credits" in asked[0] and "75 credits in all" in asked[0]
    assert "Your balance: 1,000 credits" in asked[0]
    assert any(line.startswith("Step 1 · coarse image (Premium)") for line in lines)
    assert any(line.startswith("Step 2 · refinement") for line in lines)
    # The coarse image is a first-class input: back in its slot, the job refinable again.
    job = w.shown.job
    assert job.kind == "tryon_refine" and job.state.value == "succeeded"
    assert w.inputs.original_path(COARSE) == job.input_path(COARSE)
    qtbot.waitUntil(lambda: w.refine_button.text() == "Refine", timeout=10_000)
    # Any two of person, coarse and refined can be compared.
    tryon.pair_box.setCurrentText("Person → Coarse")
    qtbot.waitUntil(lambda: w.content.viewer.labels() == ("Person", "Coarse"), timeout=10_000)
    w.grab().save(str(tmp_path / "window-tryon.png"))
    tryon.pair_box.setCurrentText("Coarse → Refined")
    assert w.content.viewer.labels()[0] == "Coarse"


def test_declining_the_cost_sends_nothing(qtbot, make_window, job_images):  # noqa: F811
    with SandboxServer() as srv:
        w = make_window(srv)
        fill_without_coarse(qtbot, w, job_images)
        flow(w).confirm = lambda text: False
        w.refine_button.click()
        assert not w.job_running()
        assert srv.submissions == 0


def test_not_enough_credits_is_said_before_anything_is_sent(qtbot, make_window, job_images):  # noqa: F811
    with SandboxServer(credits=40) as srv:
        w = make_window(srv)
        fill_without_coarse(qtbot, w, job_images)
        tryon = flow(w)
        qtbot.waitUntil(lambda: tryon.balance == 40, timeout=10_000)
        warned: list[str] = []
        tryon.warn = warned.append
        tryon.confirm = lambda text: True
        w.refine_button.click()
        assert not w.job_running() and srv.submissions == 0
    assert "not enough" in warned[0] and "55 credits" in warned[0]


def test_generate_coarse_only_and_a_failure_named_by_stage(qtbot, make_window, job_images):  # noqa: F811
    with SandboxServer() as srv:
        w = make_window(srv)
        fill_without_coarse(qtbot, w, job_images, gender=None)
        tryon = flow(w)
        tryon.confirm = lambda text: True
        assert not w.refine_button.isEnabled()  # the refinement needs a gender
        assert "Generate coarse only" in w.refine_button.toolTip()
        qtbot.waitUntil(tryon.coarse_only.isEnabled, timeout=10_000)
        tryon.coarse_only.click()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
        assert srv.submissions_by_kind == {"pro": 1}
        assert w.shown.job.kind == "tryon"
        qtbot.waitUntil(lambda: w.content.viewer.labels() == ("Person", "Coarse"), timeout=10_000)
        # Now a failing two-stage job: the error names the stage that failed.
        w.inputs.clear_slot(COARSE)
        w.inputs.set_gender("man")
        qtbot.waitUntil(lambda: w.refine_button.text() == GENERATE_TEXT, timeout=10_000)
        srv.inject(Fault("tryon", "task_failed"))
        w.refine_button.click()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
    assert w.error_panel.isVisibleTo(w)
    job = w.content.store.get(w.content.job_id)
    assert job.error["message"].startswith("Generating the coarse image failed: ")


def test_a_failed_refinement_puts_the_kept_coarse_image_in_its_slot(
    qtbot,
    make_window,  # noqa: F811
    job_images,
):
    with SandboxServer() as srv:
        w = make_window(srv)
        fill_without_coarse(qtbot, w, job_images)
        flow(w).confirm = lambda text: True
        srv.inject(Fault("submit", "task_failed"))
        w.refine_button.click()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
        job = w.content.store.get(w.content.job_id)
        assert job.error["message"].startswith("Refining failed: ")
        assert w.inputs.original_path(COARSE) == job.input_path(COARSE)
        # Refine now retries only the refinement, with the kept coarse image.
        qtbot.waitUntil(lambda: w.refine_button.text() == "Refine", timeout=10_000)
        qtbot.waitUntil(w.refine_button.isEnabled, timeout=10_000)
        w.refine_button.click()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=30_000)
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 2}
    assert w.shown is not None and w.shown.job.kind == "refine"
