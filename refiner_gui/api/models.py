"""Plain data the client takes and returns. No Qt, no I/O."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from refiner_gui.slots import BOTTOM, COARSE, GENDERS, PERSON, TOP


@dataclass(frozen=True)
class RefineInputs:
    """The files and choice for one refinement. Paths are read at submit time.

    ``sha256`` maps a slot to the hash its file must have when read for the upload (the
    job store's record); a file whose bytes differ is refused before anything is sent.
    """

    person: Path
    top: Path
    coarse: Path
    gender: str
    bottom: Path | None = None
    sha256: Mapping[str, str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.gender not in GENDERS:
            raise ValueError(f"gender must be one of {', '.join(GENDERS)}, not {self.gender!r}")

    def files(self) -> dict[str, Path]:
        """The multipart file fields, in the order they are sent."""
        files = {PERSON: Path(self.person), TOP: Path(self.top), COARSE: Path(self.coarse)}
        if self.bottom is not None:
            files[BOTTOM] = Path(self.bottom)
        return files


TRYON_MODELS = ("pro", "premium")
"""The try-on endpoints that make a coarse image (contract, section 6)."""


@dataclass(frozen=True)
class TryOnInputs:
    """The files for one Try on Clothes Pro/Premium call (the coarse image's maker).

    ``resolution`` -1 keeps the person photo's size and ``restore_face`` True keeps the
    face: what the vendor requires when the result is to be refined. ``sha256`` as in
    :class:`RefineInputs`.
    """

    person: Path
    top: Path
    bottom: Path | None = None
    resolution: int = -1
    restore_face: bool = True
    sha256: Mapping[str, str] | None = field(default=None, compare=False)

    def files(self) -> dict[str, Path]:
        """The multipart file fields, in the order they are sent."""
        files = {PERSON: Path(self.person), TOP: Path(self.top)}
        if self.bottom is not None:
            files[BOTTOM] = Path(self.bottom)
        return files


@dataclass(frozen=True)
class Submission:
    """The service's answer to a submit: the new task's id and the support ids."""

    task_id: str
    request_id: str | None = None
    log_id: str | None = None


class TaskState(enum.IntEnum):
    """A task's state as the service numbers it (``task_status``)."""

    QUEUED = 0
    PROCESSING = 1
    SUCCEEDED = 2
    FAILED = 3


@dataclass(frozen=True)
class TaskStatus:
    """One poll's answer: the state, and the result link once it succeeded."""

    task_id: str
    state: TaskState
    image_url: str | None = None
    image_count: int | None = None
    request_id: str | None = None
    log_id: str | None = None


@dataclass(frozen=True)
class CreditBalance:
    """One credit balance of the account (``query-credits``)."""

    unique_sign: str
    name: str
    balance: float
    total: float | None = None


class Stage(str, enum.Enum):
    """The steps of a job as progress reports them."""

    CHECKING = "checking"
    WAITING_SLOT = "waiting (5 tasks running)"  # the app's other work fills the service
    UPLOADING = "uploading"
    QUEUED = "queued"
    PROCESSING = "processing"
    DOWNLOADING = "downloading"
    DONE = "done"


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a job, for progress lines and the window's status.

    ``bytes_done``/``bytes_total`` are set while uploading and downloading;
    ``expected_left`` (seconds) while the task runs, when the job history can tell.
    """

    stage: Stage
    elapsed: float
    task_id: str | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None
    attempt: int | None = None
    note: str | None = None
    expected_left: float | None = None
    step: str | None = None  # a two-stage job's stage: "tryon" or "refine"; None for one


class CancelToken:
    """A cancel flag shared between the thread that asks and the thread that works.

    The working thread sleeps with :meth:`wait`, so a cancel is seen within one wake-up,
    not after the full poll interval. Thread-safe.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the working thread to stop. Any thread; idempotent."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel was asked. Any thread."""
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return True at once if cancelled."""
        return self._event.wait(max(0.0, seconds))


ProgressCallback = Callable[[ProgressEvent], None]
