"""Secrets out of every text: the API key is registered once and replaced everywhere.

A module of its own, with no imports beyond ``re``, because logging and the crash hook need
it before the window's first paint, when importing the API package would cost ~8 ms.
:mod:`refiner_gui.api.errors` re-exports both functions. Any thread.
"""

from __future__ import annotations

import re

_secrets: set[str] = set()
_HEADER = re.compile(r"(?i)(ailabapi-api-key\s*[:=]\s*)\S+")


def register_secret(secret: str | None) -> None:
    """Remember a secret (the API key) so :func:`redact` removes it from any text."""
    if secret and len(secret) >= 4:
        _secrets.add(secret)


def redact(text: str | None) -> str:
    """Return ``text`` with every registered secret replaced by ``***``."""
    if not text:
        return ""
    for s in tuple(_secrets):  # a copy: another thread may register a key meanwhile
        text = text.replace(s, "***")
    # A key-looking header echoed by a proxy page is removed even if it was never registered.
    return _HEADER.sub(r"\1***", text)
