"""The API key: from the environment, the OS keyring, or (with no keyring) this session only.

Never written to disk in plain text, never logged. ``AILABAPI_API_KEY`` wins over the
keyring so scripts and CI can inject a key without touching the user's store.
No Qt; safe to call from any thread (keyring backends serialise themselves).

``keyring`` is imported inside the functions, on purpose: importing it probes the
platform's backends (~150 ms), which the window does on a background thread after its
first paint, so importing this module costs start-up nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from refiner_gui.api.errors import ConfigError, register_secret
from refiner_gui.api.keys import clean_api_key
from refiner_gui.config import API_KEY_ENV

log = logging.getLogger(__name__)

SERVICE = "refiner-gui"
USERNAME = "ailabapi-api-key"

_session_key: str | None = None


@dataclass(frozen=True)
class KeyLookup:
    """A found key (or None) and where it came from: env, keyring, session or none."""

    key: str | None
    source: str  # "env", "keyring", "session", or "none"


def keyring_available() -> bool:
    """True when a real keyring backend exists (not the fail/null/plaintext ones).

    The first call imports keyring and probes the platform's backends (~150 ms): the window
    makes it on a background thread after its first paint.
    """
    import keyring

    try:
        kr = keyring.get_keyring()
    except Exception:  # a broken backend configuration is the same as none
        return False
    module = type(kr).__module__
    if module.startswith(("keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file")):
        return False
    priority = getattr(kr, "priority", 1)
    return bool(priority and priority > 0)


def _cleaned(raw: str) -> str:
    """``raw`` with invisible characters removed; as it was (stripped) when it has a
    character no header can carry, so that the client refuses it with the reason."""
    register_secret(raw)
    try:
        return clean_api_key(raw)
    except ConfigError:
        return raw.strip()


def get_api_key() -> KeyLookup:
    """Where the key comes from, in order: env, keyring, session memory.

    Invisible characters a paste brings along (zero-width spaces, BOM, no-break spaces)
    are removed (:func:`~refiner_gui.api.keys.clean_api_key`)."""
    env = _cleaned(os.environ.get(API_KEY_ENV, ""))
    if env:
        register_secret(env)
        return KeyLookup(env, "env")
    if keyring_available():
        import keyring.errors  # also binds `keyring`

        try:
            stored = keyring.get_password(SERVICE, USERNAME)
        except keyring.errors.KeyringError as exc:
            log.warning("keyring read failed: %s", type(exc).__name__)
            stored = None
        stored = _cleaned(stored or "")
        if stored:
            register_secret(stored)
            return KeyLookup(stored, "keyring")
    if _session_key:
        return KeyLookup(_session_key, "session")
    return KeyLookup(None, "none")


def session_key() -> str | None:
    """The key kept for this session only (no keyring), or None: what a batch's own
    process (:mod:`refiner_gui.batch.child`) must be handed, having no other way to it."""
    return _session_key


def use_session_key(key: str | None) -> None:
    """Keep ``key`` for this session only, as :func:`set_api_key` does without a keyring
    (the batch's own process, handed the window's); the keyring is not touched."""
    global _session_key
    if key:
        register_secret(key)
    _session_key = key or None


def set_api_key(key: str) -> str:
    """Store ``key``; return where it went: ``"keyring"`` or ``"session"`` (no backend).

    The caller must tell the user when the answer is ``"session"``: the key is then
    forgotten when the app quits, by design (no plain-text fallback on disk).
    Raises :class:`~refiner_gui.api.errors.ConfigError` (nothing stored) for a key that
    :func:`~refiner_gui.api.keys.clean_api_key` refuses; invisible characters are removed.
    """
    global _session_key
    key = clean_api_key(key)
    register_secret(key)
    if keyring_available():
        import keyring.errors  # also binds `keyring`

        try:
            keyring.set_password(SERVICE, USERNAME, key)
            _session_key = None
            return "keyring"
        except keyring.errors.KeyringError as exc:
            log.warning(
                "keyring write failed (%s); keeping the key for this session only",
                type(exc).__name__,
            )
    _session_key = key
    return "session"


def clear_api_key() -> None:
    """Forget the key: this session's copy and the keyring's entry."""
    global _session_key
    _session_key = None
    if keyring_available():
        import keyring.errors  # also binds `keyring`

        # Nothing stored is the state we want, so a "not found" error is fine.
        with contextlib.suppress(keyring.errors.KeyringError):
            keyring.delete_password(SERVICE, USERNAME)
