"""The API key as typed or pasted, made fit for an HTTP header, or refused with a reason.

One function, used by every way a key comes in (``--api-key``, the environment variable,
the keyring, the Settings dialog) and by :class:`~refiner_gui.api.client.RefinerClient`
itself, so no request is ever built with a key a header cannot carry. No Qt; any thread.
"""

from __future__ import annotations

import unicodedata

from refiner_gui.api.errors import ConfigError

# Characters a copy from a web page or a chat brings along, invisible in a text field:
# no-break spaces, and every Unicode "format" character (zero-width space, joiners, word
# joiner, byte-order mark, soft hyphen, direction marks) — removed wherever they are.
_SPACES = frozenset("\u00a0\u2007\u202f")


def _invisible(ch: str) -> bool:
    return ch in _SPACES or unicodedata.category(ch) == "Cf"


def clean_api_key(raw: str | None) -> str:
    """``raw`` without invisible characters and surrounding whitespace ("" for none).

    Raises :class:`~refiner_gui.api.errors.ConfigError` when what remains has a character
    other than printable ASCII (``!`` to ``~``): such a key cannot be sent in the request
    header (``€``, letters with accents) or cannot be a real key (inner spaces, control
    characters). The message names the character and its position, never the key.
    """
    key = "".join(ch for ch in (raw or "") if not _invisible(ch)).strip()
    for position, ch in enumerate(key, start=1):
        if not "!" <= ch <= "~":
            name = unicodedata.name(ch, "a control character")
            shown = f"U+{ord(ch):04X} ({name})"
            raise ConfigError(
                f"The API key has a character that cannot be sent to the service: {shown} "
                f"at position {position} of {len(key)}. Copy the key again from the "
                "AILabTools console, only the key, and paste it in place of this one."
            )
    return key
