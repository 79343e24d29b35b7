"""A local sandbox of the AILabTools Try on Clothes Refiner API, for demo mode and tests.

A real HTTP server on 127.0.0.1 that validates submissions like the real service, walks
tasks through queued -> processing -> succeeded by elapsed time, bills 25 credits per
success, and serves a "result" that is the coarse image stamped SANDBOX (it is not a model).
Faults (:class:`Fault`) make it misbehave the ways the real service does in the field::

    with SandboxServer(latency=0.3) as srv:
        srv.inject(Fault("poll", "rate_limit", retry_after=0.1))
        requests.get(srv.base_url + "/api/common/query-credits",
                     headers={"ailabapi-api-key": "any-non-empty-key"})

Fault kinds: ``error`` (an HTTP error with the full vendor body), ``error_in_200``,
``task_failed`` (task ends in status 3), ``poll_http_error`` (task ends as an HTTP error on
poll), ``rate_limit`` (429 with Retry-After), ``gateway_html`` (a proxy's HTML page),
``drop_connection`` (download: half the body; else no answer), ``hang`` (no answer until
stop), ``expire_url`` (download: storage 403/404 XML), ``slow`` (answer after ``delay``).
"""

from __future__ import annotations

from .faults import Fault
from .named_faults import FAULT_NAMES, named_faults
from .server import SandboxServer

__all__ = ["FAULT_NAMES", "Fault", "SandboxServer", "named_faults"]
