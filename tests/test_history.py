"""HistoryPanel: rows and count, filters and sorting in the store, lazy thumbnails, row
actions (open, re-run, delete with confirmation, folder, copy), refresh and job_changed,
and 10,000 jobs. A real JobStore in tmp_path, real image files, real background decodes."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from refiner_gui.jobs.models import JobState
from refiner_gui.jobs.store import JobStore
from refiner_gui.threads import wait_for_tasks
from refiner_gui.ui.history import HistoryPanel
from refiner_gui.ui.history.model import (
    DATE,
    GENDER,
    NOTE,
    STATE,
    TAGS,
    TASK,
    THUMBS,
    VERDICT,
    format_date,
)
from refiner_gui.ui.history.thumbnails import SLOT_WIDTH
from refiner_gui.workers import load_image
from tests.helpers.images import make_image

SCREENSHOT_DIR = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "src"
    return {
        "person": make_image(d / "person.png", (60, 90)),
        "top": make_image(d / "top.png", (60, 60), color=(20, 90, 200)),
        "coarse": make_image(d / "coarse.png", (60, 90), color=(200, 100, 90)),
        "result": make_image(d / "result.png", (60, 90), color=(90, 200, 100)),
    }


def add_job(
    store: JobStore,
    files: dict[str, Path],
    state: JobState = JobState.SUCCEEDED,
    *,
    task: str | None = "task-x",
    verdict: str | None = None,
    tags: tuple[str, ...] = (),
    note: str = "",
    gender: str = "woman",
    coarse: Path | None = None,
    result: Path | None = None,
) -> int:
    """A job in ``state`` made through the store's own steps; returns its id."""
    job = store.create_job(
        {
            "person_image": files["person"],
            "top_garment": files["top"],
            "coarse_image": coarse or files["coarse"],
        },
        gender,
    )
    if state is JobState.PENDING:
        return job.id
    store.mark_submitting(job.id)
    if state is not JobState.SUBMITTING:
        store.mark_submitted(job.id, task or "")
    if state is JobState.SUCCEEDED:
        dest = store.result_path_for(job.id)
        dest.write_bytes(Path(result or files["result"]).read_bytes())
        store.mark_succeeded(job.id, dest)
    elif state.finished:
        store.mark_finished(job.id, state, {"message": f"{state.label} for a test"})
    if verdict or tags or note:
        store.set_review(job.id, verdict, list(tags), note)
    return job.id


def clone_jobs(store: JobStore, template_id: int, n: int) -> None:
    """``n`` copies of a job (same files), inserted in one transaction: fast for 10,000."""
    with sqlite3.connect(store.path) as conn:
        row = conn.execute(
            "SELECT state, gender, created_at, result_path, verdict, tags FROM jobs WHERE id = ?",
            (template_id,),
        ).fetchone()
        state, gender, created, result, verdict, tags = row
        conn.executemany(
            "INSERT INTO jobs (state, gender, created_at, updated_at, task_id, result_path, "
            "verdict, tags, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    state,
                    gender,
                    created - i,
                    created - i,
                    f"bulk-{i:05d}",
                    result,
                    verdict,
                    tags,
                    f"bulk note {i}",
                )
                for i in range(n)
            ],
        )
        conn.execute(
            "INSERT INTO job_inputs (job_id, slot, path, sha256, name) "
            "SELECT j.id, i.slot, i.path, i.sha256, i.name FROM jobs j, job_inputs i "
            "WHERE i.job_id = ? AND j.id > ?",
            (template_id, template_id),
        )


class CountingLoader:
    """Wraps workers.load_image and records each decoded path (called on worker threads)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self._lock = threading.Lock()

    def __call__(self, path: Path, max_side: int) -> QImage:
        with self._lock:
            self.paths.append(Path(path))
        return load_image(path, max_side)

    def decoded(self) -> set[Path]:
        with self._lock:
            return set(self.paths)


@pytest.fixture
def make_panel(qtbot, store):
    made: list[HistoryPanel] = []

    def make(size: tuple[int, int] = (1100, 600), **kwargs) -> HistoryPanel:
        panel = HistoryPanel(store, **kwargs)
        qtbot.addWidget(panel)
        panel.resize(*size)
        panel.show()
        qtbot.waitExposed(panel)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.shutdown()
    assert wait_for_tasks()


def rows_on_screen(panel: HistoryPanel) -> range:
    table = panel.table
    first = table.rowAt(0)
    last = table.rowAt(table.viewport().height() - 1)
    return range(first, (last if last >= 0 else panel.model.rowCount() - 1) + 1)


def cell(panel: HistoryPanel, row: int, col: int, role=Qt.ItemDataRole.DisplayRole):
    return panel.model.data(panel.model.index(row, col), role)


def column(panel: HistoryPanel, col: int) -> list[str]:
    return [cell(panel, r, col) for r in range(panel.model.rowCount())]


@pytest.fixture
def mixed(store, files):
    """One job in each state the filters know, with reviews on some; ids by name."""
    ids = {
        "done_pass": add_job(store, files, verdict="pass", tags=("hands",), note="ok hands"),
        "done_fail": add_job(
            store,
            files,
            verdict="fail",
            tags=("garment_colour", "hands"),
            note="colour is off",
            gender="man",
        ),
        "done_new": add_job(store, files, task="task-unreviewed"),
        "failed": add_job(store, files, JobState.FAILED),
        "waiting": add_job(store, files, JobState.SUBMITTED, task="task-waiting"),
        "unknown": add_job(store, files, JobState.OUTCOME_UNKNOWN),
        "expired": add_job(store, files, JobState.EXPIRED),
        "cancelled": add_job(store, files, JobState.CANCELLED),
        "pending": add_job(store, files, JobState.PENDING),
    }
    return ids


# -- rows and count ---------------------------------------------------------------------------


def test_rows_shown_newest_first_and_counted(make_panel, store, files):
    first = add_job(
        store, files, verdict="pass", tags=("hands", "garment_colour"), note="Sleeve\nslightly long"
    )
    second = add_job(store, files, JobState.FAILED, task="task-failed", gender="man")
    panel = make_panel()
    assert panel.model.rowCount() == 2
    assert panel.visible_job_ids() == [second, first]
    assert panel.count_label.text() == "2 jobs"
    assert column(panel, STATE) == ["Failed", "Done"]
    assert column(panel, VERDICT) == ["—", "✓ Pass"]
    assert column(panel, GENDER) == ["Man", "Woman"]
    assert column(panel, TASK) == ["task-failed", "task-x"]
    assert cell(panel, 1, TAGS) == "Garment colour, Hands"
    assert cell(panel, 1, NOTE) == "Sleeve slightly long"  # one line; tooltip has all
    assert cell(panel, 1, NOTE, Qt.ItemDataRole.ToolTipRole) == "Sleeve\nslightly long"
    assert re.fullmatch(r"\d{1,2} \w+ \d\d:\d\d", cell(panel, 0, DATE))
    assert "Failed for a test" in cell(panel, 0, STATE, Qt.ItemDataRole.ToolTipRole)
    assert cell(panel, 0, STATE, Qt.ItemDataRole.DecorationRole) is not None  # colour dot
    for w in [
        panel.state_combo,
        panel.verdict_combo,
        panel.tag_combo,
        panel.search_edit,
        panel.table,
        *panel.action_buttons.values(),
    ]:
        assert w.accessibleName(), w
        assert w.toolTip() or w is panel.table, w


def test_format_date_local_time_adds_year_only_when_not_this_year():
    ts = time.mktime((2026, 11, 25, 14, 3, 0, 0, 0, -1))
    assert format_date(ts, now=ts) == f"25 {time.strftime('%b', time.localtime(ts))} 14:03"
    assert " 2024 " in format_date(ts - 2 * 365 * 86400, now=ts)


def test_empty_store_says_so(make_panel):
    panel = make_panel()
    assert panel.count_label.text() == "0 jobs"
    assert panel.empty_label.isVisible() and "No jobs yet" in panel.empty_label.text()


# -- filters and sorting ------------------------------------------------------------------------


def choose(combo, text: str) -> None:
    index = combo.findText(text)
    assert index >= 0, text
    combo.setCurrentIndex(index)


@pytest.mark.parametrize(
    ("label", "names"),
    [
        ("Done", {"done_pass", "done_fail", "done_new"}),
        ("Failed", {"failed"}),
        ("Waiting", {"waiting", "pending"}),
        ("Outcome unknown", {"unknown"}),
        ("Expired", {"expired"}),
        ("Cancelled", {"cancelled"}),
        ("All states", None),
    ],
)
def test_state_filter(make_panel, mixed, label, names):
    panel = make_panel()
    choose(panel.state_combo, label)
    expected = set(mixed.values()) if names is None else {mixed[n] for n in names}
    assert set(panel.visible_job_ids()) == expected
    if names is None:
        assert panel.count_label.text() == "9 jobs"
    else:
        assert panel.count_label.text() == f"{len(names)} of 9 jobs"


def test_verdict_filter_including_unreviewed(make_panel, mixed):
    panel = make_panel()
    choose(panel.verdict_combo, "✓ Pass")
    assert panel.visible_job_ids() == [mixed["done_pass"]]
    choose(panel.verdict_combo, "✗ Fail")
    assert panel.visible_job_ids() == [mixed["done_fail"]]
    choose(panel.verdict_combo, "Unreviewed")
    assert set(panel.visible_job_ids()) == set(mixed.values()) - {
        mixed["done_pass"],
        mixed["done_fail"],
    }
    choose(panel.state_combo, "Done")  # filters combine
    assert panel.visible_job_ids() == [mixed["done_new"]]


def test_tag_filter(make_panel, mixed):
    panel = make_panel()
    choose(panel.tag_combo, "Hands")
    assert set(panel.visible_job_ids()) == {mixed["done_pass"], mixed["done_fail"]}
    choose(panel.tag_combo, "Garment colour")
    assert panel.visible_job_ids() == [mixed["done_fail"]]
    choose(panel.tag_combo, "Artifacts")
    assert panel.visible_job_ids() == []
    assert panel.empty_label.isVisible() and "Clear filters" in panel.empty_label.text()
    panel.empty_label.linkActivated.emit("clear")
    assert len(panel.visible_job_ids()) == 9
    assert panel.tag_combo.currentIndex() == 0


def test_search_is_debounced_then_filters(qtbot, make_panel, mixed):
    panel = make_panel()
    panel.search_edit.setText("colour is")
    assert len(panel.visible_job_ids()) == 9  # not on every keystroke
    qtbot.waitUntil(lambda: panel.visible_job_ids() == [mixed["done_fail"]])
    panel.search_edit.setText("task-waiting")
    panel.search_edit.returnPressed.emit()  # Enter applies at once
    assert panel.visible_job_ids() == [mixed["waiting"]]
    panel.search_edit.setText(f"#{mixed['expired']}")  # a job number as dialogs write it
    panel.search_edit.returnPressed.emit()
    assert panel.visible_job_ids() == [mixed["expired"]]
    panel.search_edit.clear()
    qtbot.waitUntil(lambda: len(panel.visible_job_ids()) == 9)


def click_header(qtbot, panel: HistoryPanel, col: int) -> None:
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )


def test_sorting_by_header_requeries_the_store(qtbot, make_panel, store, mixed):
    panel = make_panel()
    header = panel.table.horizontalHeader()
    assert panel.visible_job_ids() == sorted(mixed.values(), reverse=True)  # newest first
    tip = panel.model.headerData(DATE, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "newest first" in tip

    click_header(qtbot, panel, DATE)  # the same column again: oldest first
    assert panel.visible_job_ids() == sorted(mixed.values())
    tip = panel.model.headerData(DATE, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "oldest first" in tip

    for col, key in ((GENDER, "gender"), (VERDICT, "verdict"), (STATE, "state")):
        for _ in range(2):  # both directions
            click_header(qtbot, panel, col)
            assert header.sortIndicatorSection() == col
            descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
            assert panel.visible_job_ids() == store.list_ids(sort=key, descending=descending)
            shown = column(panel, col)
            if col == GENDER:  # what the user sees is in order too
                assert shown == sorted(shown, reverse=descending)

    before = panel.visible_job_ids()
    click_header(qtbot, panel, NOTE)  # not sortable: rows and arrow stay
    assert panel.visible_job_ids() == before
    assert header.sortIndicatorSection() == STATE


def test_sort_keeps_the_selection(qtbot, make_panel, mixed):
    panel = make_panel()
    panel.select_job(mixed["expired"])
    click_header(qtbot, panel, DATE)
    assert panel.selected_job_ids() == [mixed["expired"]]


# -- thumbnails -----------------------------------------------------------------------------------


def test_thumbnails_load_lazily_for_painted_rows_only(qtbot, make_panel, store, files, tmp_path):
    coarse_files = [
        make_image(tmp_path / "c" / f"coarse-{i}.png", (60, 90), color=(10 + i * 5, 100, 90))
        for i in range(40)
    ]
    ids = [add_job(store, files, coarse=c) for c in coarse_files]
    stored_coarse = {store.get(i).input_path("coarse_image"): i for i in ids}
    loader = CountingLoader()
    panel = make_panel((900, 320), thumbnail_loader=loader)
    model, table = panel.model, panel.table

    def painted_rows() -> range:
        return rows_on_screen(panel)

    qtbot.waitUntil(lambda: all(model.thumbnail_loaded(r) for r in painted_rows()))
    shown = {model.job_id(r) for r in painted_rows()}
    decoded_jobs = {stored_coarse[p] for p in loader.decoded() if p in stored_coarse}
    assert decoded_jobs and decoded_jobs <= shown, "decoded rows that were never painted"
    assert len(decoded_jobs) < 10

    # The picture: the coarse image's background colour on the left.
    row = painted_rows()[0]
    pixmap = cell(panel, row, THUMBS, Qt.ItemDataRole.DecorationRole)
    colour = pixmap.toImage().pixelColor(6, 4)
    job = store.get(model.job_id(row))
    expected = QImage(str(job.input_path("coarse_image"))).pixelColor(0, 0)
    assert abs(colour.red() - expected.red()) < 8 and abs(colour.green() - expected.green()) < 8
    assert pixmap.width() > SLOT_WIDTH  # both pictures side by side

    table.scrollToBottom()
    last = model.rowCount() - 1
    qtbot.waitUntil(lambda: model.thumbnail_loaded(last))
    assert store.get(model.job_id(last)).input_path("coarse_image") in loader.decoded()
    assert len({p for p in loader.decoded() if p in stored_coarse}) < 40


def test_missing_result_file_shows_an_empty_slot_without_retrying(qtbot, make_panel, store, files):
    job_id = add_job(store, files)
    store.get(job_id).result_path.unlink()
    loader = CountingLoader()
    panel = make_panel(thumbnail_loader=loader)
    qtbot.waitUntil(lambda: panel.model.thumbnail_loaded(0))
    calls = len(loader.paths)
    panel.table.viewport().repaint()
    assert len(loader.paths) == calls


# -- row actions ----------------------------------------------------------------------------------


def test_double_click_and_enter_open(qtbot, make_panel, mixed):
    panel = make_panel()
    table = panel.table
    rect = table.visualRect(panel.model.index(2, STATE))
    with qtbot.waitSignal(panel.openRequested) as blocker:
        # QTest's double-click is the second click only; the view wants the first press.
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [panel.visible_job_ids()[2]]

    table.setFocus()
    panel.select_job(mixed["failed"])
    with qtbot.waitSignal(panel.openRequested) as blocker:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert blocker.args == [mixed["failed"]]

    with qtbot.waitSignal(panel.openRequested) as blocker:
        panel.action_buttons["Open job"].click()
    assert blocker.args == [mixed["failed"]]


def test_rerun_one_job_with_inputs(qtbot, make_panel, store, mixed):
    panel = make_panel()
    panel.select_job(mixed["done_fail"])
    assert panel.rerun_action.isEnabled()
    with qtbot.waitSignal(panel.rerunRequested) as blocker:
        panel.action_buttons["Re-run job"].click()
    assert blocker.args == [mixed["done_fail"]]

    panel.table.selectAll()  # a re-run spends credits: one at a time
    assert not panel.rerun_action.isEnabled()
    with qtbot.assertNotEmitted(panel.rerunRequested):
        panel.rerun_action.trigger()

    resumed = store.create_resumed("task-from-cli").id  # no stored inputs
    panel.refresh()
    panel.select_job(resumed)
    assert not panel.rerun_action.isEnabled()
    assert "no stored inputs" in panel.rerun_action.toolTip()


def test_delete_asks_then_removes_rows_and_files(qtbot, make_panel, store, files, monkeypatch):
    keep = add_job(store, files)
    a = add_job(
        store,
        files,
        coarse=make_image(files["coarse"].parent / "c-a.png", (60, 90), color=(1, 2, 3)),
    )
    b = add_job(store, files)
    a_job, b_job = store.get(a), store.get(b)
    panel = make_panel()
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def fake_question(parent, title, text, *args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", fake_question)
    sm = panel.table.selectionModel()
    panel.select_job(a)
    sm.select(
        panel.model.index(panel.model.row_of(b), 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert set(panel.selected_job_ids()) == {a, b}
    assert panel.delete_action.text() == "Delete 2…"

    panel.delete_action.trigger()  # "No" keeps everything
    assert "Delete 2 jobs?" in asked[0] and "files" in asked[0]
    assert store.count() == 3 and a_job.result_path.exists()

    answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(panel.jobsDeleted) as blocker:
        panel.delete_action.trigger()
    assert sorted(blocker.args[0]) == sorted([a, b])
    assert panel.visible_job_ids() == [keep]
    assert panel.count_label.text() == "1 job"
    assert not a_job.result_path.exists() and not b_job.result_path.exists()
    assert not a_job.input_path("coarse_image").exists()  # used by no other job
    assert store.get(keep).input_path("coarse_image").exists()  # shared with the kept job


def test_open_folder_and_copy_task_ids(make_panel, store, mixed, monkeypatch):
    panel = make_panel()
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    panel.select_job(mixed["done_pass"])
    panel.folder_action.trigger()
    assert Path(opened[-1]) == store.results_dir
    panel.select_job(mixed["failed"])  # no result: its inputs' folder
    panel.folder_action.trigger()
    assert Path(opened[-1]) == store.inputs_dir

    panel.select_job(mixed["waiting"])
    panel.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == "task-waiting"


def test_context_menu_offers_the_row_actions(qtbot, make_panel, mixed, monkeypatch):

    panel = make_panel()
    shown: list[list[str]] = []
    monkeypatch.setattr(
        QMenu,
        "popup",
        lambda menu, pos, at=None: shown.append([a.text() for a in menu.actions() if a.text()]),
    )
    rect = panel.table.visualRect(panel.model.index(3, STATE))
    panel.table.customContextMenuRequested.emit(rect.center())
    assert shown == [["Open", "Re-run", "Open folder", "Copy task id", "Delete…"]]
    assert panel.selected_job_ids() == [panel.visible_job_ids()[3]]


# -- refresh, job_changed, selection ------------------------------------------------------------


def test_refresh_keeps_the_selection(make_panel, store, files, mixed):
    panel = make_panel()
    panel.select_job(mixed["failed"])
    panel.table.selectionModel().select(
        panel.model.index(panel.model.row_of(mixed["expired"]), 0),
        QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
    )
    new = add_job(store, files)
    panel.refresh()
    assert panel.visible_job_ids()[0] == new
    assert panel.selected_job_ids() == sorted(
        [mixed["failed"], mixed["expired"]], key=panel.visible_job_ids().index
    )
    assert panel.table.currentIndex().row() == panel.model.row_of(mixed["failed"])


def test_job_changed_updates_one_row(qtbot, make_panel, store, files, mixed):
    panel = make_panel()
    job_id = mixed["waiting"]
    row = panel.model.row_of(job_id)
    assert cell(panel, row, STATE) == "Waiting"
    dest = store.result_path_for(job_id)
    dest.write_bytes(files["result"].read_bytes())
    store.mark_succeeded(job_id, dest)
    store.set_review(job_id, "pass", ["artifacts"], "")
    with (
        qtbot.assertNotEmitted(panel.model.modelReset),
        qtbot.waitSignal(panel.model.dataChanged) as blocker,
    ):
        panel.job_changed(job_id)
    assert blocker.args[0].row() == row
    assert cell(panel, row, STATE) == "Done"
    assert cell(panel, row, VERDICT) == "✓ Pass"
    assert cell(panel, row, TAGS) == "Artifacts"

    new = add_job(store, files, JobState.SUBMITTED)  # new: the list is re-queried
    panel.job_changed(new)
    assert panel.visible_job_ids()[0] == new

    choose(panel.verdict_combo, "Unreviewed")  # reviewed now: it leaves this list
    store.set_review(new, "fail", ["hands"], "")
    panel.job_changed(new)
    assert new not in panel.visible_job_ids()


def test_select_job_scrolls_and_visible_ids_follow_the_view(make_panel, store, files):
    template = add_job(store, files)
    clone_jobs(store, template, 300)
    panel = make_panel((900, 400))
    target = panel.visible_job_ids()[250]
    panel.select_job(target)
    assert panel.selected_job_ids() == [target]
    rect = panel.table.visualRect(panel.model.index(250, STATE))
    assert panel.table.viewport().rect().intersects(rect)


def test_ten_thousand_jobs_open_and_scroll_to_the_end(qtbot, make_panel, store, files):
    template = add_job(store, files, verdict="pass", tags=("hands",))
    clone_jobs(store, template, 9_999)
    loader = CountingLoader()
    panel = make_panel(thumbnail_loader=loader)
    model, table = panel.model, panel.table
    assert model.rowCount() == 10_000
    assert panel.count_label.text() == "10,000 jobs"
    bar = table.verticalScrollBar()
    for value in range(0, bar.maximum() + 1, max(1, bar.maximum() // 50)):
        bar.setValue(value)
        table.viewport().repaint()
    table.scrollToBottom()
    table.viewport().repaint()
    last = model.rowCount() - 1
    assert table.rowAt(table.viewport().height() - 1) in (last, -1)
    assert table.rowAt(0) > last - 20
    assert cell(panel, last, TASK).startswith("bulk-")
    assert len(model._jobs) <= 1000  # noqa: SLF001 (the page cache stays small)
    qtbot.waitUntil(lambda: model.thumbnail_loaded(last))
    assert len(loader.paths) <= 4  # every row shares one pair of files: decoded once


# -- screenshot ---------------------------------------------------------------------------------


def test_screenshot(qtbot, make_panel, store, tmp_path):
    """docs/screenshots/history.png when REFINER_SCREENSHOTS=1; tmp_path otherwise."""
    out = SCREENSHOT_DIR if os.environ.get("REFINER_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    src = tmp_path / "shots"
    palette = [
        (196, 120, 98),
        (120, 160, 200),
        (90, 150, 110),
        (210, 180, 80),
        (150, 110, 170),
        (80, 80, 90),
        (200, 200, 190),
        (160, 70, 70),
    ]
    specs = [
        (JobState.SUCCEEDED, "pass", (), "Clean result, ready for the lookbook"),
        (
            JobState.SUCCEEDED,
            "fail",
            ("hands", "garment_colour"),
            "Left hand has six fingers; navy came out black",
        ),
        (JobState.SUCCEEDED, None, (), ""),
        (JobState.FAILED, None, (), ""),
        (JobState.SUBMITTED, None, (), ""),
        (JobState.OUTCOME_UNKNOWN, None, (), ""),
        (JobState.EXPIRED, None, (), ""),
        (JobState.SUCCEEDED, "pass", ("background",), "Background slightly warmer; acceptable"),
    ]
    for i, (state, verdict, tags, note) in enumerate(specs):
        r, g, b = palette[i]
        jf = {
            "person": make_image(src / f"person-{i}.jpg", (200, 300), color=(r, g, b)),
            "top": make_image(src / f"top-{i}.png", (200, 200), color=(g, b, r)),
            "coarse": make_image(src / f"coarse-{i}.png", (200, 300), color=(r, g, b)),
            "result": make_image(
                src / f"result-{i}.png", (200, 300), color=(min(r + 30, 255), min(g + 30, 255), b)
            ),
        }
        add_job(
            store,
            jf,
            state,
            task=f"2f9c{i:02d}a1-7d3e-4b8a-9c{i:02d}-5e1f0a8b{i:04d}",
            verdict=verdict,
            tags=tags,
            note=note,
            gender="man" if i % 3 == 1 else "woman",
        )
    panel = make_panel((1100, 600))
    qtbot.waitUntil(lambda: all(panel.model.thumbnail_loaded(r) for r in rows_on_screen(panel)))
    panel.select_job(panel.visible_job_ids()[1])
    assert panel.grab().save(str(out / "history.png"))


def test_no_widget_per_row(make_panel, store, files):
    template = add_job(store, files)
    clone_jobs(store, template, 500)
    panel = make_panel()
    assert len(panel.findChildren(QWidget)) < 100
