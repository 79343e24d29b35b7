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
    RefineResult,
    Stage,
    Submission,
    TaskState,
    TaskStatus,
)

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
    "ProgressEvent",
    "RateLimited",
    "RefineInputs",
    "RefineResult",
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

_LAZY = {"RefinerClient", "RetryPolicy", "is_loopback_url"}

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient, RetryPolicy, is_loopback_url


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from refiner_gui.api import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
