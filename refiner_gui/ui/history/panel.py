"""The history panel: the filter bar, a count, row actions and the job table.

The panel is the controller of its own small world (what is listed, what is selected,
confirming a delete); anything that starts a job or shows one is asked of the window
through :attr:`HistoryPanel.openRequested` and :attr:`HistoryPanel.rerunRequested`.

GUI thread only. The only background work is thumbnail decoding, owned by the
:class:`~refiner_gui.ui.history.thumbnails.ThumbnailCache`; :meth:`HistoryPanel.shutdown`
stops it. The filter bar (:mod:`~refiner_gui.ui.history.filters`) and the table view
(:mod:`~refiner_gui.ui.history.table`) are views in their own modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QMenu,
    QMessageBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from refiner_gui.jobs.models import Job
from refiner_gui.jobs.store import JobFilter, JobStateError, JobStore
from refiner_gui.slots import COARSE, REQUIRED_SLOTS
from refiner_gui.ui.flow_layout import FlowLayout
from refiner_gui.ui.history.filters import BATCH_PREFIX, FilterBar
from refiner_gui.ui.history.model import (
    DATE,
    SORT_KEYS,
    STATE,
    HistoryModel,
)
from refiner_gui.ui.history.table import JobTable
from refiner_gui.ui.history.thumbnails import (
    ImageLoader,
    ThumbnailCache,
)

log = logging.getLogger(__name__)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


class HistoryPanel(QWidget):
    """Every stored job, newest first, filterable and sortable in the database.

    Signals carry job ids; the window decides what opening or re-running means. GUI thread
    only. Call :meth:`refresh` after jobs were added or removed elsewhere, and
    :meth:`job_changed` after one job's state or review changed.
    """

    openRequested = Signal(int)  # job id: show it in the viewer (double-click / Enter)
    rerunRequested = Signal(int)  # job id: a new job with the same inputs
    jobsDeleted = Signal(list)  # job ids just deleted (the viewer may be showing one)

    def __init__(
        self,
        store: JobStore,
        parent: QWidget | None = None,
        *,
        thumbnail_loader: ImageLoader | None = None,
    ) -> None:
        """``thumbnail_loader(path, max_side) -> QImage`` decodes thumbnails on worker
        threads (default :func:`refiner_gui.workers.load_image`); tests count its calls."""
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.setAccessibleName("Job history")
        self._store = store
        self._thumbs = ThumbnailCache(loader=thumbnail_loader, parent=self)
        self._thumbs.set_palette(self.palette())
        self.model = HistoryModel(store, self._thumbs, self)
        self._shut_down = False

        self._build_actions()
        self._build_ui()
        self.model.modelReset.connect(self._after_reset)
        # The initial query; sorting is enabled after it so it does not run twice.
        self.model.requery()
        # Header clicks re-query here, not through QTableView.setSortingEnabled: the view's
        # own path resets the model without keeping the selection.
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_sort_indicator)
        self._update_actions()

    # -- public interface ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-query with the current filter and sort; keep the selection and the scroll
        position (by job id) when those jobs are still listed."""
        self._requery(keep_scroll=True)

    def job_changed(self, job_id: int) -> None:
        """One job changed (state, result or review): redraw its row only, or re-query when
        it is new, gone, no longer matches the filter, or moved in the sort order."""
        try:
            job = self._store.get(job_id)
        except KeyError:
            job = None
        if job is None or not self.model.update_job(job):
            self.refresh()
            return
        self._update_actions()

    def selected_job_ids(self) -> list[int]:
        """Selected jobs in view order."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [self.model.job_id(r) for r in rows]

    def visible_job_ids(self) -> list[int]:
        """Every listed job (filter applied), in view order: next/previous in review."""
        return self.model.ids()

    def show_batch(self, batch_id: int) -> None:
        """List only the looks of ``batch_id``, in the order they were sent (oldest job
        first): review then walks through them in that order."""
        self.search_edit.setText(f"{BATCH_PREFIX}{batch_id}")
        self._requery(self.current_filter(), keep_scroll=False, sort=("id", False))

    def select_job(self, job_id: int) -> None:
        """Select ``job_id`` alone and scroll to it; nothing happens if the filter hides it."""
        row = self.model.row_of(job_id)
        if row is None:
            return
        index = self.model.index(row, STATE)
        self.table.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(index)

    def shutdown(self) -> None:
        """Stop thumbnail work and wait for running decodes. GUI thread; idempotent. Call
        from the window's ``closeEvent`` and at the end of tests."""
        self._shut_down = True
        self.filters.stop()
        self._thumbs.shutdown()

    # -- construction ---------------------------------------------------------------------------

    def _action(
        self,
        text: str,
        tip: str,
        slot: Callable[[], None],
        shortcuts: tuple[QKeySequence, ...] = (),
    ) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcuts:
            action.setShortcuts(list(shortcuts))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.open_action = self._action(
            "Open", "Show the selected job in the viewer (Enter or double-click)", self._open
        )
        self.rerun_action = self._action(
            "Re-run", "Send a new job with the same inputs (uses credits)", self._rerun
        )
        self.delete_action = self._action(
            "Delete…",
            "Delete the selected jobs and their stored files",
            self._delete,
            (QKeySequence(QKeySequence.StandardKey.Delete),),
        )
        self.folder_action = self._action(
            "Open folder", "Show the folder holding the selected job's files", self._open_folder
        )
        self.copy_action = self._action(
            "Copy task id",
            "Copy the selected jobs' task ids (to quote to support)",
            self._copy_task_ids,
            (QKeySequence(QKeySequence.StandardKey.Copy),),
        )

    def _build_ui(self) -> None:
        self.filters = FilterBar()
        # The controls, by the names callers and tests use.
        self.state_combo = self.filters.state_combo
        self.verdict_combo = self.filters.verdict_combo
        self.tag_combo = self.filters.tag_combo
        self.search_edit = self.filters.search_edit
        self.filters.changed.connect(self._apply_filters)

        # Count and actions --------------------------------------------------------------------
        self.count_label = QLabel()
        self.count_label.setAccessibleName("Number of jobs listed")
        self.count_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty_label = QLabel()
        self.empty_label.setAccessibleName("No jobs")
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.linkActivated.connect(self.filters.clear)
        self.empty_label.hide()
        # The count and the actions wrap onto two rows in a narrow window.
        bar = FlowLayout(spacing=6)
        bar.addWidget(self.count_label)
        bar.addWidget(self.empty_label)
        self.action_buttons: dict[str, QToolButton] = {}
        for action, name in (
            (self.open_action, "Open job"),
            (self.rerun_action, "Re-run job"),
            (self.delete_action, "Delete jobs"),
            (self.folder_action, "Open job folder"),
            (self.copy_action, "Copy task id"),
        ):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setAccessibleName(name)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setAutoRaise(False)
            bar.addWidget(button)
            self.action_buttons[name] = button

        self.table = JobTable(self.model)
        self._sort_indicator = (DATE, Qt.SortOrder.DescendingOrder)
        self.table.customContextMenuRequested.connect(self._context_menu)
        # activated = Enter, or double-click (or single click where the platform says so).
        self.table.activated.connect(self._on_activated)
        for action in (
            self.open_action,
            self.rerun_action,
            self.delete_action,
            self.folder_action,
            self.copy_action,
        ):
            self.table.addAction(action)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filters)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    # -- querying -------------------------------------------------------------------------------

    def current_filter(self) -> JobFilter:
        """The filter the controls describe."""
        return self.filters.current_filter()

    @Slot()
    def _apply_filters(self) -> None:
        f = self.current_filter()
        if f != self.model.job_filter:
            self._requery(f, keep_scroll=False)

    def _requery(
        self, f: JobFilter | None = None, *, keep_scroll: bool, sort: tuple[str, bool] | None = None
    ) -> None:
        selected = self.selected_job_ids()
        current = self.table.currentIndex()
        current_id = self.model.job_id(current.row()) if current.isValid() else None
        top = self.table.indexAt(QPoint(0, 0))
        top_id = self.model.job_id(top.row()) if top.isValid() else None
        if sort is None:
            self.model.set_query(f)
        else:
            self.model.set_query(f, sort[0], sort[1])
        self._restore(selected, current_id, top_id if keep_scroll else None)

    def _restore(self, selected: list[int], current_id: int | None, top_id: int | None) -> None:
        sm = self.table.selectionModel()
        rows = sorted(r for r in (self.model.row_of(i) for i in selected) if r is not None)
        selection = QItemSelection()
        last_col = self.model.columnCount() - 1
        start = prev = None
        for row in rows + [None]:  # contiguous runs: one range each, even for 10,000 rows
            if row is not None and prev is not None and row == prev + 1:
                prev = row
                continue
            if start is not None and prev is not None:
                selection.select(self.model.index(start, 0), self.model.index(prev, last_col))
            start = prev = row
        if not selection.isEmpty():
            sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        current_row = self.model.row_of(current_id) if current_id is not None else None
        if current_row is not None:
            sm.setCurrentIndex(
                self.model.index(current_row, STATE), QItemSelectionModel.SelectionFlag.NoUpdate
            )
        top_row = self.model.row_of(top_id) if top_id is not None else None
        if top_row is not None:
            self.table.scrollTo(
                self.model.index(top_row, STATE), QAbstractItemView.ScrollHint.PositionAtTop
            )
        elif rows:
            self.table.scrollTo(self.model.index(rows[0], STATE))
        else:
            self.table.scrollToTop()
        self._update_actions()

    @Slot()
    def _after_reset(self) -> None:
        shown = self.model.rowCount()
        total = self._store.count()
        filtered = self.model.job_filter != JobFilter()
        self.count_label.setText(
            f"{shown:,} of {plural(total, 'job')}" if filtered else plural(total, "job")
        )
        if shown:
            self.empty_label.hide()
        elif filtered:
            self.empty_label.setText(
                "No job matches these filters. <a href='clear'>Clear filters</a>"
            )
            self.empty_label.show()
        else:
            self.empty_label.setText("No jobs yet: jobs you send appear here.")
            self.empty_label.show()

    @Slot(int, Qt.SortOrder)
    def _on_sort_indicator(self, column: int, order: Qt.SortOrder) -> None:
        header = self.table.horizontalHeader()
        if column not in SORT_KEYS:
            # Not sortable in the database: put the arrow back where the rows really are.
            header.blockSignals(True)
            header.setSortIndicator(*self._sort_indicator)
            header.blockSignals(False)
            return
        self._sort_indicator = (column, order)
        self._requery(
            keep_scroll=False, sort=(SORT_KEYS[column], order == Qt.SortOrder.DescendingOrder)
        )

    # -- selection and actions -------------------------------------------------------------------

    def _selected_jobs(self, limit: int | None = None) -> list[Job]:
        ids = self.selected_job_ids()
        if limit is not None:
            ids = ids[:limit]
        return self._store.get_many(ids)

    def _target_id(self) -> int | None:
        """The job an action on "the" job means: the current row if selected, else the
        first selected one."""
        current = self.table.currentIndex()
        sm = self.table.selectionModel()
        if current.isValid() and sm.isRowSelected(current.row(), QModelIndex()):
            return self.model.job_id(current.row())
        ids = self.selected_job_ids()
        return ids[0] if ids else None

    @Slot()
    def _update_actions(self) -> None:
        ids = self.selected_job_ids()
        one = len(ids) == 1
        row = self.model.row_of(ids[0]) if one else None
        job = self.model.job_at(row) if row is not None else None
        self.open_action.setEnabled(bool(ids))
        can_rerun = one and job is not None and all(job.input_path(s) for s in REQUIRED_SLOTS)
        self.rerun_action.setEnabled(can_rerun)
        self.rerun_action.setToolTip(
            "Send a new job with the same inputs (uses credits)"
            if can_rerun or not one
            else "This job has no stored inputs to send again"
        )
        self.delete_action.setEnabled(bool(ids))
        self.delete_action.setText(f"Delete {len(ids):,}…" if len(ids) > 1 else "Delete…")
        self.folder_action.setEnabled(one)
        # Checking every job of a 10,000-row selection is not worth it: the action says so.
        self.copy_action.setEnabled(bool(ids))

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.openRequested.emit(self.model.job_id(index.row()))

    @Slot()
    def _open(self) -> None:
        job_id = self._target_id()
        if job_id is not None:
            self.openRequested.emit(job_id)

    @Slot()
    def _rerun(self) -> None:
        ids = self.selected_job_ids()
        if len(ids) == 1:  # one at a time: a re-run spends credits
            self.rerunRequested.emit(ids[0])

    @Slot()
    def _delete(self) -> None:
        ids = self.selected_job_ids()
        if not ids:
            return
        if len(ids) == 1:
            what = f"job #{ids[0]}"
            question = f"Delete {what}?"
        else:
            what = f"these {len(ids):,} jobs"
            question = f"Delete {len(ids):,} jobs?"
        text = (
            f"{question}\n\nThe stored files of {what} are deleted from the data folder "
            "too: refined results, and input pictures no other job uses. "
            "This cannot be undone."
        )
        # Looked up at call time (not imported as a name) so tests can patch it.
        answer = QMessageBox.question(
            self,
            "Delete jobs",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        deleted: list[int] = []
        problems: list[str] = []
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            for job_id in ids:
                try:
                    self._store.delete(job_id)
                    deleted.append(job_id)
                except KeyError:
                    deleted.append(job_id)  # already gone: what the user wanted
                except JobStateError as exc:  # a live task: its record must stay
                    problems.append(str(exc))
                except OSError as exc:
                    problems.append(f"job #{job_id}: {exc.strerror or exc}")
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.refresh()
        if deleted:
            self.jobsDeleted.emit(deleted)
        if problems:
            QMessageBox.warning(
                self,
                "Some jobs were not deleted",
                "These could not be deleted (completely):\n" + "\n".join(problems[:10]),
            )

    @Slot()
    def _open_folder(self) -> None:
        job_id = self._target_id()
        if job_id is None:
            return
        try:
            job = self._store.get(job_id)
        except KeyError:
            self.refresh()
            return
        folder = job_folder(job, self._store)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    @Slot()
    def _copy_task_ids(self) -> None:
        task_ids = [j.task_id for j in self._selected_jobs() if j.task_id]
        if task_ids:
            QGuiApplication.clipboard().setText("\n".join(task_ids))

    @Slot(QPoint)
    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(
            index.row(), QModelIndex()
        ):
            self.select_job(self.model.job_id(index.row()))
        if not self.selected_job_ids():
            return
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addAction(self.rerun_action)
        menu.addSeparator()
        menu.addAction(self.folder_action)
        menu.addAction(self.copy_action)
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- Qt events --------------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        self.model.set_device_pixel_ratio(self.devicePixelRatioF())
        super().showEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._thumbs.set_palette(self.palette())
            self.model.palette_changed()
            self.table.viewport().update()
        elif event.type() == QEvent.Type.DevicePixelRatioChange:
            self.model.set_device_pixel_ratio(self.devicePixelRatioF())
        super().changeEvent(event)


def job_folder(job: Job, store: JobStore) -> Path:
    """The folder to show for ``job``: its result's, else its inputs', else the store's."""
    if job.result_path is not None and job.result_path.parent.is_dir():
        return job.result_path.parent
    coarse = job.input_path(COARSE) or next((i.path for i in job.inputs.values()), None)
    if coarse is not None and coarse.parent.is_dir():
        return coarse.parent
    return store.root
