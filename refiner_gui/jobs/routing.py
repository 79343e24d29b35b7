"""Which service a stored job is polled at: the one it was submitted to, and no other.

No Qt. Every job records the base URL its upload went to (``jobs.base_url``). A task id
means something only to that service, and the user's API key is meant only for the
service they configured, so a job that waits again (the window's Resume, start-up
recovery, ``refiner-cli resume``) is polled:

* at the current client's address when it is the one recorded (or none is recorded:
  rows from before schema 4 keep the old behaviour);
* at its own loopback address when it went to a local sandbox that is still listening,
  with the sandbox key (:data:`SANDBOX_KEY`), never the user's key;
* nowhere, when it went to a local sandbox that is gone: its tasks lived in that
  sandbox's memory, so the job is settled EXPIRED (a sandbox bills nothing);
* nowhere, when it went to another real service: it is left waiting, untouched, with
  :class:`ServiceMismatch` saying where it went and how to fetch it.

So a sandbox task is never sent to the real service, a real task never to a sandbox, and
neither the task id nor the key goes to a host that did not receive the upload.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from refiner_gui.api.errors import ErrorInfo, RefinerError

if TYPE_CHECKING:
    from refiner_gui.api.client import RefinerClient
    from refiner_gui.jobs.models import Job

SANDBOX_KEY = "demo-key"
"""The key sent to a local sandbox a job was submitted to (any non-empty key works there;
the same as demo mode's). The user's own key never goes to an address it was not set for."""

PROBE_TIMEOUT = 0.5
"""Seconds to wait for a loopback sandbox to accept a connection (it answers at once when
it runs; a refused connection is immediate)."""


class ServiceMismatch(RefinerError):
    """The job was submitted to another service than the one the app now uses: it was
    left waiting, and nothing about it was sent anywhere. Switch back to fetch it."""

    title = "Sent to another service"
    advice = (
        "This job was sent to another service than the one in Settings. Switch back to it "
        "to fetch the result; nothing was sent meanwhile."
    )


class SandboxGone(RefinerError):
    """The job went to a local sandbox that no longer runs: its task ended with it."""

    title = "Sandbox task gone"
    advice = "The local sandbox this job was sent to has stopped; re-run the job."


def normal_url(url: str) -> str:
    """``url`` compared as the client sees it: scheme and host lower-case, no trailing
    slash, the default port made explicit."""
    parts = urlsplit(url.strip().rstrip("/"))
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}{parts.path}"


def same_service(a: str, b: str) -> bool:
    """Whether two base URLs name the same service."""
    return normal_url(a) == normal_url(b)


def sandbox_listening(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether something accepts connections at loopback ``url`` (nothing is sent)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def polling_client(job: Job, current: RefinerClient) -> RefinerClient | None:
    """The client to poll ``job`` with: ``current``, or a new client for the job's own
    sandbox (the caller closes that one; None means ``current``).

    Raises:
        ServiceMismatch: the job went to another non-loopback service (nothing sent).
        SandboxGone: the job went to a loopback sandbox that no longer listens.

    Any thread; may wait up to :data:`PROBE_TIMEOUT` to probe a loopback port.
    """
    # Imported here: the client module loads requests (see runner's note).
    from refiner_gui.api.client import RefinerClient, is_loopback_url

    recorded = job.base_url
    if not recorded or same_service(recorded, current.base_url):
        return None
    info = ErrorInfo(task_id=job.task_id)
    if not is_loopback_url(recorded):
        raise ServiceMismatch(
            f"Job {job.id} was sent to {recorded}, but the app now uses "
            f"{current.base_url}. It was not checked there (its task id and your key go "
            f"only to the service that has it). Set the service address back to "
            f"{recorded} to fetch its result (within 24 hours of sending).",
            info,
        )
    if not sandbox_listening(recorded):
        raise SandboxGone(
            f"Job {job.id} was sent to the local sandbox at {recorded}, which is no "
            "longer running: its task ended with it (a sandbox bills nothing). Re-run the "
            "job to refine these images.",
            info,
        )
    return RefinerClient(
        SANDBOX_KEY,
        recorded,
        poll_interval=current.poll_interval,
        timeout=current.timeout,
        adaptive_polling=current.adaptive_polling,
        retry=current.retry,
    )


def refining_client(job: Job, current: RefinerClient) -> RefinerClient | None:
    """The client to send the refinement of a two-stage job whose coarse image is stored
    (the job PENDING between its stages): the service that made the coarse image, as
    :func:`polling_client` decides, so a sandbox's placeholder image is never refined (and
    billed) by the real service, nor a real one sent to a sandbox. None means ``current``.

    Raises:
        ServiceMismatch: the coarse image came from another non-loopback service; nothing
            was sent (the job can be refined once the app points there again).
        SandboxGone: it came from a loopback sandbox that no longer listens.
    """
    recorded = job.base_url
    try:
        return polling_client(job, current)
    except ServiceMismatch as err:
        raise ServiceMismatch(
            f"Job {job.id}'s coarse image was made by {recorded}, but the app now uses "
            f"{current.base_url}, so its refinement was not sent (it would be billed there "
            f"for an image it did not make). Set the service address back to {recorded} "
            "to refine it, or re-run the job.",
            err.info,
        ) from None
    except SandboxGone as err:
        raise SandboxGone(
            f"Job {job.id}'s coarse image was made by the local sandbox at {recorded}, "
            "which is no longer running; its refinement was not sent to "
            f"{current.base_url} (a sandbox's placeholder is never refined by another "
            "service, nothing was billed). Re-run the job to refine these images.",
            err.info,
        ) from None
