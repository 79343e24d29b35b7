"""What the window shows while a job runs and when it ends: the old look's inputs strip is
covered with the rest of the old look; a two-stage job's generated coarse image appears
once made, under captions that fit the job; a cancel during the try-on names that stage
and its cost; a job that ends while the reviewer looks at another stored look does not
take that look over. Against the sandbox, with a real store; waits on conditions only."""

from __future__ import annotations

from refiner_gui.sandbox import SandboxServer
from refiner_gui.ui.running_preview import (
    GENERATED_CAPTION,
    GENERATING_CAPTION,
    GENERATING_ONLY_CAPTION,
)
from tests.test_honest_states import factory, fill, windows  # noqa: F401 (fixtures)
from tests.test_window_tryon import fill_without_coarse


def first_look(qtbot, w, images) -> int:
    """Refine once and wait for the look to be shown; its job id."""
    fill(qtbot, w, images)
    w.refine_button.click()
    qtbot.waitUntil(lambda: not w.job_running(), timeout=15_000)
    qtbot.waitUntil(lambda: w.content.look_inputs.isVisibleTo(w), timeout=10_000)
    qtbot.waitUntil(lambda: w.refine_button.isEnabled(), timeout=10_000)
    return w.job_id


def test_the_old_looks_inputs_are_covered_while_a_new_job_runs(qtbot, windows, job_images):  # noqa: F811
    with SandboxServer(latency=0.0) as srv:
        w = windows(srv, recover_on_start=False)
        c = w.content
        first = first_look(qtbot, w, job_images)
        assert c.look_inputs.job_id() == first
        srv.latency = 0.6
        w.refine_button.click()
        qtbot.waitUntil(c.preview.has_image, timeout=10_000)
        during = (c.look_inputs.isVisibleTo(w), c.viewer.isVisibleTo(w))
        qtbot.waitUntil(lambda: not w.job_running(), timeout=15_000)
    assert during == (False, False)  # no "Use these inputs" of the old look meanwhile
    second = w.job_id
    assert second != first and w.shown.job.id == second
    assert c.look_inputs.isVisibleTo(w) and c.look_inputs.job_id() == second


def test_a_job_ending_while_another_look_is_reviewed_does_not_replace_it(
    qtbot,
    windows,  # noqa: F811
    job_images,
):
    with SandboxServer(latency=0.0) as srv:
        w = windows(srv, recover_on_start=False)
        c = w.content
        first = first_look(qtbot, w, job_images)
        srv.latency = 1.0
        w.refine_button.click()
        qtbot.waitUntil(lambda: w.task_id is not None and w.job_id != first, timeout=10_000)
        second = w.job_id
        c.review.open_job(first)  # the reviewer goes back to a look from History
        qtbot.waitUntil(lambda: c.viewer.isVisibleTo(w), timeout=10_000)
        assert w.shown.job.id == first and w.job_running()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=15_000)
    assert w.shown.job.id == first and c.look_inputs.job_id() == first  # unchanged
    assert c.background.finished.job_ids() == [second]  # listed, with its Show button
    assert c.background.finished.isVisibleTo(w)
    assert f"Job {second} finished" in w.statusBar().currentMessage()
    assert c.store.get(second).state.value == "succeeded"


def test_a_two_stage_job_shows_its_coarse_image_once_made(qtbot, windows, job_images):  # noqa: F811
    with SandboxServer(latency=0.4) as srv:
        w = windows(srv, recover_on_start=False)
        w.show()  # laid out, to see what the preview is given
        c = w.content
        c.tryon.confirm = lambda text: True
        fill_without_coarse(qtbot, w, job_images)
        w.refine_button.click()
        qtbot.waitUntil(lambda: c.preview.caption.text() == GENERATING_CAPTION, timeout=10_000)
        before = c.preview.has_image()  # nothing to show until the coarse image exists
        # Once the try-on is done, the refinement runs over the generated coarse image.
        qtbot.waitUntil(c.preview.has_image, timeout=15_000)
        running, caption = w.job_running(), c.preview.caption.text()
        made = c.store.get(w.job_id).tryon_done
        share = c.preview.height() / c.parts.compare_page.height()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=15_000)
        assert srv.submissions_by_kind == {"pro": 1, "refiner": 1}
    assert not before and running and made and caption == GENERATED_CAPTION
    assert share > 0.8  # the preview has the page (the hidden viewer's row takes no share)


def test_a_coarse_only_job_promises_no_refined_image(qtbot, windows, job_images):  # noqa: F811
    with SandboxServer(latency=0.4) as srv:
        w = windows(srv, recover_on_start=False)
        c = w.content
        c.tryon.confirm = lambda text: True
        fill_without_coarse(qtbot, w, job_images, gender=None)
        qtbot.waitUntil(c.tryon.coarse_only.isEnabled, timeout=10_000)
        c.tryon.coarse_only.click()
        qtbot.waitUntil(lambda: c.preview.caption.text() == GENERATING_ONLY_CAPTION, timeout=10_000)
        assert "refined" not in c.preview.caption.text()
        qtbot.waitUntil(lambda: not w.job_running(), timeout=15_000)


def cancel_during_the_try_on(qtbot, w) -> str:
    """Cancel once the try-on's task id is known; the still-running notice's text."""
    c = w.content
    qtbot.waitUntil(lambda: w.task_id is not None, timeout=10_000)
    assert not c.store.get(w.job_id).tryon_done
    w.cancel_job()
    qtbot.waitUntil(lambda: not w.job_running(), timeout=10_000)
    notice = c.background.still_running
    assert notice.isVisibleTo(w)
    return notice.message.text()


def test_a_cancel_during_the_try_on_names_its_stage_and_cost(qtbot, windows, job_images):  # noqa: F811
    with SandboxServer(latency=1.0) as srv:
        w = windows(srv, recover_on_start=False)
        c = w.content
        c.tryon.confirm = lambda text: True
        c.tryon.model_box.setCurrentIndex(c.tryon.model_box.findData("premium"))
        fill_without_coarse(qtbot, w, job_images)
        w.refine_button.click()
        text = cancel_during_the_try_on(qtbot, w)
    assert "Try on Clothes Premium" in text and "50 credits" in text
    assert "the refinement (25 credits)" in text and "keep checking" in text
    assert "bills 25 credits" not in text


def test_a_cancel_of_a_coarse_only_job_names_no_refinement(qtbot, windows, job_images):  # noqa: F811
    with SandboxServer(latency=1.0) as srv:
        w = windows(srv, recover_on_start=False)
        c = w.content
        c.tryon.confirm = lambda text: True
        c.tryon.model_box.setCurrentIndex(c.tryon.model_box.findData("pro"))
        fill_without_coarse(qtbot, w, job_images, gender=None)
        qtbot.waitUntil(c.tryon.coarse_only.isEnabled, timeout=10_000)
        c.tryon.coarse_only.click()
        text = cancel_during_the_try_on(qtbot, w)
    assert "Try on Clothes Pro" in text and "30 credits" in text
    assert "refinement" not in text
