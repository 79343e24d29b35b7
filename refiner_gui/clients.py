"""Where a job gets its API client: the settings and the key store in, a client out.

No Qt. Whoever runs jobs (the window's job controller, a batch queue, the command line)
is handed a :data:`ClientFactory` and calls it on the thread that runs the job. A factory
made by :func:`client_factory` holds a snapshot of the connection settings taken when it
was made, so a worker never reads settings another thread may replace meanwhile; the key
is looked up when the client is built (the keyring may take a moment, and the user may
have just stored it).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from refiner_gui.api import AuthError, ConfigError, RefinerClient, RefinerError
from refiner_gui.api.client import is_loopback_url
from refiner_gui.config import DEFAULT_POLL_INTERVAL
from refiner_gui.keystore import KeyLookup, get_api_key
from refiner_gui.settings import Settings

ClientFactory = Callable[[], RefinerClient]
"""Builds a client for one job; called on the thread that runs it. The caller closes it."""


@dataclass(frozen=True)
class ConnectionSettings:
    """The settings a client is built from (a snapshot; immutable, so any thread)."""

    base_url: str
    poll_interval: float
    timeout: float
    adaptive_polling: bool = False

    @classmethod
    def of(cls, settings: Settings) -> ConnectionSettings:
        """The connection part of ``settings``, as they are now."""
        auto = settings.poll_mode == "auto"
        interval = settings.poll_interval
        if auto and not is_loopback_url(settings.base_url):
            # Auto plans within the budget of the vendor's 5 s, whatever the fixed value
            # says (on a loopback sandbox, that value is its time scale).
            interval = DEFAULT_POLL_INTERVAL
        return cls(settings.base_url, interval, settings.timeout, auto)


@dataclass(frozen=True)
class KeyedClientFactory:
    """A :data:`ClientFactory` for the real service: the stored key and fixed settings.

    Calling it raises :class:`~refiner_gui.api.AuthError` when no key is stored, and a
    :class:`~refiner_gui.api.RefinerError` saying to fix Settings when they are invalid.
    Any thread; the key lookup may block briefly (the OS keyring).
    """

    connection: ConnectionSettings
    lookup_key: Callable[[], KeyLookup] = get_api_key

    def __call__(self) -> RefinerClient:
        key = self.lookup_key().key
        if not key:
            raise AuthError("No API key is set. Add your AILabTools key in Settings.")
        try:
            return RefinerClient(
                key,
                self.connection.base_url,
                poll_interval=self.connection.poll_interval,
                timeout=self.connection.timeout,
                adaptive_polling=self.connection.adaptive_polling,
            )
        except ConfigError as exc:
            raise RefinerError(f"{exc} Fix it in Settings.") from None


def client_factory(settings: Settings) -> ClientFactory:
    """A factory for clients of the service ``settings`` name, with the stored key.

    Call again after the settings change; factories already handed out keep theirs."""
    return KeyedClientFactory(ConnectionSettings.of(settings))


@dataclass(frozen=True)
class FixedClientFactory:
    """A :data:`ClientFactory` with its key and client options fixed: the demo sandbox's,
    a test's, a benchmark's. Plain data, so it can be handed to a batch's own process
    (:mod:`refiner_gui.batch.child`) over its private pipe. The key is left out of
    ``repr``, so it never reaches a log. Any thread."""

    api_key: str = field(repr=False)
    base_url: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self) -> RefinerClient:
        return RefinerClient(self.api_key, self.base_url, **dict(self.options))


def is_portable(factory: ClientFactory) -> bool:
    """Whether ``factory`` builds the same clients in another process: a
    :class:`FixedClientFactory`, or a :class:`KeyedClientFactory` reading the app's key
    store (which the other process reads too; a key kept for this session only must be
    handed over: :func:`refiner_gui.keystore.session_key`). Not a closure, nor a factory
    with its own way to find the key: being picklable is not enough."""
    if isinstance(factory, KeyedClientFactory):
        portable = factory.lookup_key is get_api_key
    else:
        portable = isinstance(factory, FixedClientFactory)
    if not portable:
        return False
    try:
        pickle.dumps(factory)
    except Exception:  # e.g. options holding something that cannot cross (a lock, a socket)
        return False
    return True
