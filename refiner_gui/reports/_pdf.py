"""A small PDF writer with real text: what the contact sheet needs, and no more.

Text is drawn with the PDF standard fonts Helvetica and Helvetica-Bold (every reader has
them, nothing is embedded) in ``WinAnsiEncoding``, so task ids, notes and captions are text a
reader can search, select and copy, not pixels. Characters outside Windows-1252 are written
as their unaccented letter when Unicode decomposes them to one (``ő`` → ``o``), else as
``?``: the standard fonts have no other glyphs, and embedding a Unicode font would make every
sheet megabytes larger. (The HTML, CSV and JSON exports keep every character.)

Pictures are JPEG files embedded as they are (``DCTDecode``), each once per document however
many pages show it. Objects are streamed to the file as they are made, so memory stays
bounded by one page, whatever the number of pages. No Qt; any thread.
"""

from __future__ import annotations

import io
import unicodedata
import zlib
from collections.abc import Sequence
from typing import IO

from PIL import Image

# Advance widths (1/1000 em) of Helvetica for WinAnsi codes 32..126 (Adobe's AFM).
_HELVETICA_ASCII = (
    (278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278)
    + (556,) * 10
    + (278, 278, 584, 584, 584, 556, 1015)
    + (667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778)
    + (667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611)
    + (278, 278, 278, 469, 556, 333)
    + (556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556)
    + (556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500)
    + (334, 260, 334, 584)
)
_WIDE = {0x85: 1000, 0x97: 1000, 0x89: 1000, 0x99: 1000, 0xB7: 278, 0x96: 556}
_BOLD_FACTOR = 1.08  # Helvetica-Bold runs about this much wider; only short titles use it

FONTS = {"regular": b"/F1", "bold": b"/F2"}


def _fallback(ch: str) -> bytes:
    base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore")
    return base if base.strip() else b"?"


def encode_text(text: str) -> bytes:
    """``text`` as WinAnsi (Windows-1252) bytes; other characters folded or ``?``. Line
    breaks and other control characters become spaces (one text line per call)."""
    out = bytearray()
    for ch in text:
        if ch < " " or ch == "\x7f":
            out += b" "
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            out += _fallback(ch)
    return bytes(out)


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width of ``text`` in the units of ``size`` (the font size)."""
    total = 0
    for code in encode_text(text):
        if 32 <= code <= 126:
            total += _HELVETICA_ASCII[code - 32]
        else:
            total += _WIDE.get(code, 556)
    return total * size / 1000 * (_BOLD_FACTOR if bold else 1.0)


def literal(data: bytes) -> bytes:
    """``data`` as a PDF literal string ``(...)``, with ``\\``, ``(`` and ``)`` escaped."""
    escaped = data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + escaped.replace(b"\r", b"\\r").replace(b"\n", b"\\n") + b")"


def _num(v: float) -> bytes:
    return (f"{v:.2f}".rstrip("0").rstrip(".") or "0").encode("ascii")


class PdfPage:
    """The drawing operations of one page, in points with the origin at the top left
    (y grows downwards, as on screen; converted to PDF's bottom-left origin here)."""

    def __init__(self, doc: PdfDocument) -> None:
        self._doc = doc
        self._ops: list[bytes] = []
        self.images: dict[bytes, int] = {}  # XObject name -> object number

    def _y(self, y: float) -> float:
        return self._doc.height - y

    def rect(self, x: float, y: float, w: float, h: float, rgb: Sequence[int]) -> None:
        """A filled rectangle with its top-left corner at (x, y)."""
        self._ops.append(
            b"%s %s %s rg %s %s %s %s re f"
            % (*map(_colour, rgb), _num(x), _num(self._y(y + h)), _num(w), _num(h))
        )

    def line(self, x0: float, x1: float, y: float, rgb: Sequence[int], width: float) -> None:
        """A horizontal line from x0 to x1 at y."""
        yy = _num(self._y(y))
        r, g, b = map(_colour, rgb)
        self._ops.append(
            b"%s %s %s RG %s w %s %s m %s %s l S"
            % (r, g, b, _num(width), _num(x0), yy, _num(x1), yy)
        )

    def text(
        self,
        x: float,
        baseline: float,
        text: str,
        size: float,
        rgb: Sequence[int],
        *,
        bold: bool = False,
    ) -> None:
        """``text`` (one line) with its baseline's left end at (x, baseline)."""
        if not text:
            return
        self._ops.append(
            b"BT %s %s Tf %s %s %s rg 1 0 0 1 %s %s Tm %s Tj ET"
            % (
                FONTS["bold" if bold else "regular"],
                _num(size),
                *map(_colour, rgb),
                _num(x),
                _num(self._y(baseline)),
                literal(encode_text(text)),
            )
        )

    def image(self, key: str, image: Image.Image, x: float, y: float, w: float, h: float) -> None:
        """``image`` (RGB) scaled into the box with its top-left corner at (x, y); embedded
        once per document for each ``key`` (the file it shows)."""
        name, number = self._doc.jpeg(key, image)
        self.images[name] = number
        self._ops.append(
            b"q %s 0 0 %s %s %s cm %s Do Q"
            % (_num(w), _num(h), _num(x), _num(self._y(y + h)), name)
        )

    def content(self) -> bytes:
        """The page's content stream (uncompressed)."""
        return b"\n".join(self._ops) + b"\n"


def _colour(c: int) -> bytes:
    return _num(c / 255)


class PdfDocument:
    """A PDF written to ``fh`` as it is made: :meth:`new_page`, draw, :meth:`add_page`, and
    :meth:`close` once (writes the page tree, the cross-reference table and the trailer).

    Pages are ``width``×``height`` points. ``title`` goes in the document information.
    """

    _CATALOG, _PAGES, _FONT, _BOLD, _INFO = 1, 2, 3, 4, 5

    def __init__(
        self, fh: IO[bytes], width: float, height: float, *, title: str, creator: str
    ) -> None:
        self._fh = fh
        self.width = width
        self.height = height
        self._offsets: dict[int, int] = {}
        self._next = 6
        self._kids: list[int] = []
        self._jpegs: dict[str, tuple[bytes, int]] = {}
        fh.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        self._object(self._CATALOG, b"<< /Type /Catalog /Pages 2 0 R >>")
        for number, base in ((self._FONT, b"Helvetica"), (self._BOLD, b"Helvetica-Bold")):
            self._object(
                number,
                b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
                % base,
            )
        title_utf16 = literal("\ufeff".encode("utf-16-be") + title.encode("utf-16-be"))
        self._object(
            self._INFO,
            b"<< /Title %s /Creator %s /Producer %s >>"
            % (title_utf16, literal(encode_text(creator)), literal(encode_text(creator))),
        )

    def _new_number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def _object(self, number: int, body: bytes, stream: bytes | None = None) -> None:
        self._offsets[number] = self._fh.tell()
        self._fh.write(b"%d 0 obj\n" % number + body)
        if stream is not None:
            self._fh.write(b"\nstream\n" + stream + b"\nendstream")
        self._fh.write(b"\nendobj\n")

    def jpeg(self, key: str, image: Image.Image) -> tuple[bytes, int]:
        """The XObject name and object number of ``image`` (embedded on first use)."""
        found = self._jpegs.get(key)
        if found is not None:
            return found
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=88)
        data = buf.getvalue()
        number = self._new_number()
        self._object(
            number,
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>"
            % (image.width, image.height, len(data)),
            data,
        )
        found = (b"/Im%d" % number, number)
        self._jpegs[key] = found
        return found

    def new_page(self) -> PdfPage:
        """An empty page to draw on; nothing is written until :meth:`add_page`."""
        return PdfPage(self)

    def add_page(self, page: PdfPage) -> None:
        """Write ``page`` (its content, compressed, and the page object)."""
        data = zlib.compress(page.content())
        content = self._new_number()
        self._object(content, b"<< /Length %d /Filter /FlateDecode >>" % len(data), data)
        xobjects = b" ".join(b"%s %d 0 R" % (n, num) for n, num in sorted(page.images.items()))
        number = self._new_number()
        self._object(
            number,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [ 0 0 %s %s ] /Contents %d 0 R"
            b" /Resources << /Font << /F1 3 0 R /F2 4 0 R >> /XObject << %s >> >> >>"
            % (_num(self.width), _num(self.height), content, xobjects),
        )
        self._kids.append(number)

    def close(self) -> None:
        """Write the page tree, cross-reference table and trailer. Call once, at the end."""
        kids = b" ".join(b"%d 0 R" % k for k in self._kids)
        self._object(
            self._PAGES, b"<< /Type /Pages /Kids [ %s ] /Count %d >>" % (kids, len(self._kids))
        )
        start = self._fh.tell()
        size = self._next
        self._fh.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
        for number in range(1, size):
            self._fh.write(b"%010d 00000 n \n" % self._offsets[number])
        self._fh.write(
            b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (size, start)
        )
