"""Text from outside (the service, file names, notes) made safe to show.

Service answers and file names are untrusted: shown raw, they could draw on a terminal
(escape sequences that set the window title, clear the screen or move the cursor; carriage
returns and backspaces that overwrite a line; bidirectional overrides that reorder it), fake
extra lines of output, or, in a Qt label that guesses "rich text", show pictures, links and
big headings. No Qt here; any thread.

* :func:`terminal_text` for anything printed to a terminal;
* :func:`plain_tooltip` for a tooltip (Qt renders a tooltip as rich text when it looks like
  HTML); labels that show such text use ``Qt.TextFormat.PlainText`` instead;
* :func:`strict_json` for JSON printed or written: no ``NaN``/``Infinity`` (not JSON);
* :func:`one_line` for a service body quoted in a message: a gateway's HTML page becomes its
  title (or first words), tags stripped, on one line of bounded length.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings (ended by BEL
# or ESC \ — or by nothing, when cut short), and two-byte escapes; plus their 8-bit forms.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset, keypad, reset...)
)
# Controls left after that (C0 but newline, DEL, C1) and the Unicode bidirectional controls,
# which reorder the characters after them on screen.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str | None, *, newlines: bool = True) -> str:
    """``text`` without escape sequences or control characters, safe to print.

    Newlines and tabs are kept (tables need them); carriage returns, backspaces and the
    rest are removed. ``newlines=False`` (one line or one table cell) turns newlines and
    tabs into spaces, so a message cannot add lines or columns that look like our own.
    """
    if not text:
        return ""
    text = _ESCAPES.sub("", text.replace("\r\n", "\n"))
    text = _CONTROLS.sub("", text)
    return text if newlines else text.replace("\n", " ").replace("\t", " ")


ONE_LINE_LIMIT = 160
"""Most characters of a service body quoted in a message (an ellipsis marks the cut)."""

_HTML_START = re.compile(r"\s*(?:<\?xml[^>]*>\s*)?<(?:!doctype\s+html|html)\b", re.IGNORECASE)
# Any tag or comment: a body that is not an API answer and holds markup is a page.
_HTML_TAG = re.compile(r"<(?:/?[a-z][a-z0-9]*(?:\s[^<>]*)?/?>|!--)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(
    r"<(script|style|head)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_TAGS = re.compile(r"<[^>]*>?")
_SPACES = re.compile(r"\s+")


def looks_like_html(text: str, content_type: str | None = None) -> bool:
    """Whether a body is an HTML page (a gateway's or proxy's error page): by its
    ``content_type`` when given, else by how it starts or the tags it holds."""
    if content_type and "html" in content_type.lower():
        return True
    return bool(_HTML_START.match(text) or _HTML_TAG.search(text[:2000]))


def one_line(
    text: str | None, *, content_type: str | None = None, limit: int = ONE_LINE_LIMIT
) -> str:
    """``text`` (a service body) as one line of plain text of at most ``limit`` characters.

    An HTML page gives its ``<title>``, else its visible text with the tags stripped and
    entities decoded; whitespace runs become one space, controls and escape sequences go.
    What is left never renders as markup in a label, and never fakes extra lines.
    """
    if not text:
        return ""
    if looks_like_html(text, content_type):
        title = _TITLE.search(text)
        flat = _TAGS.sub(" ", title.group(1)) if title else ""
        if not flat.strip():
            flat = _TAGS.sub(" ", _INVISIBLE.sub(" ", text))
        text = html.unescape(flat)
        # An entity may decode to "<": what is left is shown plain, never parsed again.
    text = _SPACES.sub(" ", terminal_text(text, newlines=False)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def plain_tooltip(text: str | None) -> str:
    """``text`` as a tooltip that shows it literally (markup escaped, newlines kept).

    Text without ``<`` is returned as it is: Qt only takes a tooltip for rich text when it
    sees a tag, so such text already shows literally.
    """
    if not text:
        return ""
    if "<" not in text:
        return text
    escaped = html.escape(text).replace("\n", "<br>")
    # Qt guesses "rich" from a tag near the start: <p> makes the guess right every time.
    return f"<p style='white-space:pre-wrap'>{escaped}</p>"


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in dicts, lists, tuples) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def strict_json(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that always yields valid JSON: non-finite numbers become ``null``."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
