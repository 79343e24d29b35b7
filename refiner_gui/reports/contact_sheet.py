"""The lookbook: one row per look (person, top, bottom, coarse, refined) as PNG or PDF.

Each look: a caption (job, date, gender, verdict), the five pictures with labels, then
the task id and the reviewer's note. PNG is one tall image drawn with Pillow. PDF is A4
portrait pages laid out on a 150 dpi grid and written by :mod:`refiner_gui.reports._pdf`:
its words are real text (task ids and notes can be searched and copied) and its pictures
are embedded JPEG thumbnails. Both draw through one small canvas interface
(:class:`_Canvas`), so they show the same thing. Pages are written one at a time, so a
long PDF needs memory for one page, not for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont

from refiner_gui.jobs.models import Job
from refiner_gui.reports._files import atomic_output, atomic_path
from refiner_gui.reports._pdf import PdfDocument, PdfPage, text_width
from refiner_gui.reports._thumbs import Thumb, ThumbnailCache
from refiner_gui.reports.summary import INPUT_SLOTS, human_utc, tag_label, verdict_text

A4_150DPI = (1240, 1754)  # 210 × 297 mm at 150 dpi
PDF_DPI = 150.0
PT_PER_PX = 72 / PDF_DPI  # the PDF grid's pixels in points
NOTE_LINES = 2  # lines a note may take under its look (cut with "…" beyond)
PDF_MIN_MARGIN = 45  # px at 150 dpi, about 7.5 mm: clear of most printers' unprintable edge
COLUMNS = 5  # person, top, bottom, coarse, refined
TITLE = "Refiner lookbook"

_INK = (29, 35, 48)
_MUTED = (107, 114, 128)
_CELL_BG = (243, 244, 246)
_RULE = (217, 221, 229)
_VERDICT_COLOURS = {"PASS": (23, 128, 61), "FAIL": (198, 40, 40)}


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class SheetLayout:
    """Pixel geometry of a sheet for one cell size; every size derives from ``cell``."""

    cell: int

    @property
    def margin(self) -> int:
        """Pixels around the sheet."""
        return max(16, self.cell // 10)

    @property
    def gap(self) -> int:
        """Pixels between cells and rows."""
        return max(8, self.cell // 18)

    @property
    def caption_font(self) -> int:
        """Font size of a look's caption, in pixels."""
        return max(12, round(self.cell * 0.072))

    @property
    def label_font(self) -> int:
        """Font size of a cell's label, in pixels."""
        return max(11, round(self.cell * 0.06))

    @property
    def caption_height(self) -> int:
        """Height of a look's caption line, in pixels."""
        return round(self.caption_font * 1.8)

    @property
    def label_height(self) -> int:
        """Height of a cell's label line, in pixels."""
        return round(self.label_font * 1.9)

    @property
    def facts_font(self) -> int:
        """Font size of the task id and note lines, in pixels."""
        return self.label_font

    @property
    def facts_line(self) -> int:
        """Height of one task id or note line, in pixels."""
        return round(self.facts_font * 1.5)

    @property
    def facts_height(self) -> int:
        """The task id line and :data:`NOTE_LINES` note lines."""
        return (1 + NOTE_LINES) * self.facts_line

    @property
    def title_height(self) -> int:
        """Height of the sheet's title, in pixels."""
        return round(self.caption_font * 2.6)

    @property
    def row_height(self) -> int:
        """Caption, cells, labels, task id and note, and the space (with a rule) before
        the next look."""
        return (
            self.caption_height + self.cell + self.label_height + self.facts_height + 2 * self.gap
        )

    @property
    def width(self) -> int:
        """Width of the sheet in pixels."""
        return 2 * self.margin + COLUMNS * self.cell + (COLUMNS - 1) * self.gap

    def png_size(self, looks: int) -> tuple[int, int]:
        """Width and height in pixels of a PNG sheet of ``looks`` jobs."""
        return self.width, 2 * self.margin + self.title_height + max(looks, 0) * self.row_height

    def looks_per_page(self, page: tuple[int, int] = A4_150DPI) -> int:
        """How many looks fit on one PDF page of ``page`` pixels."""
        usable = page[1] - 2 * max(self.margin, PDF_MIN_MARGIN) - self.title_height
        return max(0, usable // self.row_height)


def png_size(looks: int, cell_px: int = 220) -> tuple[int, int]:
    """Width and height in pixels of the PNG contact sheet of ``looks`` jobs."""
    return SheetLayout(cell_px).png_size(looks)


def pdf_layout(cell_px: int = 220, page: tuple[int, int] = A4_150DPI) -> SheetLayout:
    """The layout used on PDF pages: ``cell_px``, shrunk until a row fits the page width
    and at least one look fits a page."""
    cell = cell_px
    while cell > 40:
        layout = SheetLayout(cell)
        side = max(layout.margin, PDF_MIN_MARGIN)
        if (
            layout.width - 2 * layout.margin + 2 * side <= page[0]
            and layout.looks_per_page(page) >= 1
        ):
            return layout
        cell -= 4
    return SheetLayout(40)


def pdf_page_count(looks: int, cell_px: int = 220) -> int:
    """Pages of the PDF contact sheet of ``looks`` jobs (at least one, even if empty)."""
    per_page = pdf_layout(cell_px).looks_per_page()
    return max(1, -(-looks // per_page))


# A PNG taller than this is past Pillow's own decompression-bomb limit for readers (and
# hundreds of MB in memory here); beyond it a PDF is the right format.
MAX_PNG_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


class _Canvas(Protocol):
    """Where a sheet is drawn, in pixels of the sheet's grid (y grows downwards)."""

    def width_of(self, text: str, size: int) -> float:
        """The width of ``text`` at font ``size``."""
        ...

    def text(self, x: float, y: float, text: str, size: int, colour: tuple[int, int, int]) -> None:
        """One line of ``text``, its left end at x, its middle at height y."""
        ...

    def box(self, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        """A filled rectangle with its top-left corner at (x, y)."""
        ...

    def rule(self, x0: int, x1: int, y: int, colour: tuple[int, int, int]) -> None:
        """A thin horizontal line."""
        ...

    def picture(self, key: str, image: Image.Image, x: int, y: int) -> None:
        """``image`` at its own size, top-left corner at (x, y); ``key`` names its file."""
        ...


class _PilCanvas:
    """A :class:`_Canvas` on a Pillow image (the PNG sheet)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image
        self.draw = ImageDraw.Draw(image)

    def width_of(self, text: str, size: int) -> float:
        return self.draw.textlength(text, font=_font(size))

    def text(self, x: float, y: float, text: str, size: int, colour: tuple[int, int, int]) -> None:
        self.draw.text((x, y), text, fill=colour, font=_font(size), anchor="lm")

    def box(self, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        self.draw.rectangle((x, y, x + w - 1, y + h - 1), fill=colour)

    def rule(self, x0: int, x1: int, y: int, colour: tuple[int, int, int]) -> None:
        self.draw.line((x0, y, x1, y), fill=colour, width=1)

    def picture(self, key: str, image: Image.Image, x: int, y: int) -> None:
        self.image.paste(image, (x, y))


class _PdfCanvas:
    """A :class:`_Canvas` on a PDF page: the 150 dpi grid scaled to points, real text."""

    def __init__(self, page: PdfPage) -> None:
        self.page = page

    def width_of(self, text: str, size: int) -> float:
        return text_width(text, size)

    def text(self, x: float, y: float, text: str, size: int, colour: tuple[int, int, int]) -> None:
        # Helvetica's capital letters are 0.72 em tall: this baseline centres them on y.
        baseline = (y + 0.36 * size) * PT_PER_PX
        self.page.text(x * PT_PER_PX, baseline, text, size * PT_PER_PX, colour)

    def box(self, x: int, y: int, w: int, h: int, colour: tuple[int, int, int]) -> None:
        s = PT_PER_PX
        self.page.rect(x * s, y * s, w * s, h * s, colour)

    def rule(self, x0: int, x1: int, y: int, colour: tuple[int, int, int]) -> None:
        self.page.line(x0 * PT_PER_PX, x1 * PT_PER_PX, y * PT_PER_PX, colour, PT_PER_PX)

    def picture(self, key: str, image: Image.Image, x: int, y: int) -> None:
        s = PT_PER_PX
        self.page.image(key, image, x * s, y * s, image.width * s, image.height * s)


def _fit_text(canvas: _Canvas, text: str, size: int, width: float) -> str:
    """``text``, or its longest start that fits ``width`` with "…" added."""
    if canvas.width_of(text, size) <= width:
        return text
    lo, hi = 0, len(text)  # binary search: a huge note must not cost a measure per letter
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if canvas.width_of(text[:mid] + "…", size) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _wrap(canvas: _Canvas, text: str, size: int, width: float, lines: int) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines of ``width``; the last one
    ends with "…" when the text goes on. A word wider than a line is cut where the line
    is full."""
    out: list[str] = []
    words = text.split(" ")
    while words and len(out) < lines:
        line = words.pop(0)
        while words:
            joined = f"{line} {words[0]}"
            if canvas.width_of(joined, size) <= width:
                line = joined
                words.pop(0)
                continue
            if canvas.width_of(words[0], size) > width:  # an overlong word: fill this line
                fitted = _fit_text(canvas, joined, size, width)[:-1]
                if len(fitted) > len(line) + 1:
                    words[0] = joined[len(fitted) :]
                    line = fitted
            break
        if canvas.width_of(line, size) > width:  # the line's first word is overlong
            fitted = _fit_text(canvas, line, size, width)[:-1] or line[:1]
            words.insert(0, line[len(fitted) :])
            line = fitted
        out.append(line)
    if words and out:
        out[-1] = _fit_text(canvas, " ".join([out[-1], *words]) + " …", size, width)
    return out


def note_text(job: Job) -> str:
    """The note as one line of text: its lines joined with " / "."""
    return " / ".join(line.strip() for line in job.note.splitlines() if line.strip())


def _draw_cell(
    canvas: _Canvas,
    x: int,
    y: int,
    layout: SheetLayout,
    label: str,
    picture: tuple[str, Thumb] | None,
    problem: str,
) -> None:
    """One box at (x, y): the picture centred with its aspect kept, or ``problem`` text;
    no picture and no problem draws a blank cell (no bottom garment)."""
    c = layout.cell
    blank = picture is None and not problem
    if not blank:
        canvas.box(x, y, c, c, _CELL_BG)
    size = layout.label_font
    if picture is not None and picture[1].image is not None:
        im = picture[1].image
        canvas.picture(picture[0], im, x + (c - im.width) // 2, y + (c - im.height) // 2)
    elif problem:
        text = _fit_text(canvas, problem, size, c - 8)
        canvas.text(x + (c - canvas.width_of(text, size)) / 2, y + c / 2, text, size, _MUTED)
    mid = x + (c - canvas.width_of(label, size)) / 2
    canvas.text(mid, y + c + layout.label_height / 2, label, size, _MUTED if blank else _INK)


def _draw_look(
    canvas: _Canvas,
    y: int,
    job: Job,
    layout: SheetLayout,
    cache: ThumbnailCache[Thumb],
    dx: int = 0,
) -> None:
    """The row of ``job`` with its top edge at ``y``, shifted right by ``dx``."""
    m, c, g = layout.margin + dx, layout.cell, layout.gap
    right = dx + layout.width - layout.margin
    # Caption: job id, date, gender, then the verdict in its colour, then tags if room.
    size = layout.caption_font
    cy = y + layout.caption_height / 2
    head = f"Job {job.id} · {human_utc(job.created_at)} · {job.gender or '—'} · "
    canvas.text(m, cy, head, size, _INK)
    x = m + canvas.width_of(head, size)
    verdict = verdict_text(job)
    canvas.text(x, cy, verdict, size, _VERDICT_COLOURS.get(verdict, _MUTED))
    x += canvas.width_of(verdict, size)
    extra = ", ".join(tag_label(t) for t in job.tags)
    if not job.state.finished or job.result_path is None:
        extra = " · ".join(s for s in (job.state.label, extra) if s)
    if extra:
        canvas.text(x, cy, _fit_text(canvas, f" · {extra}", size, right - x), size, _MUTED)

    top = y + layout.caption_height
    cells: list[tuple[str, tuple[str, Thumb] | None, str]] = []
    for slot, _short, label in INPUT_SLOTS:
        item = job.inputs.get(slot)
        if item is None:
            cells.append((label, None, "" if label == "Bottom" else "No file"))
        else:
            t = cache.get(item.path)
            cells.append((label, (str(item.path), t), t.problem))
    if job.result_path is None:
        cells.append(("Refined", None, f"No result: {job.state.label}"))
    else:
        t = cache.get(job.result_path)
        cells.append(("Refined", (str(job.result_path), t), t.problem))
    for i, (label, picture, problem) in enumerate(cells):
        _draw_cell(canvas, m + i * (c + g), top, layout, label, picture, problem)

    # Task id and note: what a reviewer searches the sheet for.
    size, line = layout.facts_font, layout.facts_line
    fy = top + c + layout.label_height
    task = f"Task id: {job.task_id or '—'}"
    canvas.text(m, fy + line / 2, _fit_text(canvas, task, size, right - m), size, _MUTED)
    note = note_text(job)
    lines = _wrap(canvas, f"Note: {note}", size, right - m, NOTE_LINES) if note else []
    for k, text in enumerate(lines):
        canvas.text(m, fy + (k + 1.5) * line, text, size, _INK)
    rule_y = fy + layout.facts_height + g
    canvas.rule(m, right, rule_y, _RULE)


def _draw_title(canvas: _Canvas, layout: SheetLayout, text: str, *, x: int, y: int) -> None:
    """The sheet or page heading, its box's top-left corner at (x, y)."""
    canvas.text(x, y + layout.title_height / 2 - 4, text, round(layout.caption_font * 1.25), _INK)


def _paths(jobs: Sequence[Job]) -> list[Path | None]:
    return [p for j in jobs for p in [*(i.path for i in j.inputs.values()), j.result_path]]


def export_contact_sheet(jobs: Sequence[Job], dest: Path, *, cell_px: int = 220) -> Path:
    """Write the lookbook of ``jobs`` (in the given order) to ``dest``; return ``dest``.

    One row per look: a caption (job id, date in UTC, gender, verdict in colour, tags or
    the state when there is no result), then Person, Top, Bottom (blank if none), Coarse
    and Refined, each fitted in a ``cell_px`` square with its aspect kept and labelled
    underneath, then the task id and the note (at most :data:`NOTE_LINES` lines). A
    deleted or unreadable file shows a placeholder text in its cell.

    ``.png``: one tall image of :func:`png_size` pixels; ``ValueError`` (before anything
    is written) if it would exceed :data:`MAX_PNG_PIXELS` — use a PDF for that many looks.
    ``.pdf``: A4 portrait pages, :func:`pdf_page_count` pages, each headed with the title
    and page number; ``cell_px`` shrinks if five cells would not fit the width. Its text
    is real text in the standard Helvetica font (characters outside Windows-1252 fall
    back, see :mod:`refiner_gui.reports._pdf`); its pictures are JPEG thumbnails.
    Any other suffix: ``ValueError``. Written atomically (see ``atomic_path``).
    """
    dest = Path(dest)
    kind = dest.suffix.lower()
    if kind not in (".png", ".pdf"):
        raise ValueError(f"contact sheet must be .png or .pdf, not {dest.suffix!r}")
    if not 40 <= cell_px <= 1024:
        raise ValueError("cell_px must be between 40 and 1024")
    generated = human_utc(time.time())
    if kind == ".png":
        layout = SheetLayout(cell_px)
        w, h = layout.png_size(len(jobs))
        if w * h > MAX_PNG_PIXELS:
            raise ValueError(
                f"{len(jobs)} looks make a {w}×{h} PNG, too large for one "
                "image: export a PDF instead"
            )
        with atomic_path(dest) as tmp, ThumbnailCache(layout.cell, lambda t: t) as cache:
            sheet = Image.new("RGB", (w, h), "white")
            canvas = _PilCanvas(sheet)
            n = len(jobs)
            _draw_title(
                canvas,
                layout,
                f"{TITLE} · {n} {'look' if n == 1 else 'looks'} · {generated}",
                x=layout.margin,
                y=layout.margin,
            )
            y = layout.margin + layout.title_height
            for start in range(0, len(jobs), 64):
                batch = jobs[start : start + 64]
                cache.prefetch(_paths(batch))
                for job in batch:
                    _draw_look(canvas, y, job, layout, cache)
                    y += layout.row_height
            sheet.save(tmp, format="PNG")
        return dest

    layout = pdf_layout(cell_px)
    per_page = layout.looks_per_page()
    pages = pdf_page_count(len(jobs), cell_px)
    # Centre the rows on the page; keep a printable margin at the top.
    dx = (A4_150DPI[0] - layout.width) // 2
    top = max(layout.margin, PDF_MIN_MARGIN)
    size = (A4_150DPI[0] * PT_PER_PX, A4_150DPI[1] * PT_PER_PX)
    with (
        atomic_output(dest, binary=True) as fh,
        ThumbnailCache(layout.cell, lambda t: t) as cache,
    ):
        doc = PdfDocument(fh, *size, title=TITLE, creator="refiner-gui")
        for k in range(pages):
            batch = jobs[k * per_page : (k + 1) * per_page]
            cache.prefetch(_paths(batch))
            page = doc.new_page()
            on_page = _PdfCanvas(page)
            heading = f"{TITLE} · page {k + 1} of {pages} · {generated}"
            _draw_title(on_page, layout, heading, x=dx + layout.margin, y=top)
            y = top + layout.title_height
            for job in batch:
                _draw_look(on_page, y, job, layout, cache, dx)
                y += layout.row_height
            doc.add_page(page)
        doc.close()
    return dest
