"""Hostile content the app must not trust: images of other formats, service text, bad keys.

Issue 14, items 5, 8, 10 and 14. Each test builds the hostile input itself (a tiny EPS file,
a service answer with markup and terminal escapes, a key with invisible characters) and
talks to a real loopback server where HTTP is involved.
"""

from __future__ import annotations

import pytest
from PIL import EpsImagePlugin, Image, UnidentifiedImageError

from refiner_gui.api import DownloadError, RefinerClient
from refiner_gui.images import ImageFixError, check_image, fix_image
from refiner_gui.images.formats import open_untrusted, safe_formats
from refiner_gui.jobs.previews import write_preview
from refiner_gui.outputs import export_image
from refiner_gui.reports._thumbs import make_thumbnail
from tests.helpers.fast import fast_retry
from tests.helpers.http_stub import Reply, StubServer

# A complete, valid EPS file (200x200 points, one filled box): Pillow's EPS plugin would
# accept it and, on load, run Ghostscript.
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n"
    b"%%BoundingBox: 0 0 200 200\n"
    b"%%EndComments\n"
    b"newpath 10 10 moveto 190 10 lineto 190 190 lineto 10 190 lineto closepath fill\n"
    b"showpage\n%%EOF\n"
)


@pytest.fixture
def no_eps(monkeypatch):
    """Fail the test if Pillow's EPS plugin is ever asked to read a file."""
    calls: list[str] = []

    def refuse(self, *a, **k):
        calls.append("open")
        raise AssertionError("the EPS plugin was run on untrusted data")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)
    return calls


@pytest.fixture
def eps_as_jpg(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(EPS)
    return path


# -- item 5: only the formats the app needs are ever decoded -------------------------------


def test_the_eps_sample_is_one_pillow_would_open_unrestricted(tmp_path):
    path = tmp_path / "sample.eps"
    path.write_bytes(EPS)
    with Image.open(path) as im:  # the unrestricted open: proves the sample is real EPS
        assert im.format == "EPS"
    assert "EPS" not in safe_formats()
    with pytest.raises(UnidentifiedImageError):
        open_untrusted(path)


def test_preflight_refuses_an_eps_renamed_jpg(eps_as_jpg, no_eps):
    report = check_image(eps_as_jpg, "person")
    assert not report.ok
    assert [p.code for p in report.problems] == ["not_an_image"]
    assert not no_eps


def test_fix_refuses_an_eps(eps_as_jpg, tmp_path, no_eps):
    with pytest.raises(ImageFixError):
        fix_image(eps_as_jpg, tmp_path / "fixed", slot="person")
    assert not no_eps


def test_previews_thumbnails_and_exports_refuse_an_eps(eps_as_jpg, tmp_path, no_eps):
    assert write_preview(eps_as_jpg) is None
    assert make_thumbnail(eps_as_jpg, 64).image is None
    with pytest.raises(UnidentifiedImageError):
        export_image(eps_as_jpg, tmp_path / "out.png")
    assert not no_eps


def test_an_eps_result_is_refused_at_download(tmp_path, no_eps):
    with StubServer() as stub:
        stub.reply = Reply(200, (("Content-Type", "image/jpeg"),), EPS)
        client = RefinerClient("hostile-text-key-1234", stub.base_url, retry=fast_retry())
        try:
            with pytest.raises(DownloadError):
                client.download(f"{stub.base_url}/result.jpg", tmp_path / "result.jpg")
        finally:
            client.close()
    assert not (tmp_path / "result.jpg").exists()
    assert not no_eps


def test_qt_load_image_refuses_other_formats(eps_as_jpg, tmp_path, qapp):
    from refiner_gui.workers import load_image

    assert load_image(eps_as_jpg).isNull()
    # Qt reads XPM (a C source text) and PPM itself: refused too, whatever the name.
    xpm = tmp_path / "icon.png"
    xpm.write_bytes(b'/* XPM */\nstatic char *x[] = {\n"2 2 1 1",\n"a c #ff0000",\n"aa",\n"aa"};\n')
    assert load_image(xpm).isNull()
    good = tmp_path / "good.jpg"
    Image.new("RGB", (20, 10), (200, 10, 10)).save(good, "JPEG")
    assert load_image(good).size().width() == 20
