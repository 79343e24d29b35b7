"""Testing an API key: one credits query off the GUI thread, its answer in plain words.

:class:`KeyTester` is the "Test key" button's worker side in the Settings dialog: it runs
the query on the global thread pool and reports ``(kind, text)`` for an inline note. The
helpers here (:func:`default_client_factory`, :func:`universal_balance`,
:func:`format_credits`) are plain functions.

Threads: :class:`KeyTester` lives on the GUI thread and reports there; only the query
function runs on a pool thread, and it touches no widget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from refiner_gui.api.client import ConfigError, RefinerClient, RetryPolicy
from refiner_gui.api.errors import RefinerError, redact
from refiner_gui.api.models import CancelToken, CreditBalance
from refiner_gui.threads import run_task

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], RefinerClient]
"""``(api_key, base_url) -> RefinerClient``; called on a pool thread."""


def default_client_factory(api_key: str, base_url: str) -> RefinerClient:
    """The client "Test key" uses: two tries only, so a dead network answers in seconds.

    Called on a pool thread.
    """
    return RefinerClient(api_key, base_url, retry=RetryPolicy(attempts=2))


def universal_balance(balances: list[CreditBalance]) -> CreditBalance | None:
    """The universal-credits entry (``unique_sign`` ``common``), else the first one."""
    for b in balances:
        if b.unique_sign == "common":
            return b
    return balances[0] if balances else None


def format_credits(value: float) -> str:
    """``1000.0`` -> ``"1,000"``; fractions keep two decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def describe_balances(balances: list[CreditBalance]) -> str:
    """The note for a key that works: its universal credit balance, if any."""
    best = universal_balance(balances)
    if best is None:
        return "Key works · no credit balance reported"
    return f"Key works · {format_credits(best.balance)} credits"


def describe_failure(exc: BaseException) -> str:
    """The note for a failed test: the service's words, or that it was a bug (logged)."""
    if isinstance(exc, RefinerError):
        return f"{exc.title}: {exc.user_message}"
    if isinstance(exc, ConfigError):
        return redact(str(exc))
    # A bug, not a key problem: say so and keep the details in the log.
    log.error("key test failed: %s: %s", type(exc).__name__, redact(str(exc)))
    return f"The key test failed unexpectedly ({type(exc).__name__}). See the log."


class KeyTester(QObject):
    """Runs one key test at a time; a newer start or :meth:`cancel` makes older answers
    stale, and stale answers are never reported.

    Signals:
        finished(str, str): ``("ok", text)`` or ``("error", text)``, on the GUI thread,
            once per test that was not cancelled or superseded.

    Args:
        client_factory: builds the client for a key and address (on a pool thread).
    """

    finished = Signal(str, str)

    def __init__(self, client_factory: ClientFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._client_factory = client_factory
        self._generation = 0
        self._cancel_token: CancelToken | None = None  # set while a test runs

    def running(self) -> bool:
        """True from :meth:`start` until its answer or :meth:`cancel`."""
        return self._cancel_token is not None

    def start(self, key: str, base_url: str) -> None:
        """Query the credits with ``key`` at ``base_url`` (cancelling a running test)."""
        self.cancel()
        cancel = CancelToken()
        factory = self._client_factory

        def query() -> list[CreditBalance]:  # pool thread: no widgets here
            client = factory(key, base_url)
            try:
                return client.credits(cancel=cancel)
            finally:
                client.close()

        generation = self._generation
        self._cancel_token = cancel

        def done(balances: list[CreditBalance]) -> None:  # GUI thread
            if generation == self._generation:
                self._finish("ok", describe_balances(balances))

        def failed(exc: Exception) -> None:  # GUI thread
            if generation == self._generation:
                self._finish("error", describe_failure(exc))

        run_task(query, done, failed, owner=self)

    def cancel(self) -> None:
        """Tell a running query to stop and forget it: its answer will be dropped."""
        if self._cancel_token is not None:
            self._cancel_token.cancel()
        self._cancel_token = None
        self._generation += 1

    def _finish(self, kind: str, text: str) -> None:
        self._cancel_token = None
        self.finished.emit(kind, text)
