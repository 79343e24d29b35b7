"""The lookbook: one row per look (person, top, bottom, coarse, refined) as PNG or PDF.

PNG is one tall image; PDF is A4 portrait pages at 150 dpi, as many looks per page as fit,
written by Pillow's PDF writer. Pages are drawn one at a time as the writer asks for them
(a multi-frame image, see :class:`_Pages`), so a long PDF needs memory for one page, not
for all of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from refiner_gui.jobs.models import Job
from refiner_gui.reports._files import atomic_path
from refiner_gui.reports._thumbs import Thumb, ThumbnailCache
from refiner_gui.reports.summary import INPUT_SLOTS, human_utc, tag_label, verdict_text

A4_150DPI = (1240, 1754)  # 210 × 297 mm at 150 dpi
PDF_DPI = 150.0
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
    def title_height(self) -> int:
        """Height of the sheet's title, in pixels."""
        return round(self.caption_font * 2.6)

    @property
    def row_height(self) -> int:
        """Caption, cells, labels and the space (with a rule) before the next look."""
        return self.caption_height + self.cell + self.label_height + 2 * self.gap

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


def _fit_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _draw_cell(
    canvas: Image.Image,
    draw: ImageDraw.ImageDraw,
    x: int,
    y: int,
    layout: SheetLayout,
    label: str,
    thumb: Thumb | None,
    problem: str,
) -> None:
    """One box at (x, y): the picture centred with its aspect kept, or ``problem`` text;
    ``thumb=None`` with no problem draws a blank cell (no bottom garment)."""
    c = layout.cell
    blank = thumb is None and not problem
    if not blank:
        draw.rectangle((x, y, x + c - 1, y + c - 1), fill=_CELL_BG)
    if thumb is not None and thumb.image is not None:
        im = thumb.image
        canvas.paste(im, (x + (c - im.width) // 2, y + (c - im.height) // 2))
    elif problem:
        font = _font(layout.label_font)
        text = _fit_text(draw, problem, font, c - 8)
        draw.text((x + c / 2, y + c / 2), text, fill=_MUTED, font=font, anchor="mm")
    font = _font(layout.label_font)
    draw.text(
        (x + c / 2, y + c + layout.label_height / 2),
        label,
        fill=_MUTED if blank else _INK,
        font=font,
        anchor="mm",
    )


def _draw_look(
    canvas: Image.Image,
    draw: ImageDraw.ImageDraw,
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
    font = _font(layout.caption_font)
    cy = y + layout.caption_height / 2
    head = f"Job {job.id} · {human_utc(job.created_at)} · {job.gender or '—'} · "
    draw.text((m, cy), head, fill=_INK, font=font, anchor="lm")
    x = m + draw.textlength(head, font=font)
    verdict = verdict_text(job)
    draw.text((x, cy), verdict, fill=_VERDICT_COLOURS.get(verdict, _MUTED), font=font, anchor="lm")
    x += draw.textlength(verdict, font=font)
    extra = ", ".join(tag_label(t) for t in job.tags)
    if not job.state.finished or job.result_path is None:
        extra = " · ".join(s for s in (job.state.label, extra) if s)
    if extra:
        text = _fit_text(draw, f" · {extra}", font, int(right - x))
        draw.text((x, cy), text, fill=_MUTED, font=font, anchor="lm")

    top = y + layout.caption_height
    cells: list[tuple[str, Thumb | None, str]] = []
    for slot, _short, label in INPUT_SLOTS:
        item = job.inputs.get(slot)
        if item is None:
            cells.append((label, None, "" if label == "Bottom" else "No file"))
        else:
            t = cache.get(item.path)
            cells.append((label, t, t.problem))
    if job.result_path is None:
        cells.append(("Refined", None, f"No result: {job.state.label}"))
    else:
        t = cache.get(job.result_path)
        cells.append(("Refined", t, t.problem))
    for i, (label, thumb, problem) in enumerate(cells):
        _draw_cell(canvas, draw, m + i * (c + g), top, layout, label, thumb, problem)
    rule_y = top + c + layout.label_height + g
    draw.line((m, rule_y, right, rule_y), fill=_RULE, width=1)


def _draw_title(
    draw: ImageDraw.ImageDraw, layout: SheetLayout, text: str, *, x: int, y: int
) -> None:
    """The sheet or page heading, its box's top-left corner at (x, y)."""
    font = _font(round(layout.caption_font * 1.25))
    draw.text((x, y + layout.title_height / 2 - 4), text, fill=_INK, font=font, anchor="lm")


def _paths(jobs: Sequence[Job]) -> list[Path | None]:
    return [p for j in jobs for p in [*(i.path for i in j.inputs.values()), j.result_path]]


class _Pages(Image.Image):
    """A multi-frame RGB image whose frame *k* is page *k*, drawn when Pillow seeks to it.

    Pillow's PDF writer takes ``save_all`` pages from a list it holds until the end, so a
    list of 200 A4 pages would hold 200 × 6.5 MB; as frames of one image, only the page
    being written exists. Uses Pillow's documented frame protocol (``n_frames``, ``seek``,
    ``tell``), as multi-frame TIFF or GIF files do.
    """

    def __init__(
        self, size: tuple[int, int], count: int, draw_page: Callable[[Image.Image, int], None]
    ) -> None:
        super().__init__()
        blank = Image.new("RGB", size, "white")
        # A subclass cannot be made by Image.new; take over its pixel store instead (these
        # are the fields Image._new sets).
        self.im = blank.im
        self._mode = blank.mode
        self._size = blank.size
        self.n_frames = count
        self.is_animated = count > 1
        self._draw_page = draw_page
        self._frame = -1
        self.seek(0)

    def seek(self, frame: int) -> None:
        if not 0 <= frame < self.n_frames:
            raise EOFError(f"no page {frame}")
        if frame != self._frame:
            self.paste((255, 255, 255), (0, 0, *self.size))
            self._draw_page(self, frame)
            self._frame = frame

    def tell(self) -> int:
        return self._frame


def export_contact_sheet(jobs: Sequence[Job], dest: Path, *, cell_px: int = 220) -> Path:
    """Write the lookbook of ``jobs`` (in the given order) to ``dest``; return ``dest``.

    One row per look: a caption (job id, date in UTC, gender, verdict in colour, tags or
    the state when there is no result), then Person, Top, Bottom (blank if none), Coarse
    and Refined, each fitted in a ``cell_px`` square with its aspect kept and labelled
    underneath. A deleted or unreadable file shows a placeholder text in its cell.

    ``.png``: one tall image of :func:`png_size` pixels; ``ValueError`` (before anything
    is written) if it would exceed :data:`MAX_PNG_PIXELS` — use a PDF for that many looks.
    ``.pdf``: A4 portrait pages at 150 dpi, :func:`pdf_page_count` pages, each headed with
    the title and page number; ``cell_px`` shrinks if five cells would not fit the width.
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
            draw = ImageDraw.Draw(sheet)
            n = len(jobs)
            _draw_title(
                draw,
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
                    _draw_look(sheet, draw, y, job, layout, cache)
                    y += layout.row_height
            sheet.save(tmp, format="PNG")
        return dest

    layout = pdf_layout(cell_px)
    per_page = layout.looks_per_page()
    pages = pdf_page_count(len(jobs), cell_px)
    # Centre the rows on the page; keep a printable margin at the top.
    dx = (A4_150DPI[0] - layout.width) // 2
    top = max(layout.margin, PDF_MIN_MARGIN)
    with atomic_path(dest) as tmp, ThumbnailCache(layout.cell, lambda t: t) as cache:

        def draw_page(page: Image.Image, k: int) -> None:
            batch = jobs[k * per_page : (k + 1) * per_page]
            cache.prefetch(_paths(batch))
            draw = ImageDraw.Draw(page)
            _draw_title(
                draw,
                layout,
                f"{TITLE} · page {k + 1} of {pages} · {generated}",
                x=dx + layout.margin,
                y=top,
            )
            y = top + layout.title_height
            for job in batch:
                _draw_look(page, draw, y, job, layout, cache, dx)
                y += layout.row_height

        doc = _Pages(A4_150DPI, pages, draw_page)
        # Pillow writes RGB pages as JPEG (DCTDecode); 88 keeps caption text crisp.
        doc.save(
            tmp,
            format="PDF",
            save_all=True,
            resolution=PDF_DPI,
            quality=88,
            title=TITLE,
            creator="refiner-gui",
        )
    return dest
