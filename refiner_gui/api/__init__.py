"""The API layer: client, response parsing, typed errors. Imports no Qt.

The client (and with it ``requests``, ~80 ms to import) loads on first use, so the window
can paint before it needs the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refiner_gui.api.errors import (
    AuthError,
    BadRequest,
    Cancelled,
    ConfigError,
    CreditsError,
    DownloadError,
    InputRejected,
    NetworkError,
    NoFreeSlot,
    RateLimited,
    RefinerError,
    ResultUnavailable,
    ServiceUnavailable,
    SubmissionOutcomeUnknown,
    TaskFailed,
    TaskNotFound,
    TimedOut,
    classify,
)
from refiner_gui.api.models import (
    CancelToken,
    CreditBalance,
    ProgressEvent,
    RefineInputs,
    Stage,
    Submission,
    TaskState,
    TaskStatus,
)
from refiner_gui.api.progress import PROGRESS_INTERVAL_S, ProgressThrottle
from refiner_gui.api.retry import RetryPolicy

__all__ = [
    "AuthError",
    "BadRequest",
    "CancelToken",
    "Cancelled",
    "ConfigError",
    "CreditBalance",
    "CreditsError",
    "DownloadError",
    "InputRejected",
    "NetworkError",
    "NoFreeSlot",
    "PROGRESS_INTERVAL_S",
    "ProgressEvent",
    "ProgressThrottle",
    "RateLimited",
    "RefineInputs",
    "RefinerClient",
    "RefinerError",
    "ResultUnavailable",
    "RetryPolicy",
    "ServiceUnavailable",
    "Stage",
    "Submission",
    "SubmissionOutcomeUnknown",
    "TaskFailed",
    "TaskNotFound",
    "TaskState",
    "TaskStatus",
    "TimedOut",
    "classify",
    "is_loopback_url",
]

_LAZY = {"RefinerClient", "is_loopback_url"}

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient, is_loopback_url


def __getattr__(name: str) -> Any:
    """Load the client (and ``requests``) on first use of :data:`_LAZY` names."""
    if name in _LAZY:
        # Imported here on purpose: requests takes ~80 ms to load (see the module doc).
        from refiner_gui.api import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
