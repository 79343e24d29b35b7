"""Fix: conforming copies, originals untouched, no partial files (refiner_gui.images.fix_image)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from PIL import Image

from refiner_gui.images import ImageFixError, check_image, check_inputs, fix_image
from refiner_gui.images.fix import TARGET_BYTES
from refiner_gui.slots import COARSE, PERSON, TOP
from tests.helpers.broken_images import (
    BLUE,
    RED,
    noise_image,
    truncate,
    write_animated_gif,
    write_bomb_png,
    write_exif_rotated_jpeg,
    write_large_bmp,
    write_rgb48_png,
)
from tests.helpers.images import make_image

NAME = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{12}\.fixed\.(?P<ext>jpg|png)$")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fix_and_verify(src: Path, dest: Path, **kwargs) -> Path:
    """Fix ``src`` and check the promises every fix keeps."""
    before = sha(src)
    out = fix_image(src, dest, **kwargs)
    assert sha(src) == before, "the original was modified"
    assert out.parent == dest and out.exists()
    assert NAME.match(out.name) and NAME.match(out.name)["stem"] == src.stem
    report = check_image(out)
    assert report.ok, report.problems
    assert out.stat().st_size <= TARGET_BYTES
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]
    return out


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 40) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def info(path: Path) -> tuple[tuple[int, int], str, str | None]:
    """(size, mode, format) of an image file, closing it again."""
    with Image.open(path) as im:
        return im.size, im.mode, im.format


def pixel(path: Path, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(path) as im:
        return im.convert("RGB").getpixel(xy)  # type: ignore[return-value]


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "fixed"


# --- each fixable problem ---------------------------------------------------------------


def test_already_fine_jpeg_gets_a_conforming_copy(tmp_path, dest):
    src = make_image(tmp_path / "ok.jpg", (300, 400))
    out = fix_and_verify(src, dest)
    assert out.suffix == ".jpg" and info(out)[0] == (300, 400)


def test_lossless_source_stays_png(tmp_path, dest):
    src = make_image(tmp_path / "garment.png", (300, 400), fmt="PNG")
    out = fix_and_verify(src, dest)
    assert out.suffix == ".png"
    with Image.open(out) as a, Image.open(src) as b:
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def test_exif_rotation_applied_to_pixels(tmp_path, dest):
    # Stored 300x200, left red / right blue; orientation 6 means "rotate 90° clockwise to
    # display", so the upright copy is 200x300 with red on top and blue below.
    src = write_exif_rotated_jpeg(tmp_path / "side.jpg", (300, 200), 6)
    out = fix_and_verify(src, dest, slot=PERSON)
    with Image.open(out) as im:
        assert im.size == (200, 300)
        assert im.getexif().get(0x0112, 1) == 1
    assert close(pixel(out, (100, 40)), RED)
    assert close(pixel(out, (100, 260)), BLUE)


def test_exif_orientation_3_upside_down(tmp_path, dest):
    src = write_exif_rotated_jpeg(tmp_path / "flip.jpg", (300, 200), 3)
    out = fix_and_verify(src, dest)
    assert info(out)[0] == (300, 200)
    assert close(pixel(out, (40, 100)), BLUE) and close(pixel(out, (260, 100)), RED)


def test_cmyk_converted(tmp_path, dest):
    src = make_image(tmp_path / "c.jpg", fmt="JPEG", mode="CMYK", color=(0, 255, 255, 0))
    out = fix_and_verify(src, dest)
    assert info(out)[1] == "RGB"
    assert close(pixel(out, (10, 10)), (255, 0, 0), tol=60)  # no magenta/yellow ink = red


def test_sixteen_bit_grey_scaled_not_clipped(tmp_path, dest):
    src = make_image(tmp_path / "g.png", fmt="PNG", mode="I;16", color=40000)
    out = fix_and_verify(src, dest)
    assert close(pixel(out, (5, 5)), (155, 155, 155), tol=2)  # 40000/257, not 255


def test_sixteen_bit_rgb(tmp_path, dest):
    out = fix_and_verify(write_rgb48_png(tmp_path / "rgb48.png", 300, 200), dest)
    assert close(pixel(out, (5, 5)), (156, 156, 156), tol=2)


def test_alpha_flattened_on_white(tmp_path, dest):
    src = tmp_path / "cutout.png"
    img = Image.new("RGBA", (300, 400), (0, 0, 0, 0))  # transparent black
    img.paste((20, 120, 20, 255), (100, 100, 200, 300))
    img.save(src)
    out = fix_and_verify(src, dest)
    assert info(out)[1] == "RGB"
    assert pixel(out, (5, 5)) == (255, 255, 255)
    assert pixel(out, (150, 200)) == (20, 120, 20)


def test_palette_transparency_flattened(tmp_path, dest):
    src = tmp_path / "p.png"
    im = Image.new("P", (300, 400), 0)
    im.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    im.paste(1, (0, 0, 150, 400))
    im.save(src, transparency=0)
    out = fix_and_verify(src, dest)
    assert pixel(out, (250, 10)) == (255, 255, 255)
    assert pixel(out, (10, 10)) == (200, 10, 10)


def test_animated_gif_first_frame(tmp_path, dest):
    out = fix_and_verify(write_animated_gif(tmp_path / "anim.gif"), dest)
    assert close(pixel(out, (10, 10)), RED)


@pytest.mark.parametrize(("fmt", "ext"), [("WEBP", "webp"), ("TIFF", "tif")])
def test_other_formats_converted(tmp_path, dest, fmt, ext):
    src = make_image(tmp_path / f"a.{ext}", (300, 400), fmt=fmt)
    out = fix_and_verify(src, dest)
    assert info(out)[2] in ("JPEG", "PNG")
    assert out.suffix == (".png" if fmt == "TIFF" else ".jpg")


def test_too_large_file_shrunk_under_limit(tmp_path, dest):
    src = write_large_bmp(tmp_path / "big.bmp", 6 * 1024 * 1024)
    out = fix_and_verify(src, dest)
    assert out.suffix == ".jpg"
    assert info(out)[0] == info(src)[0]  # quality, not pixels, gave way


def test_incompressible_jpeg_steps_quality_down(tmp_path, dest):
    src = tmp_path / "noise.jpg"
    noise_image((2000, 2000), seed=1).save(src, "JPEG", quality=100)
    assert check_image(src).problems[0].code == "file_too_large"
    out = fix_and_verify(src, dest)
    assert info(out)[0][0] <= 2000


@pytest.mark.parametrize(
    ("size", "expected"),
    [((6000, 3000), (4095, 2048)), ((3000, 6000), (2048, 4095)), ((4096, 4096), (4095, 4095))],
)
def test_downscale_keeps_aspect(tmp_path, dest, size, expected):
    src = make_image(tmp_path / "huge.jpg", size, quality=70)
    out = fix_and_verify(src, dest)
    w, h = info(out)[0]
    assert (w, h) == expected
    assert abs(w / h - size[0] / size[1]) < 0.001


def test_rotated_and_too_large(tmp_path, dest):
    src = write_exif_rotated_jpeg(tmp_path / "r.jpg", (5000, 3000), 8)
    out = fix_and_verify(src, dest)
    assert info(out)[0] == (2457, 4095)


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(150, 400), (400, 120), (5000, 160)])
def test_too_small_raises(tmp_path, dest, size):
    src = make_image(tmp_path / "small.png", size, fmt="PNG", mode="L", color=1)
    with pytest.raises(ImageFixError) as e:
        fix_image(src, dest)
    assert "too small" in e.value.message or "narrow" in e.value.message
    assert str(e.value) == e.value.message
    assert not dest.exists() or not any(dest.iterdir())


@pytest.mark.parametrize(
    ("maker", "word"),
    [
        (lambda p: p.write_text("hello"), "not an image"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: truncate(make_image(p, (600, 800), fmt="JPEG"), 0.5), "incomplete"),
        (lambda p: write_bomb_png(p), "enormous"),
        (lambda p: None, "not found"),
    ],
)
def test_unfixable_raise_with_the_preflight_reason(tmp_path, dest, maker, word):
    src = tmp_path / "bad.jpg"
    maker(src)
    with pytest.raises(ImageFixError, match=word):
        fix_image(src, dest)
    assert not dest.exists() or not any(dest.iterdir())


def test_damage_only_seen_when_decoding(tmp_path, dest):
    # A TIFF has no cheap end marker, so pre-flight trusts it; Fix's decode finds the damage.
    src = truncate(make_image(tmp_path / "a.tif", (600, 800), fmt="TIFF"), 0.5)
    assert check_image(src).fixable
    with pytest.raises(ImageFixError, match="damaged"):
        fix_image(src, dest)
    assert not dest.exists() or not any(dest.iterdir())


# --- target_size (coarse to person) -----------------------------------------------------


def test_target_size_makes_inputs_match(tmp_path, dest):
    person = make_image(tmp_path / "person.jpg", (600, 900))
    top = make_image(tmp_path / "top.jpg", (400, 400))
    coarse = make_image(tmp_path / "coarse.jpg", (1200, 1800))
    assert check_inputs(person, top, coarse)[COARSE].fixable
    fixed = fix_and_verify(coarse, dest, slot=COARSE, target_size=(600, 900))
    assert info(fixed)[0] == (600, 900)
    assert all(r.ok for r in check_inputs(person, top, fixed).values())


def test_target_size_never_upscales(tmp_path, dest):
    coarse = make_image(tmp_path / "c.jpg", (600, 900))
    with pytest.raises(ImageFixError, match="enlarging"):
        fix_image(coarse, dest, slot=COARSE, target_size=(800, 1200))


def test_target_size_refuses_distortion(tmp_path, dest):
    coarse = make_image(tmp_path / "c.jpg", (900, 900))
    with pytest.raises(ImageFixError, match="distort"):
        fix_image(coarse, dest, slot=COARSE, target_size=(600, 900))


@pytest.mark.parametrize("target", [(150, 150), (4096, 4096)])
def test_target_size_must_be_within_limits(tmp_path, dest, target):
    src = make_image(tmp_path / "c.png", (5000, 5000), fmt="PNG", mode="L", color=9)
    with pytest.raises(ImageFixError, match="outside"):
        fix_image(src, dest, target_size=target)


def test_target_size_after_rotation(tmp_path, dest):
    src = write_exif_rotated_jpeg(tmp_path / "c.jpg", (900, 600), 6)  # upright 600x900
    out = fix_and_verify(src, dest, target_size=(400, 600))
    assert info(out)[0] == (400, 600)


# --- naming and files -------------------------------------------------------------------


def test_same_stem_different_photos_do_not_collide(tmp_path, dest):
    a = make_image(tmp_path / "a" / "IMG_0001.jpg", (300, 400), color=(10, 10, 10))
    b = make_image(tmp_path / "b" / "IMG_0001.jpg", (300, 400), color=(250, 250, 250))
    assert fix_image(a, dest) != fix_image(b, dest)


def test_same_input_same_name(tmp_path, dest):
    src = make_image(tmp_path / "a.jpg")
    first = fix_image(src, dest)
    assert fix_image(src, dest) == first
    assert len(list(dest.iterdir())) == 1


def test_fix_into_the_source_folder_keeps_the_original(tmp_path):
    src = write_exif_rotated_jpeg(tmp_path / "photo.jpg", (300, 200), 6)
    out = fix_and_verify(src, tmp_path)
    assert out != src and src.exists()


def test_returns_path_for_str_arguments(tmp_path):
    src = make_image(tmp_path / "a.jpg")
    out = fix_image(str(src), str(tmp_path / "d"), slot=TOP)
    assert isinstance(out, Path) and out.exists()
