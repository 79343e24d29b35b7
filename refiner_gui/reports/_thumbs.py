"""Small RGB thumbnails of job images, made fast and made once per file within an export."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from PIL import Image, ImageOps

from refiner_gui.images.formats import open_untrusted
from refiner_gui.jobs.previews import preview_for

log = logging.getLogger(__name__)

T = TypeVar("T")

# Mid-size caches: the inputs shared by many jobs (one model photo, a few garments) stay
# hot, while a thousand one-off result thumbnails cannot pile up without bound.
DEFAULT_CACHE_ENTRIES = 512


@dataclass(frozen=True)
class Thumb:
    """A thumbnail, or why there is none (``problem`` is short text for a placeholder)."""

    image: Image.Image | None
    problem: str = ""


def make_thumbnail(path: Path, box: int) -> Thumb:
    """``path`` as an RGB image that fits in ``box``×``box``, upright, aspect kept.

    JPEGs are decoded with ``Image.draft`` at the smallest DCT scale that still covers the
    box (1/2, 1/4 or 1/8 of the pixels), which is most of the speed. Transparency is laid on
    white (garment cut-outs). Never raises for a bad file: a deleted or unreadable image
    gives ``Thumb(None, "File missing")`` or ``Thumb(None, "Cannot read image")``.
    """
    path = preview_for(path, box)  # a stored result's small JPEG: decodes ~100x faster
    try:
        with open_untrusted(path) as im:
            if im.format == "JPEG":
                im.draft(None, (box, box))  # symmetric box: right even if EXIF rotates it
            upright = ImageOps.exif_transpose(im)
            upright.thumbnail((box, box), Image.Resampling.LANCZOS)
            return Thumb(_on_white(upright))
    except FileNotFoundError:
        return Thumb(None, "File missing")
    except Exception as exc:  # noqa: BLE001 - one bad file must not abort a whole report
        log.warning("cannot make a thumbnail of %s: %s", path.name, exc)
        return Thumb(None, "Cannot read image")


def _on_white(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return im if im.mode == "RGB" else im.convert("RGB")


def default_workers() -> int:
    # Pillow releases the GIL while decoding and resampling, so threads scale with cores;
    # more than four mostly adds memory (each worker holds one decoded image).
    """Threads for decoding thumbnails: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class ThumbnailCache(Generic[T]):
    """Per-export cache: ``path -> render(make_thumbnail(path, box))``, bounded (LRU).

    ``prefetch`` fills it for many paths at once on a thread pool; ``get`` returns the
    cached value (computing it inline if needed). ``None`` paths give ``render(Thumb(None,
    "No file"))`` without touching the disk. Use as a context manager to shut the pool down.
    """

    def __init__(
        self,
        box: int,
        render: Callable[[Thumb], T],
        *,
        max_entries: int = DEFAULT_CACHE_ENTRIES,
        workers: int | None = None,
    ) -> None:
        if box < 16:
            raise ValueError("thumbnail box must be at least 16 px")
        self.box = box
        self._render = render
        self._max = max(1, max_entries)
        self._items: OrderedDict[str, T] = OrderedDict()
        n = default_workers() if workers is None else workers
        self._pool = ThreadPoolExecutor(n, thread_name_prefix="report-thumbs") if n > 1 else None
        self.made = 0  # thumbnails actually decoded (for tests and the benchmark)

    def __enter__(self) -> ThumbnailCache[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads (waits for running ones). Idempotent."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _compute(self, path: Path) -> T:
        return self._render(make_thumbnail(path, self.box))

    def _put(self, key: str, value: T) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def prefetch(self, paths: Iterable[Path | None]) -> None:
        """Compute the thumbnails of ``paths`` not cached yet, in parallel. Call it with at
        most ``max_entries`` paths at a time, or early ones are evicted before use."""
        todo: dict[str, Path] = {}
        for p in paths:
            if p is not None:
                key = str(p)
                if key in self._items:
                    self._items.move_to_end(key)
                else:
                    todo.setdefault(key, p)
        if not todo:
            return
        if self._pool is None or len(todo) == 1:
            values = [self._compute(p) for p in todo.values()]
        else:
            values = list(self._pool.map(self._compute, todo.values()))
        self.made += len(todo)
        for key, value in zip(todo, values, strict=True):
            self._put(key, value)

    def get(self, path: Path | None) -> T:
        """The rendered thumbnail of ``path`` (a placeholder for None or an unreadable file)."""
        if path is None:
            return self._render(Thumb(None, "No file"))
        key = str(path)
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = self._compute(path)
        self.made += 1
        self._put(key, value)
        return value
