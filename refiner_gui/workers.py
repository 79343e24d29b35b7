"""The workers that run jobs, and what a finished job hands to the GUI thread.

Each worker is a :class:`~refiner_gui.threads.Worker` started with
:func:`~refiner_gui.threads.start_worker` (by the job controller): one linear ``work``
on its own thread, through the core (:func:`refiner_gui.jobs.run_job`,
:func:`refiner_gui.jobs.recover`). Workers never touch a widget: they emit plain data
(events, errors, paths, QImages); QPixmaps are built by the receivers on the GUI
thread. Cancel is a :class:`~refiner_gui.api.CancelToken` (a ``threading.Event``) that the
core checks at every wake-up.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader

from refiner_gui.api import CancelToken, ProgressEvent, RefinerError
from refiner_gui.api.errors import ErrorInfo
from refiner_gui.api.progress import ProgressThrottle
from refiner_gui.atomic import shared_path
from refiner_gui.gil import GilYield
from refiner_gui.images.formats import REFUSED_MESSAGE, SNIFF_BYTES, sniff_qt_format
from refiner_gui.jobs import Job, JobStore, recover, run_job
from refiner_gui.slots import COARSE
from refiner_gui.threads import Worker
from refiner_gui.zoom_levels import scaled_levels

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from refiner_gui.api import RefinerClient

ClientFactory = Callable[[], "RefinerClient"]


def load_image(path: Path, max_side: int | None = None) -> QImage:
    """Decode ``path`` (EXIF-rotated) to a QImage, scaled so no side exceeds ``max_side``.

    A null QImage when the file cannot be read or its content is none of the formats
    :func:`~refiner_gui.images.formats.sniff_qt_format` names (no decoder runs for it then).
    Safe on any thread (QImage is not a GUI object). JPEG decoders honour the scaled size
    during decoding, so a thumbnail of a 4095 px photo never holds the full pixels.
    """
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return QImage()
    # The core names the format from the content (see sniff_qt_format for why Qt must not
    # probe), and Qt uses that format's decoder only: a file of any other kind, whatever its
    # name, is refused before a decoder runs.
    fmt = sniff_qt_format(head)
    if fmt is None:
        log.warning("not decoding %s: %s", path.name, REFUSED_MESSAGE)
        return QImage()
    reader = QImageReader(str(path), fmt.encode("ascii"))
    reader.setAutoDetectImageFormat(False)
    reader.setAutoTransform(True)
    if max_side:
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > max_side:
            scaled = size.scaled(QSize(max_side, max_side), Qt.AspectRatioMode.KeepAspectRatio)
            reader.setScaledSize(scaled)
    image = reader.read()
    return image


@dataclass(frozen=True)
class JobRequest:
    """A new job: the files to upload by slot (fixed copies where the user pressed Fix).

    ``generate_coarse`` ("pro" or "premium") makes the coarse image first with Try on
    Clothes Pro/Premium (``files`` then hold no coarse image), then refines it; with
    ``coarse_only`` the job stops once the coarse image is made
    (:mod:`refiner_gui.jobs.two_stage`).
    """

    files: dict[str, Path]
    gender: str
    parent_id: int | None = None
    generate_coarse: str | None = None
    coarse_only: bool = False

    @property
    def kind(self) -> str:
        """The stored job's kind: "refine", "tryon" or "tryon_refine"."""
        if self.generate_coarse is None:
            return "refine"
        return "tryon" if self.coarse_only else "tryon_refine"

    # By slot: the name of the file the user gave, where ``files`` holds a copy (Fix's, or
    # a re-run's stored one); recorded beside the uploaded name for provenance.
    original_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobOutcome:
    """What a successful job hands to the GUI thread: the stored job, its decoded coarse
    input and refined result, and their zoom levels (half, quarter, … size), made off the
    GUI thread so that showing them costs it only the QPixmap conversion."""

    job: Job
    coarse: QImage
    refined: QImage
    coarse_levels: tuple[QImage, ...] = ()
    refined_levels: tuple[QImage, ...] = ()


def load_job_images(job: Job) -> JobOutcome:
    """Decode a finished job's coarse input and refined result and make their zoom levels.

    Any thread (it touches only Qt classes the GUI thread loaded: see
    :mod:`refiner_gui.zoom_levels`). Raises ``ValueError`` when the job has no result."""
    coarse_path = job.input_path(COARSE)
    if coarse_path is None or job.result_path is None:
        raise ValueError(f"job {job.id} has no result to show")
    coarse, refined = load_image(coarse_path), load_image(job.result_path)
    # Made in strips, giving the GUI thread the GIL between them (see GilYield).
    give_way = GilYield()
    return JobOutcome(
        job,
        coarse,
        refined,
        scaled_levels(coarse, pause=give_way),
        scaled_levels(refined, pause=give_way),
    )


class JobWorker(Worker):
    """Runs one durable job on a worker thread. Create on the GUI thread, then start it
    with :func:`~refiner_gui.threads.start_worker`.

    A new job is written to the store (inputs copied) on the worker thread, so large
    inputs never stall the GUI; ``created(job_id)`` says so before anything is sent. The
    store is updated before every step (see :mod:`refiner_gui.jobs.runner`). Signals are
    emitted on the worker thread and delivered queued to GUI-thread slots; exactly one of
    ``succeeded`` and ``failed`` precedes ``finished``.

    Args:
        client_factory: builds the job's client; called on the worker thread, so it must
            not read anything the GUI thread may change (see :mod:`refiner_gui.clients`).
        store: the job store (thread-safe).
        request: a new job to create and run; or
        resume_job_id: a stored job to wait for again (never re-submitted).
    """

    created = Signal(int)  # job id: the job exists durably from here on
    progress = Signal(object)  # ProgressEvent
    submitted = Signal(object)  # Submission: the task id is stored from here on
    succeeded = Signal(object)  # JobOutcome
    failed = Signal(object)  # RefinerError (Cancelled included)

    def __init__(
        self,
        client_factory: ClientFactory,
        store: JobStore,
        request: JobRequest | None = None,
        *,
        resume_job_id: int | None = None,
    ) -> None:
        super().__init__()
        if (request is None) == (resume_job_id is None):
            raise ValueError("give either a request or a job id to resume")
        self._client_factory = client_factory
        self._store = store
        self._request = request
        self._resume_job_id = resume_job_id
        self.token = CancelToken()

    def cancel(self) -> None:
        """Ask the job to stop. Any thread; seen within one wake-up of the core (0.2 s)."""
        super().cancel()
        self.token.cancel()

    def work(self) -> None:
        """The whole job, linearly. Worker thread."""
        client: RefinerClient | None = None
        task_id: str | None = None
        try:
            # The client first: settings or a key it refuses leave no job behind.
            client = self._client_factory()
            if self._request is not None:
                job = self._store.create_job(
                    self._request.files,
                    self._request.gender,
                    parent_id=self._request.parent_id,
                    kind=self._request.kind,
                    tryon_model=self._request.generate_coarse,
                    original_names=self._request.original_names,
                )
            else:
                assert self._resume_job_id is not None
                job = self._store.get(self._resume_job_id)
            task_id = job.task_id
            self.created.emit(job.id)
            throttle = ProgressThrottle(self.progress.emit)
            give_way = GilYield()

            def on_event(event: ProgressEvent) -> None:
                # Called per 64 KB chunk while uploading and downloading: a loop of
                # short socket calls, which can starve the GUI thread of the GIL too.
                give_way()
                throttle(event)

            final = run_job(
                self._store,
                client,
                job,
                cancel=self.token,
                on_event=on_event,
                on_submitted=self.submitted.emit,
            )
            self.succeeded.emit(load_job_images(final))
        except RefinerError as err:
            self.failed.emit(
                err.with_context(task_id=task_id) if task_id and not err.task_id else err
            )
        except Exception as exc:  # a bug must still end the job visibly, never hang it
            log.exception("job crashed")
            self.failed.emit(
                RefinerError(
                    f"Unexpected error: {type(exc).__name__}: {exc}", ErrorInfo(task_id=task_id)
                )
            )
        finally:
            if client is not None:
                client.close()


class RecoveryWorker(Worker):
    """Finishes the jobs a crash or quit left unfinished (see ``jobs.recover``).

    Worker thread; ``settled(job_id)`` after each job, ``summary(list[Job])`` at the end
    (not emitted if recovery itself failed: that is logged, and the jobs stay resumable).
    ``job_ids``: only these jobs (the unfinished ones when recovery was asked for), so a
    job started meanwhile is never taken for an abandoned one.
    """

    settled = Signal(int)
    summary = Signal(object)

    def __init__(
        self,
        client_factory: ClientFactory,
        store: JobStore,
        job_ids: frozenset[int] | None = None,
    ) -> None:
        super().__init__()
        self._client_factory = client_factory
        self._store = store
        self._job_ids = job_ids
        self.token = CancelToken()

    def cancel(self) -> None:
        """Ask recovery to stop (any thread); unfinished jobs stay for next time."""
        super().cancel()
        self.token.cancel()

    def work(self) -> None:
        """Recover every unfinished job. Worker thread."""
        jobs = recover(
            self._store,
            self._client_factory,
            cancel=self.token,
            on_job=lambda job, _err: self.settled.emit(job.id),
            only=self._job_ids,
        )
        self.summary.emit(jobs)


def save_image_png(image: QImage, dest_dir: Path, stem: str = "pasted") -> Path:
    """Save ``image`` as a new PNG file in ``dest_dir`` (created if missing); return its path.

    Safe on any thread (QImage is not a GUI object; the caller must not modify ``image``
    meanwhile). Written to a temporary name and renamed, so a reader never sees a partial
    file. The name is ``<stem>-<random>.png``, never an existing file. Raises ``OSError``
    with a plain message when the image is empty or cannot be written.
    """
    if image.isNull():
        raise OSError("The pasted or dropped picture is empty.")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"{stem}-{uuid.uuid4().hex[:10]}.png"
    with shared_path(out) as tmp:
        # str, though PySide's stub says bytes: at run time bytes is refused (6.11).
        if not image.save(str(tmp), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"Could not save the picture into {dest_dir.name}.")
    return out
