"""What a drop or a paste holds, for the input slots and the window: files, a picture, a web
address, or a slot's file being dragged to another slot. GUI thread only (QMimeData).

What counts as an input for one slot, in order of preference (:func:`classify_mime`):

1. a local file URL (the first one, if several are dropped),
2. raw image data (a picture copied from another app or dragged from some browsers),
3. an http(s) URL, given as a URL or as text,
4. text that is a ``file://`` URL or an absolute path.

Image data comes before a web URL because it is already here: no network, and it cannot be
a link to a web page that merely shows the picture.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QMimeData, QUrl
from PySide6.QtGui import QImage, QPixmap

from refiner_gui.url_fetch import is_web_url

SLOT_MIME = "application/x-refiner-gui-slot"
"""A slot's file dragged onto another slot (to swap them). Holds ``"<pid>:<slot>"``, so a
drag from another running copy of the app is not taken for one of ours."""


def classify_mime(mime: QMimeData | None) -> tuple[str, object] | None:
    """What ``mime`` holds that a slot can use: ("file", Path), ("image", QImage) or
    ("url", str); None when nothing."""
    if mime is None:
        return None
    urls = mime.urls() if mime.hasUrls() else []
    for url in urls:
        if url.isLocalFile():
            return ("file", Path(url.toLocalFile()))
    if mime.hasImage():
        data = mime.imageData()
        image = data.toImage() if isinstance(data, QPixmap) else data
        if isinstance(image, QImage) and not image.isNull():
            return ("image", image)
    for url in urls:
        if url.scheme().lower() in ("http", "https") and url.host():
            return ("url", url.toString())
    if mime.hasText():
        lines = [line.strip() for line in mime.text().strip().splitlines() if line.strip()]
        text = lines[0] if lines else ""
        if is_web_url(text):
            return ("url", text)
        if text.lower().startswith("file:"):
            local = QUrl(text).toLocalFile()
            if local:
                return ("file", Path(local))
        if os.path.isabs(text):
            return ("file", Path(text))
    return None


def local_files(mime: QMimeData | None) -> list[Path]:
    """Every local file ``mime`` carries as a URL, in the order given (duplicates once)."""
    if mime is None or not mime.hasUrls():
        return []
    found = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    return list(dict.fromkeys(found))


def slot_mime(slot: str) -> QMimeData:
    """The drag data for ``slot``'s file being moved to another slot."""
    mime = QMimeData()
    mime.setData(SLOT_MIME, QByteArray(f"{os.getpid()}:{slot}".encode()))
    return mime


def dragged_slot(mime: QMimeData | None) -> str | None:
    """The slot a drag of ours started from, or None (another app, another copy of this one)."""
    if mime is None or not mime.hasFormat(SLOT_MIME):
        return None
    text = bytes(mime.data(SLOT_MIME).data()).decode("ascii", "replace")
    pid, _, slot = text.partition(":")
    return slot if pid == str(os.getpid()) and slot else None
