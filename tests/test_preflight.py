"""Pre-flight verdicts on real files made in tmp_path (refiner_gui.images.check_image/_inputs)."""

from __future__ import annotations

import io
import math
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from refiner_gui.images import (
    MAX_FILE_BYTES,
    PROBLEM_CODES,
    ImageReport,
    Problem,
    check_image,
    check_inputs,
)
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.broken_images import (
    append_trailer,
    pad_png_to,
    truncate,
    write_animated_gif,
    write_bomb_png,
    write_exif_rotated_jpeg,
    write_large_bmp,
    write_rgb48_png,
)
from tests.helpers.images import make_image


def codes(report: ImageReport) -> list[str]:
    return [p.code for p in report.problems]


def solid(path: Path, size: tuple[int, int], fmt: str = "PNG") -> Path:
    """A one-colour grey image: tiny files even at 4096 pixels wide."""
    return make_image(path, size, fmt=fmt, mode="L", color=128)


@pytest.fixture(autouse=True)
def _never_decode(monkeypatch):
    """Checking must read headers only: any pixel decode during a check fails the test."""

    def refuse(self, *args, **kwargs):
        raise AssertionError("pre-flight decoded pixel data")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- accepted files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("a.jpg", "JPEG", "JPEG"),
        ("a.png", "PNG", "PNG"),
        ("a.bmp", "BMP", "BMP"),
        ("jpeg-named.png", "JPEG", "JPEG"),  # content decides, not the extension
        ("png-named.jpg", "PNG", "PNG"),
        ("no-extension", "JPEG", "JPEG"),
    ],
)
def test_accepted_by_content(tmp_path, name, fmt, expected):
    path = make_image(tmp_path / name, (300, 400), fmt=fmt)
    r = check_image(path, PERSON)
    assert r.ok and r.fixable
    assert (r.format, r.width, r.height, r.size) == (expected, 300, 400, (300, 400))
    assert r.file_size == path.stat().st_size
    assert r.path == path and r.slot == PERSON
    assert r.summary().startswith(f"OK · {expected} 300×400 · ")
    assert r.summary().endswith(" KB")


def test_report_types_are_frozen(tmp_path):
    r = check_image(make_image(tmp_path / "a.jpg"))
    with pytest.raises(AttributeError):
        r.format = "PNG"  # type: ignore[misc]
    p = Problem("x", "y", True)
    with pytest.raises(AttributeError):
        p.code = "z"  # type: ignore[misc]


def test_accepts_str_path(tmp_path):
    assert check_image(str(make_image(tmp_path / "a.png", fmt="PNG"))).ok


# --- pixel size limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "verdict"),
    [
        ((150, 400), "too_small"),
        ((400, 150), "too_small"),
        ((151, 151), None),
        ((4095, 4095), None),
        ((4096, 400), "too_large_resolution"),
        ((400, 4096), "too_large_resolution"),
        ((4095, 151), None),
    ],
)
def test_side_limits_are_strict(tmp_path, size, verdict):
    r = check_image(solid(tmp_path / "s.png", size))
    assert codes(r) == ([verdict] if verdict else [])


def test_too_small_is_not_fixable_and_says_so(tmp_path):
    r = check_image(solid(tmp_path / "s.png", (120, 400)), TOP)
    assert not r.fixable
    msg = r.problems[0].message
    assert "too small" in msg and "120×400" in msg and msg.startswith("The top garment")
    assert r.summary() == msg


def test_too_large_resolution_is_fixable(tmp_path):
    r = check_image(solid(tmp_path / "s.png", (4096, 3000)))
    assert codes(r) == ["too_large_resolution"] and r.fixable


def test_too_large_and_too_narrow_is_not_fixable(tmp_path):
    # Shrinking 5000 wide to 4095 would leave 160 * 0.819 = 131 pixels: too small.
    r = check_image(solid(tmp_path / "s.png", (5000, 160)))
    assert codes(r) == ["too_large_resolution"] and not r.fixable


@settings(max_examples=40, deadline=None)
@given(w=st.integers(100, 4200), h=st.integers(100, 400))
def test_size_verdict_property(w, h):
    with tempfile.TemporaryDirectory() as d:
        r = check_image(solid(Path(d) / "s.png", (w, h)))
    expected = []
    if w <= 150 or h <= 150:
        expected.append("too_small")
    if w >= 4096:
        expected.append("too_large_resolution")
    assert codes(r) == expected


# --- file size --------------------------------------------------------------------------


def test_six_megabyte_file_rejected_but_fixable(tmp_path):
    path = write_large_bmp(tmp_path / "big.bmp", 6 * 1024 * 1024)
    r = check_image(path, PERSON)
    assert codes(r) == ["file_too_large"] and r.fixable
    size_mb = r.file_size / 2**20  # a little over 6 MB: shown rounded up
    assert f"is {math.ceil(size_mb * 10) / 10:.1f} MB" in r.summary()
    assert "at most 5 MB" in r.summary() and "Fix" in r.summary()


def test_file_size_limit_is_five_mebibytes_inclusive(tmp_path):
    at = pad_png_to(make_image(tmp_path / "at.png", fmt="PNG"), MAX_FILE_BYTES)
    over = pad_png_to(make_image(tmp_path / "over.png", fmt="PNG"), MAX_FILE_BYTES + 1)
    assert check_image(at).ok
    r = check_image(over)
    assert codes(r) == ["file_too_large"]
    # Just over the limit must not read "5.0 MB ... at most 5 MB".
    assert "5.1 MB" in r.summary()


# --- unreadable files -------------------------------------------------------------------


def test_missing_file(tmp_path):
    r = check_image(tmp_path / "nope.jpg", PERSON)
    assert codes(r) == ["missing"] and not r.fixable and not r.ok
    assert r.file_size == 0 and r.format is None and r.width is None


def test_no_path_chosen():
    r = check_image(None, COARSE)
    assert codes(r) == ["missing"] and "coarse" in r.summary()


def test_folder_is_not_an_image(tmp_path):
    assert codes(check_image(tmp_path)) == ["unreadable"]


def test_zero_bytes(tmp_path):
    (tmp_path / "z.jpg").write_bytes(b"")
    r = check_image(tmp_path / "z.jpg")
    assert codes(r) == ["empty"] and not r.fixable


def test_text_file(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a photo\n" * 50)
    r = check_image(tmp_path / "notes.jpg")
    assert codes(r) == ["not_an_image"] and not r.fixable
    assert "JPG, PNG or BMP" in r.summary()


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png"), ("BMP", "bmp")])
def test_truncated_in_the_pixel_data(tmp_path, fmt, ext):
    path = truncate(make_image(tmp_path / f"t.{ext}", (600, 800), fmt=fmt), 0.6)
    r = check_image(path)
    assert codes(r) == ["truncated"] and not r.fixable
    assert r.format == fmt  # still identified: the header is intact


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("PNG", "png")])
def test_missing_only_the_end_marker(tmp_path, fmt, ext):
    path = truncate(make_image(tmp_path / f"t.{ext}", fmt=fmt), -2)
    assert codes(check_image(path)) == ["truncated"]


def test_truncated_in_the_header(tmp_path):
    path = truncate(make_image(tmp_path / "t.jpg", fmt="JPEG"), 40)
    r = check_image(path)
    assert codes(r) == ["truncated"] and "damaged" in r.summary()


@pytest.mark.parametrize("trailer", [10, 200_000])
def test_data_after_jpeg_end_is_not_truncation(tmp_path, trailer):
    # Phones append videos or depth maps after the JPEG's end marker; the JPEG is intact.
    path = append_trailer(make_image(tmp_path / "motion.jpg", (600, 800), fmt="JPEG"), trailer)
    assert check_image(path).ok


def test_exif_thumbnail_marker_does_not_hide_truncation(tmp_path):
    # The embedded thumbnail has its own end marker near the start of the file.
    path = tmp_path / "thumb.jpg"
    img = Image.new("RGB", (600, 800), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 1
    thumb = Image.new("RGB", (60, 80), (1, 2, 3))
    buf = io.BytesIO()
    thumb.save(buf, "JPEG")
    # Put a JPEG (with its FF D9) inside a comment before the scan, like a thumbnail.
    img.save(path, "JPEG", comment=buf.getvalue(), quality=95)
    assert check_image(path).ok
    assert codes(check_image(truncate(path, 0.8))) == ["truncated"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["JPEG", "PNG", "BMP"]), cut=st.floats(0.0, 0.999))
def test_any_prefix_of_an_image_is_rejected(fmt, cut):
    with tempfile.TemporaryDirectory() as d:
        path = make_image(Path(d) / "p", (200, 200), fmt=fmt)
        truncate(path, cut)
        r = check_image(path)
    assert not r.ok and not r.fixable


@settings(max_examples=50, deadline=None)
@given(data=st.binary(min_size=0, max_size=2048))
def test_random_bytes_never_raise(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.jpg"
        path.write_bytes(data)
        r = check_image(path)
    assert r.problems and set(codes(r)) <= set(PROBLEM_CODES)


@settings(max_examples=30, deadline=None)
@given(
    prefix=st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF89a"]),
    data=st.binary(max_size=512),
)
def test_garbage_with_a_real_signature_never_raises(prefix, data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x"
        path.write_bytes(prefix + data)
        r = check_image(path)
    assert not r.ok and set(codes(r)) <= set(PROBLEM_CODES)


# --- decompression bombs ----------------------------------------------------------------


def test_decompression_bomb_png(tmp_path):
    r = check_image(write_bomb_png(tmp_path / "bomb.png"))
    assert codes(r) == ["decompression_bomb"] and not r.fixable


@pytest.mark.parametrize("filter_action", ["error", "ignore", "default"])
def test_decompression_bomb_warning_range(tmp_path, monkeypatch, filter_action):
    # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns: it must still be refused,
    # whatever the caller's warning filters are.
    path = make_image(tmp_path / "a.png", (300, 400), fmt="PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)  # 120 000 px is 1.2x over
    with warnings.catch_warnings():
        warnings.simplefilter(filter_action)
        r = check_image(path)
    assert codes(r) == ["decompression_bomb"]


# --- formats and colour modes -----------------------------------------------------------


def test_cmyk_jpeg(tmp_path):
    path = make_image(tmp_path / "c.jpg", fmt="JPEG", mode="CMYK", color=(0, 100, 200, 0))
    r = check_image(path)
    assert codes(r) == ["cmyk"] and r.fixable


def test_sixteen_bit_grey_png(tmp_path):
    path = make_image(tmp_path / "g.png", fmt="PNG", mode="I;16", color=40000)
    r = check_image(path)
    assert codes(r) == ["sixteen_bit"] and r.fixable


def test_sixteen_bit_rgb_png(tmp_path):
    # Pillow opens 48-bit PNGs as plain RGB: the bit depth must come from the header.
    r = check_image(write_rgb48_png(tmp_path / "rgb48.png", 300, 200))
    assert r.format == "PNG" and codes(r) == ["sixteen_bit"]


def test_rgba_png(tmp_path):
    path = make_image(tmp_path / "a.png", fmt="PNG", mode="RGBA", color=(0, 0, 0, 0))
    r = check_image(path)
    assert codes(r) == ["alpha"] and r.fixable and "white" in r.summary()


def test_palette_png_with_transparency(tmp_path):
    path = tmp_path / "p.png"
    Image.new("P", (300, 400), 0).save(path, transparency=0)
    assert codes(check_image(path)) == ["alpha"]


def test_plain_palette_png_is_fine(tmp_path):
    path = tmp_path / "p.png"
    Image.new("P", (300, 400), 3).save(path)
    assert check_image(path).ok


def test_animated_gif(tmp_path):
    r = check_image(write_animated_gif(tmp_path / "a.gif"))
    assert r.format == "GIF" and "unsupported_format" in codes(r) and r.fixable


@pytest.mark.parametrize(("fmt", "ext"), [("WEBP", "webp"), ("TIFF", "tif")])
def test_other_formats_are_convertible(tmp_path, fmt, ext):
    r = check_image(make_image(tmp_path / f"a.{ext}", fmt=fmt))
    assert r.format == fmt and codes(r) == ["unsupported_format"] and r.fixable
    assert "JPG, PNG or BMP" in r.summary()


def test_webp_named_jpg(tmp_path):
    r = check_image(make_image(tmp_path / "sneaky.jpg", fmt="WEBP"))
    assert r.format == "WEBP" and codes(r) == ["unsupported_format"]


def test_truncated_webp(tmp_path):
    path = truncate(make_image(tmp_path / "a.webp", (600, 800), fmt="WEBP"), 0.5)
    assert "truncated" in codes(check_image(path))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_rotated_jpeg(tmp_path, orientation):
    r = check_image(write_exif_rotated_jpeg(tmp_path / "r.jpg", (300, 200), orientation))
    assert codes(r) == ["exif_rotated"] and r.fixable
    assert r.orientation == orientation
    assert r.size == (300, 200)  # stored size: what the service will see


def test_exif_orientation_one_is_fine(tmp_path):
    assert check_image(write_exif_rotated_jpeg(tmp_path / "r.jpg", (300, 200), 1)).ok


def test_several_problems_are_all_reported(tmp_path):
    path = make_image(
        tmp_path / "x.webp",
        (5000, 300),
        fmt="WEBP",
        mode="RGBA",
        color=(0, 0, 0, 0),
        lossless=False,
    )
    r = check_image(path)
    assert set(codes(r)) == {"unsupported_format", "too_large_resolution", "alpha"}
    assert r.fixable


# --- check_inputs -----------------------------------------------------------------------


def test_check_inputs_all_fine(tmp_path):
    person = make_image(tmp_path / "p.jpg", (600, 900))
    top = make_image(tmp_path / "t.png", (400, 400), fmt="PNG")
    coarse = make_image(tmp_path / "c.jpg", (600, 900))
    reports = check_inputs(person, top, coarse)
    assert list(reports) == [PERSON, TOP, COARSE]
    assert all(r.ok for r in reports.values())
    assert reports[COARSE].slot == COARSE


def test_check_inputs_bottom_optional(tmp_path):
    img = make_image(tmp_path / "p.jpg", (600, 900))
    bottom = make_image(tmp_path / "b.jpg", (300, 300))
    reports = check_inputs(img, img, img, bottom)
    assert set(reports) == {PERSON, TOP, COARSE, BOTTOM} and reports[BOTTOM].ok


def test_check_inputs_missing_person(tmp_path):
    img = make_image(tmp_path / "p.jpg", (600, 900))
    reports = check_inputs(None, img, img)
    assert codes(reports[PERSON]) == ["missing"]
    assert reports[COARSE].ok  # no size comparison without a person size


def test_size_mismatch_shrinkable(tmp_path):
    person = make_image(tmp_path / "p.jpg", (600, 900))
    coarse = make_image(tmp_path / "c.jpg", (800, 1200))
    r = check_inputs(person, person, coarse)[COARSE]
    assert codes(r) == ["size_mismatch"] and r.fixable
    assert "800×1200" in r.summary() and "600×900" in r.summary()


def test_size_mismatch_would_need_enlarging(tmp_path):
    person = make_image(tmp_path / "p.jpg", (800, 1200))
    coarse = make_image(tmp_path / "c.jpg", (600, 900))
    r = check_inputs(person, person, coarse)[COARSE]
    assert codes(r) == ["size_mismatch"] and not r.fixable


def test_size_mismatch_other_aspect(tmp_path):
    person = make_image(tmp_path / "p.jpg", (600, 900))
    coarse = make_image(tmp_path / "c.jpg", (900, 900))
    r = check_inputs(person, person, coarse)[COARSE]
    assert codes(r) == ["size_mismatch"] and not r.fixable


def test_size_mismatch_within_rounding_is_fixable(tmp_path):
    person = make_image(tmp_path / "p.jpg", (600, 901))
    coarse = make_image(tmp_path / "c.jpg", (1200, 1800))
    assert check_inputs(person, person, coarse)[COARSE].fixable


def test_sizes_compared_after_planned_fix(tmp_path):
    # A person photo stored sideways (EXIF 6) becomes 200x300 once fixed: a 200x300 coarse
    # image matches it; the person photo still has its own (fixable) problem.
    person = write_exif_rotated_jpeg(tmp_path / "p.jpg", (300, 200), 6)
    coarse = make_image(tmp_path / "c.jpg", (200, 300))
    reports = check_inputs(person, coarse, coarse)
    assert codes(reports[PERSON]) == ["exif_rotated"]
    assert reports[COARSE].ok


def test_oversized_person_compared_at_fixed_size(tmp_path):
    person = solid(tmp_path / "p.png", (8190, 400))  # fixed to 4095x200
    coarse = solid(tmp_path / "c.png", (4095, 200))
    reports = check_inputs(person, coarse, coarse)
    assert codes(reports[PERSON]) == ["too_large_resolution"]
    assert reports[COARSE].ok
