"""The API layer: client, response parsing, typed errors. Imports no Qt."""

from refiner_gui.api.client import ConfigError, RefinerClient, RetryPolicy, is_loopback_url
from refiner_gui.api.errors import (
    AuthError,
    BadRequest,
    Cancelled,
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
    "AuthError", "BadRequest", "CancelToken", "Cancelled", "ConfigError", "CreditBalance",
    "CreditsError", "DownloadError", "InputRejected", "NetworkError", "ProgressEvent",
    "RateLimited", "RefineInputs", "RefineResult", "RefinerClient", "RefinerError",
    "ResultUnavailable", "RetryPolicy", "ServiceUnavailable", "Stage", "Submission",
    "SubmissionOutcomeUnknown", "TaskFailed", "TaskNotFound", "TaskState", "TaskStatus",
    "TimedOut", "classify", "is_loopback_url",
]
