"""The sandbox's named faults: the fault table the test suite runs, by name.

``refiner-cli sandbox --fault NAME`` injects the same faults as the test of that name
(``tests/helpers/fault_cases.py`` builds its table from here), so a misbehaviour seen in a
test can be watched by hand in the window or the CLI. A name says what misbehaves, where,
and how often: ``hang-poll`` (one poll gets no answer), ``error-poll-500-always`` (every
poll answers 500 for the next 100 polls), ``drop_connection-submit`` (the upload is taken,
the answer is lost: the outcome is unknown). No Qt.
"""

from __future__ import annotations

import dataclasses

from refiner_gui.sandbox.faults import Fault

_NAMED: dict[str, tuple[Fault, ...]] = {
    "error-submit-ERROR_PARAMETERS": (Fault("submit", "error", code="ERROR_PARAMETERS"),),
    "error-submit-ERROR_USER_NOT_EXISTS": (Fault("submit", "error", code="ERROR_USER_NOT_EXISTS"),),
    "error-submit-ERROR_USER_LOCKED": (Fault("submit", "error", code="ERROR_USER_LOCKED"),),
    "error-submit-ERROR_AI_NOT_EXISTS": (Fault("submit", "error", code="ERROR_AI_NOT_EXISTS"),),
    "error-submit-FILE_SIZE_EXCEEDS_LIMIT": (
        Fault("submit", "error", code="FILE_SIZE_EXCEEDS_LIMIT"),
    ),
    "error-submit-ERROR_NO_FACE_IN_FILE": (Fault("submit", "error", code="ERROR_NO_FACE_IN_FILE"),),
    "error-submit-ERROR_NOT_ENOUGH_CREDITS": (
        Fault("submit", "error", code="ERROR_NOT_ENOUGH_CREDITS"),
    ),
    "error-submit-SERVICE_INTERNAL_ERROR": (
        Fault("submit", "error", code="SERVICE_INTERNAL_ERROR"),
    ),
    "error-submit-AI_SERVICE_ERROR": (Fault("submit", "error", code="AI_SERVICE_ERROR"),),
    "error-submit-503-once": (Fault("submit", "error", code="AI_SERVICE_FLOW_RESTRICTION"),),
    "error-submit-503-always": (
        Fault("submit", "error", code="ERROR_INSUFFICIENT_RESOURCES", times=50),
    ),
    "error-poll-502-transient": (Fault("poll", "error", code="AI_SERVICE_ERROR", times=2),),
    "error-poll-500-always": (Fault("poll", "error", code="SERVICE_INTERNAL_ERROR", times=100),),
    "error-poll-404-not-found": (Fault("poll", "error", code="ERROR_RESOURCE_NOT_FOUND"),),
    "error-poll-410-revoked": (Fault("poll", "error", code="ERROR_TASK_REVOKED"),),
    "error-poll-401-key": (Fault("poll", "error", code="ERROR_USER_NOT_EXISTS"),),
    "error-download-500-transient": (Fault("download", "error", code="SERVICE_INTERNAL_ERROR"),),
    "error_in_200-submit": (Fault("submit", "error_in_200"),),
    "error_in_200-submit-credits": (
        Fault("submit", "error_in_200", code="ERROR_NOT_ENOUGH_CREDITS"),
    ),
    "error_in_200-poll-transient": (Fault("poll", "error_in_200"),),
    "task_failed": (Fault("submit", "task_failed"),),
    "task_failed-stopped": (Fault("submit", "task_failed", code="ERROR_TASK_STOPPED_PROCESSING"),),
    "poll_http_error": (Fault("submit", "poll_http_error"),),
    "poll_http_error-size": (Fault("submit", "poll_http_error", code="FILE_SIZE_EXCEEDS_LIMIT"),),
    "rate_limit-submit": (Fault("submit", "rate_limit", retry_after=0.05),),
    "rate_limit-submit-always": (Fault("submit", "rate_limit", retry_after=0.01, times=50),),
    "rate_limit-poll": (Fault("poll", "rate_limit", retry_after=0.05, times=2),),
    "rate_limit-poll-always": (Fault("poll", "rate_limit", retry_after=0.01, times=100),),
    "gateway_html-submit-502": (Fault("submit", "gateway_html"),),
    "gateway_html-submit-503": (Fault("submit", "gateway_html", http_status=503),),
    "gateway_html-poll-transient": (Fault("poll", "gateway_html", times=3),),
    "gateway_html-poll-always": (Fault("poll", "gateway_html", times=100),),
    "gateway_html-download-transient": (
        Fault("download", "gateway_html", http_status=504, times=2),
    ),
    "drop_connection-submit": (Fault("submit", "drop_connection"),),
    "drop_connection-poll": (Fault("poll", "drop_connection", times=2),),
    "drop_connection-download": (Fault("download", "drop_connection", times=2),),
    "drop_connection-download-always": (Fault("download", "drop_connection", times=100),),
    "hang-submit": (Fault("submit", "hang"),),
    "hang-poll": (Fault("poll", "hang"),),
    "expire_url-403": (Fault("download", "expire_url"),),
    "expire_url-404": (Fault("download", "expire_url", http_status=404),),
    "slow-download": (Fault("download", "slow", delay=0.3),),
    "slow-download-beyond-timeout": (Fault("download", "slow", delay=30, times=100),),
    "slow-submit": (Fault("submit", "slow", delay=0.2),),
}

FAULT_NAMES: tuple[str, ...] = tuple(_NAMED)
"""Every fault name, in table order (submit errors first, then by kind)."""


def named_faults(name: str) -> tuple[Fault, ...]:
    """Fresh copies of the faults called ``name`` (``KeyError`` for an unknown name)."""
    return tuple(dataclasses.replace(f) for f in _NAMED[name])
