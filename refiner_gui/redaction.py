"""Secrets out of every text: the API key is registered once and replaced everywhere.

A module of its own, with no imports beyond the standard library's ``re`` and
``urllib.parse``, because logging and the crash hook need it before the window's first
paint, when importing the API package would cost ~8 ms. :mod:`refiner_gui.api.errors`
re-exports both functions. Any thread.

What counts as the key showing: the key in any letter case, its URL-encoded form, and any
run of :data:`MIN_ECHO` or more of its characters in a row (a proxy or a service that
echoes part of the key, or a key cut by a log line). A key shorter than that is replaced
only whole.
"""

from __future__ import annotations

import re
from urllib.parse import quote

MIN_ECHO = 8
"""The shortest run of a key's characters that :func:`redact` removes on its own."""

_secrets: set[str] = set()
# Every MIN_ECHO-long piece of every secret's forms, lower case. Replaced, never mutated:
# a reader on another thread sees the old tuple or the new one.
_grams: tuple[str, ...] = ()
_HEADER = re.compile(r"(?i)(ailabapi-api-key\s*[:=]\s*)\S+")


def register_secret(secret: str | None) -> None:
    """Remember a secret (the API key) so :func:`redact` removes it from any text."""
    global _grams
    if not secret or len(secret) < 4:
        return
    forms = {secret.lower(), quote(secret, safe="").lower()}
    new = forms - _secrets
    if not new:
        return
    _secrets.update(new)
    pieces = {f[i : i + MIN_ECHO] for f in new for i in range(len(f) - MIN_ECHO + 1)}
    _grams = tuple(sorted(set(_grams) | pieces))


def _echoes(text: str, grams: tuple[str, ...]) -> list[tuple[int, int]]:
    """The spans of ``text`` covered by pieces of a secret, merged where they overlap.

    ``str.find`` per piece (C speed) rather than one big regex alternation, which tries
    every piece at every position and is ~20x slower on long texts."""
    lower = text.lower()
    found: list[int] = []
    for g in grams:
        i = lower.find(g)
        while i != -1:
            found.append(i)
            i = lower.find(g, i + 1)
    spans: list[tuple[int, int]] = []
    for start in sorted(found):
        end = start + MIN_ECHO
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def redact(text: str | None) -> str:
    """Return ``text`` with every registered secret (or a long enough echo of one, in any
    letter case, URL-encoded or not) replaced by ``***``."""
    if not text:
        return ""
    grams = _grams
    if grams:
        spans = _echoes(text, grams)
        if spans:
            parts, last = [], 0
            for start, end in spans:
                parts += [text[last:start], "***"]
                last = end
            parts.append(text[last:])
            text = "".join(parts)
    for s in tuple(_secrets):  # a copy: another thread may register a key meanwhile
        if len(s) < MIN_ECHO and s in text.lower():
            text = re.sub(re.escape(s), "***", text, flags=re.IGNORECASE)
    # A key-looking header echoed by a proxy page is removed even if it was never registered.
    return _HEADER.sub(r"\1***", text)
