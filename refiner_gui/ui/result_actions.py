"""Saving, copying and exporting what the window shows: the refined image (with its
provenance), the comparison image, the review export, the output folder.

Asks with file dialogs parented to the window and reports in its status bar. GUI thread
only; exports are written on the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from refiner_gui import reports
from refiner_gui.jobs import Job, JobStore
from refiner_gui.outputs import render_name
from refiner_gui.provenance import build_record, save_with_provenance
from refiner_gui.settings import Settings
from refiner_gui.threads import run_task
from refiner_gui.ui.history import HistoryPanel
from refiner_gui.ui.viewer.compare_view import CompareViewer
from refiner_gui.workers import JobOutcome

EXPORTERS: dict[str, Callable[[list[Job], Path], Path]] = {
    ".html": reports.export_html,
    ".csv": reports.export_csv,
    ".json": reports.export_json,
    ".pdf": reports.export_contact_sheet,
    ".png": reports.export_contact_sheet,
}

EXPORT_FILTERS = (
    "HTML report (*.html);;CSV table (*.csv);;JSON (*.json);;"
    "Contact sheet PDF (*.pdf);;Contact sheet PNG (*.png)"
)


class ResultActions(QObject):
    """The window's save, copy and export commands.

    Args:
        window: parent of the dialogs; its status bar gets the messages.
        settings: the current settings (read at each command: they may be replaced).
        shown: the outcome the viewer shows, or None.
        viewer: the compare viewer (for the comparison image).
        history: its visible jobs are what an export covers.
        store: where exported jobs are read from (on the pool thread).
    """

    def __init__(
        self,
        window: QMainWindow,
        settings: Callable[[], Settings],
        shown: Callable[[], JobOutcome | None],
        viewer: Callable[[], CompareViewer],
        history: HistoryPanel,
        store: JobStore,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._shown = shown
        self._viewer = viewer
        self._history = history
        self._store = store

    def _say(self, text: str, ms: int = 8000) -> None:
        self._window.statusBar().showMessage(text, ms)

    def _default_name(self, job: Job, suffix: str) -> Path:
        settings = self._settings()
        stem = render_name(
            settings.filename_pattern,
            task_id=job.task_id or str(job.id),
            when=datetime.fromtimestamp(job.finished_at or job.created_at),
            gender=job.gender,
            names={slot: item.given_name for slot, item in job.inputs.items()},
        )
        return settings.output_path() / f"{stem}{suffix}"

    @Slot()
    def save_refined(self) -> Path | None:
        """Ask where, then save the refined image with provenance; the path, or None.

        Never overwrites silently (the file dialog confirms replacing)."""
        outcome = self._shown()
        if outcome is None or outcome.job.result_path is None:
            return None
        suffix = ".jpg" if self._settings().save_format == "jpg" else ".png"
        default = self._default_name(outcome.job, suffix)
        default.parent.mkdir(parents=True, exist_ok=True)
        name, _ = QFileDialog.getSaveFileName(
            self._window,
            "Save refined image",
            str(default),
            "PNG image (*.png);;JPEG image (*.jpg *.jpeg)",
        )
        if not name:
            return None
        dest = Path(name)
        if dest.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            dest = dest.with_suffix(suffix)
        try:
            # The dialog already asked before replacing an existing file.
            save_with_provenance(
                outcome.job.result_path, dest, build_record(outcome.job), overwrite=True
            )
        except (OSError, ValueError) as exc:
            QMessageBox.warning(
                self._window, "Could not save", f"Could not save {dest.name}: {exc}"
            )
            return None
        self._say(f"Saved {dest}")
        return dest

    @Slot()
    def save_comparison(self) -> Path | None:
        """Ask where, then save the viewer's comparison image; the path, or None."""
        outcome = self._shown()
        if outcome is None:
            return None
        default = self._default_name(outcome.job, "_comparison.png")
        default.parent.mkdir(parents=True, exist_ok=True)
        name, _ = QFileDialog.getSaveFileName(
            self._window,
            "Save comparison",
            str(default),
            "PNG image (*.png);;JPEG image (*.jpg)",
        )
        if not name:
            return None
        if not self._viewer().comparison_image().save(name):
            QMessageBox.warning(
                self._window, "Could not save", f"Could not save {Path(name).name}."
            )
            return None
        self._say(f"Saved {name}")
        return Path(name)

    @Slot()
    def export_review(self) -> None:
        """Export the history's current (filtered) jobs; written on the thread pool and
        announced in the status bar."""
        ids = self._history.visible_job_ids()
        if not ids:
            self._say("No jobs to export: the history list is empty.", 6000)
            return
        folder = self._settings().output_path()
        folder.mkdir(parents=True, exist_ok=True)
        default = folder / f"review_{datetime.now():%Y-%m-%d_%H%M}.html"
        name, _ = QFileDialog.getSaveFileName(
            self._window, f"Export the review of {len(ids)} jobs", str(default), EXPORT_FILTERS
        )
        if not name:
            return
        dest = Path(name)
        export = EXPORTERS.get(dest.suffix.lower())
        if export is None:
            QMessageBox.warning(
                self._window, "Export", "Choose a .html, .csv, .json, .pdf or .png file name."
            )
            return
        store, count = self._store, len(ids)

        def work() -> Path:
            return export(store.get_many(ids), dest)

        def done(path: Path) -> None:
            self._say(f"Exported {count} jobs to {path}", 10_000)

        def failed(exc: Exception) -> None:
            QMessageBox.warning(
                self._window, "Export failed", f"The export could not be written: {exc}"
            )

        self._window.statusBar().showMessage(f"Exporting {count} jobs…")
        run_task(work, done, failed, owner=self)

    @Slot()
    def copy_refined(self) -> None:
        """Put the shown refined image on the clipboard."""
        outcome = self._shown()
        if outcome is not None:
            QGuiApplication.clipboard().setImage(outcome.refined)
            self._say("Refined image copied.", 4000)

    @Slot()
    def open_output_folder(self) -> None:
        """Open the output folder (made if missing) in the file manager."""
        folder = self._settings().output_path()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
