"""Review exports (refiner_gui.reports): every file is written for real and read back."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io
import json
import math
import os
import re
import zlib
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

import refiner_gui
from refiner_gui.jobs.models import DEFECT_TAGS, Job, JobState
from refiner_gui.jobs.store import JobStore
from refiner_gui.reports import (
    _pdf,
    _thumbs,
    contact_sheet,
    export_contact_sheet,
    export_csv,
    export_html,
    export_json,
    html_report,
    summarize,
    summary,
)
from refiner_gui.reports._thumbs import ThumbnailCache, make_thumbnail
from refiner_gui.reports.contact_sheet import SheetLayout, pdf_layout, pdf_page_count, png_size
from refiner_gui.reports.preferences import blind_summary
from refiner_gui.reports.summary import format_rate
from refiner_gui.reports.tabular import CSV_FIELDS, guard_cell
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.images import make_image

TRICKY = '=cmd|"x", <b>bold</b>\nline2 ünï'
SECRET = "sk-test-SECRET-4242"


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    s = JobStore(tmp_path / "data" / "jobs.sqlite3")
    yield s
    s.close()


def _inputs(root: Path, *, bottom: bool = False, tag: str = "") -> dict[str, Path]:
    files = {
        PERSON: make_image(root / f"person{tag}.jpg", (300, 450)),
        TOP: make_image(root / f"top{tag}.png", (320, 320), color=(200, 40, 40)),
        COARSE: make_image(root / f"coarse{tag}.jpg", (300, 450), color=(90, 120, 200)),
    }
    if bottom:
        files[BOTTOM] = make_image(root / f"bottom{tag}.png", (260, 400), color=(20, 150, 60))
    return files


def _succeed(store: JobStore, job: Job, n: int, color: tuple[int, int, int]) -> Job:
    store.mark_submitting(job.id)
    store.mark_submitted(job.id, f"task-{n}", f"req-{n}", f"log-{n}")
    result = make_image(store.result_path_for(job.id, ".jpg"), (300, 450), color=color)
    return store.mark_succeeded(job.id, result)


@pytest.fixture
def jobs(store: JobStore, tmp_path: Path) -> list[Job]:
    """Six looks: 2 fail, 2 pass, 2 unreviewed (one failed at the API, one still waiting);
    shared person/top/coarse files, one with a bottom garment, tricky text, an unknown tag."""
    src = tmp_path / "src"
    shared = _inputs(src)
    ids = []

    j = store.create_job(shared, "woman")
    _succeed(store, j, 1, (10, 120, 100))
    store.set_review(j.id, "fail", ["hands", "artifacts"], TRICKY)
    ids.append(j.id)

    j = store.create_job(shared, "man")
    _succeed(store, j, 2, (120, 120, 10))
    store.set_review(j.id, "pass", [], "fine, thanks")
    ids.append(j.id)

    j = store.create_job(_inputs(src, bottom=True, tag="-b"), "woman")
    _succeed(store, j, 3, (60, 60, 60))
    store.set_review(j.id, "pass", ["garment_colour"], "colour slightly off — acceptable")
    ids.append(j.id)

    j = store.create_job(shared, "woman")
    _succeed(store, j, 4, (200, 200, 200))
    store.set_review(j.id, "fail", ["hands"], "@SUM(A1)")
    ids.append(j.id)

    j = store.create_job(shared, "man")
    store.mark_submitting(j.id)
    store.mark_finished(
        j.id,
        JobState.FAILED,
        {
            "message": "The person photo is not a full-body view",
            "code": -2003,
            "request_id": "req-5",
        },
    )
    ids.append(j.id)

    j = store.create_job(shared, "woman")
    store.mark_submitting(j.id)
    store.mark_submitted(j.id, "task-6")
    ids.append(j.id)

    out = store.get_many(ids)
    # A tag this version does not know (the store refuses to set one, but a history written
    # by a newer version can hold it): exports must show it by its id, not drop it.
    out[3] = dataclasses.replace(out[3], tags=(*out[3].tags, "sparkles"))
    return out


@pytest.fixture(autouse=True)
def secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API key in the environment must never reach an export."""
    monkeypatch.setenv("AILABAPI_API_KEY", SECRET)


# -- helpers --------------------------------------------------------------------------------


class _Doc(HTMLParser):
    """Collects what the HTML tests look at."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.job_ids: list[str] = []
        self.by_id: dict[str, str] = {}
        self.tag_counts: dict[str, int] = {}
        self.notes: dict[str, str] = {}
        self.cards: dict[str, str] = {}  # job id -> all its text
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._job: str | None = None
        self._tag_row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        for key in ("src", "href", "srcset", "action", "data", "poster"):
            if key in a:
                self.refs.append((tag, key, a[key]))
        if "data-job-id" in a:
            self._job = a["data-job-id"]
            self.job_ids.append(self._job)
            self.cards[self._job] = ""
        if tag == "tr" and "data-tag" in a:
            self._tag_row = a["data-tag"]
        if tag not in ("img", "meta", "br"):
            self._stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            t, _a = self._stack.pop()
            if t == tag:
                break
        if tag == "article":
            self._job = None
        if tag == "tr":
            self._tag_row = None

    def handle_data(self, data: str) -> None:
        if self._job is not None:
            self.cards[self._job] += data
        if not self._stack:
            return
        tag, a = self._stack[-1]
        if "id" in a:
            self.by_id[a["id"]] = self.by_id.get(a["id"], "") + data
        classes = a.get("class", "").split()
        if "note" in classes and self._job is not None:
            self.notes[self._job] = self.notes.get(self._job, "") + data
        if tag == "td" and "n" in classes and self._tag_row:
            self.tag_counts[self._tag_row] = int(data)


def _parse(path: Path) -> _Doc:
    doc = _Doc()
    doc.feed(path.read_text(encoding="utf-8"))
    doc.close()
    return doc


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".part")]


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


def _pdf_objects(data: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Every object as (dictionary, stream bytes or None), checked against the xref."""
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    for m in re.finditer(rb"(?m)^(\d+) 0 obj\n", data):
        at_stream = data.find(b"\nstream\n", m.end())
        at_end = data.find(b"\nendobj", m.end())
        stream = None
        if at_stream != -1 and at_stream < at_end:
            head = data[m.end() : at_stream]
            start = at_stream + len(b"\nstream\n")
            stream = data[start : start + int(re.search(rb"/Length (\d+)", head).group(1))]
            assert data[start + len(stream) :].startswith(b"\nendstream")
        else:
            head = data[m.end() : at_end]
        objects[int(m.group(1))] = (head, stream)
    # The cross-reference table points at each object's first byte.
    xref = int(re.search(rb"startxref\n(\d+)", data).group(1))
    table = data[xref:].split(b"trailer")[0].split(b"\n")
    assert table[0] == b"xref"
    for number, entry in enumerate(table[3:], start=1):
        if entry.strip():
            offset = int(entry.split()[0])
            assert data[offset:].startswith(b"%d 0 obj" % number), number
    return objects


def _unescape(literal: bytes) -> bytes:
    return re.sub(
        rb"\\([nrtbf()\\]|[0-7]{1,3})",
        lambda m: {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(
            m.group(1), bytes([int(m.group(1), 8)]) if m.group(1).isdigit() else m.group(1)
        ),
        literal,
    )


def _pdf_text(data: bytes) -> list[list[str]]:
    """Per page, the strings its text operators show (``(...) Tj``), decoded as WinAnsi."""
    objects = _pdf_objects(data)
    pages = []
    for head, _stream in objects.values():
        if re.search(rb"/Type /Page(?![a-z])", head):
            content = objects[int(re.search(rb"/Contents (\d+) 0 R", head).group(1))]
            raw = content[1]
            if b"/FlateDecode" in content[0]:
                raw = zlib.decompress(raw)
            shown = re.findall(rb"\(((?:[^\\()]|\\.)*)\) Tj", raw, re.S)
            pages.append([_unescape(t).decode("cp1252") for t in shown])
    return pages


# -- summary --------------------------------------------------------------------------------


def test_summary_counts_and_pass_rate(jobs):
    s = summarize(jobs)
    assert (s["jobs"], s["pass"], s["fail"], s["unreviewed"], s["reviewed"]) == (6, 2, 2, 2, 4)
    assert s["pass_rate"] == 0.5
    counts = {t["id"]: t["count"] for t in s["tags"]}
    assert counts["hands"] == 2 and counts["artifacts"] == 1 and counts["garment_colour"] == 1
    assert counts["sparkles"] == 1 and counts["background"] == 0
    assert [t["id"] for t in s["tags"]][: len(DEFECT_TAGS)] == list(DEFECT_TAGS)
    assert {t["id"]: t["label"] for t in s["tags"]}["sparkles"] == "sparkles"
    assert s["states"] == {"failed": 1, "submitted": 1, "succeeded": 4}


def test_pass_rate_without_reviews_is_none():
    assert summarize([])["pass_rate"] is None
    assert format_rate(None) == "—"
    assert format_rate(2 / 3) == "66.7%" and format_rate(0.5) == "50%"


# -- CSV ------------------------------------------------------------------------------------


def test_csv_round_trips_through_dictreader(jobs, tmp_path):
    out = export_csv(jobs, tmp_path / "review.csv")
    assert out == tmp_path / "review.csv"
    with open(out, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == CSV_FIELDS
        rows = list(reader)
    assert [r["job_id"] for r in rows] == [str(j.id) for j in jobs]
    for job, row in zip(jobs, rows, strict=True):
        created = datetime.fromisoformat(row["created"])
        assert created.utcoffset() == timezone.utc.utcoffset(None)
        assert abs(created.timestamp() - job.created_at) < 1
        assert row["state"] == job.state.value
        assert row["gender"] == job.gender
        assert row["task_id"] == (job.task_id or "")
        assert row["request_id"] == (job.request_id or "")
        assert row["log_id"] == (job.log_id or "")
        assert row["verdict"] == (job.verdict or "")
        assert row["tags"] == ";".join(job.tags)
        assert row["tag_labels"] == "; ".join(DEFECT_TAGS.get(t, t) for t in job.tags)
        assert row["note"] == guard_cell(job.note)
        assert row["error_message"] == job.error_message
        for slot, short in (
            (PERSON, "person"),
            (TOP, "top"),
            (COARSE, "coarse"),
            (BOTTOM, "bottom"),
        ):
            item = job.inputs.get(slot)
            assert row[f"{short}_file"] == (item.name if item else "")
            assert row[f"{short}_sha256"] == (item.sha256 if item else "")
        assert row["result_path"] == (str(job.result_path) if job.result_path else "")

    first, failed = rows[0], rows[4]
    # The tricky note survives intact (commas, quotes, a newline, non-ASCII), made inert.
    assert first["note"] == "'" + TRICKY
    assert first["tags"] == "artifacts;hands"
    assert first["tag_labels"] == "Artifacts; Hands"
    assert rows[3]["note"] == "'@SUM(A1)"
    assert failed["error_code"] == "-2003"  # a plain number is not a formula: unquoted
    assert failed["verdict"] == "" and failed["result_path"] == ""
    assert rows[2]["bottom_file"] == "bottom-b.png"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("\r=x", "'\r=x"),
        ("-3", "-3"),
        ("+4.5", "+4.5"),
        ("a=b", "a=b"),
        ("", ""),
        ("ok, fine", "ok, fine"),
    ],
)
def test_formula_guard(text, expected):
    assert guard_cell(text) == expected


def test_csv_guards_every_free_text_cell(store, tmp_path):
    j = store.create_job(_inputs(tmp_path / "src", tag="x"), "=woman")
    store.mark_submitting(j.id)
    store.mark_submitted(j.id, "+task", "-req", "@log")
    out = export_csv([store.get(j.id)], tmp_path / "r.csv")
    with open(out, encoding="utf-8", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert (row["gender"], row["task_id"], row["request_id"], row["log_id"]) == (
        "'=woman",
        "'+task",
        "'-req",
        "'@log",
    )


def test_csv_excel_bom(jobs, tmp_path):
    out = export_csv(jobs, tmp_path / "r.csv", excel_bom=True)
    assert out.read_bytes().startswith(b"\xef\xbb\xbfjob_id,")
    with open(out, encoding="utf-8-sig", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(jobs)


# -- JSON -----------------------------------------------------------------------------------


def test_json_export(jobs, tmp_path):
    out = export_json(jobs, tmp_path / "review.json")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {"generated_at", "app_version", "summary", "jobs"}
    assert doc["app_version"] == refiner_gui.__version__
    assert datetime.fromisoformat(doc["generated_at"]).utcoffset() is not None
    assert doc["summary"] == json.loads(json.dumps(summarize(jobs)))
    assert [j["id"] for j in doc["jobs"]] == [j.id for j in jobs]
    first = doc["jobs"][0]
    assert first["note"] == TRICKY  # JSON is data, not a spreadsheet: no guard
    assert first["tags"] == ["artifacts", "hands"]
    assert first["verdict"] == "fail" and first["state"] == "succeeded"
    assert first["inputs"]["person"]["sha256"] == jobs[0].inputs[PERSON].sha256
    assert first["inputs"]["person"]["original_name"] == jobs[0].inputs[PERSON].name
    assert first["result_path"] == str(jobs[0].result_path)
    failed = doc["jobs"][4]
    assert failed["error"] == {
        "message": "The person photo is not a full-body view",
        "code": -2003,
        "request_id": "req-5",
    }
    assert failed["result_path"] is None and failed["state_label"] == "Failed"


# -- HTML -----------------------------------------------------------------------------------


def test_html_is_self_contained_and_complete(jobs, store, tmp_path):
    out = export_html(jobs, tmp_path / "review.html", title="Spring <drop> & co")
    text = out.read_text(encoding="utf-8")
    doc = _parse(out)

    assert doc.job_ids == [str(j.id) for j in jobs]
    # Only embedded images; nothing that loads from the network or the disk.
    assert doc.refs, "expected embedded images"
    for tag, attr, value in doc.refs:
        assert value.startswith("data:image/jpeg;base64,"), (tag, attr, value[:40])
    assert "script" not in doc.tags and "link" not in doc.tags and "iframe" not in doc.tags
    assert "://" not in text and "url(" not in text
    assert str(store.root) not in text and str(tmp_path) not in text  # no local paths
    assert "<title>Spring &lt;drop&gt; &amp; co</title>" in text

    # The tricky note is text, not markup.
    assert "b" not in doc.tags
    assert doc.notes[str(jobs[0].id)] == TRICKY
    assert "&lt;b&gt;bold&lt;/b&gt;" in text

    assert doc.by_id["pass-rate"] == "50%"
    assert doc.by_id["count-jobs"] == "6"
    assert (doc.by_id["count-pass"], doc.by_id["count-fail"]) == ("2", "2")
    # The two unreviewed jobs have no look: one failed, one is still waiting.
    assert doc.by_id["count-unreviewed"] == "0"
    assert doc.by_id["count-failed-jobs"] == "1" and doc.by_id["count-other"] == "1"
    assert doc.by_id["count-outcome-unknown"] == "0"
    assert doc.tag_counts["hands"] == 2 and doc.tag_counts["artifacts"] == 1
    assert doc.tag_counts["garment_colour"] == 1 and doc.tag_counts["sparkles"] == 1
    assert doc.tag_counts["background"] == 0
    for label in DEFECT_TAGS.values():
        assert label in text

    cards = {int(k): v for k, v in doc.cards.items()}
    assert "FAIL" in cards[jobs[0].id] and "Hands" in cards[jobs[0].id]
    assert "PASS" in cards[jobs[1].id] and "task-2" in cards[jobs[1].id]
    assert "bottom-b.png" in cards[jobs[2].id]
    assert "No result: Failed" in cards[jobs[4].id]
    assert "The person photo is not a full-body view" in cards[jobs[4].id]
    assert "No result: Waiting" in cards[jobs[5].id]
    assert "UNREVIEWED" in cards[jobs[5].id]


def test_html_counts_failed_and_unknown_apart_from_unreviewed(jobs, store, tmp_path):
    look = _succeed(store, store.create_job(_inputs(tmp_path / "more"), "man"), 7, (1, 2, 3))
    lost = store.create_job(_inputs(tmp_path / "more"), "man")
    store.mark_submitting(lost.id)
    lost = store.mark_finished(lost.id, JobState.OUTCOME_UNKNOWN, {"message": "no answer"})
    every = [*jobs, look, lost]
    split = summary.unreviewed_split(every)
    assert split == {"looks": 1, "failed": 1, "outcome_unknown": 1, "other": 1}
    assert sum(split.values()) == summarize(every)["unreviewed"]
    doc = _parse(export_html(every, tmp_path / "review.html"))
    assert doc.by_id["count-unreviewed"] == "1"  # only the look waiting for a verdict
    assert doc.by_id["count-failed-jobs"] == "1"
    assert doc.by_id["count-outcome-unknown"] == "1"
    assert doc.by_id["count-other"] == "1"
    # Nothing but reviewable looks: no "Other" box at all.
    clean = _parse(export_html([jobs[0], look], tmp_path / "clean.html"))
    assert clean.by_id["count-unreviewed"] == "1" and "count-other" not in clean.by_id


def test_html_says_how_often_the_refined_image_won_blind(jobs, store, tmp_path):
    # jobs[0] fail (hands, artifacts), [1] pass (no tags), [2] pass (colour), [3] fail
    # (hands + an unknown tag); [4] and [5] have no result and no answer.
    answers = {0: "refined", 1: "refined", 2: "same", 3: "coarse"}
    answered = [dataclasses.replace(j, preference=answers.get(i)) for i, j in enumerate(jobs)]
    s = blind_summary(answered)
    assert (s.overall.refined, s.overall.coarse, s.overall.same) == (2, 1, 1)
    assert s.overall.describe() == "refined preferred 2 of 4 blind comparisons"
    assert (s.by_tag["hands"].refined, s.by_tag["hands"].total) == (1, 2)
    assert s.by_tag["garment_colour"].same == 1 and s.by_tag["sparkles"].coarse == 1
    assert "background" not in s.by_tag  # no comparison carries it
    assert (s.untagged.refined, s.untagged.total) == (1, 1)  # jobs[1] has no tag

    out = export_html(answered, tmp_path / "review.html")
    doc = _parse(out)
    overall = doc.by_id["blind-overall"]
    assert "Refined preferred 2 of 4 blind comparisons" in overall and "50%" in overall
    text = out.read_text(encoding="utf-8")
    hands = re.search(r'<tr data-blind-tag="hands">(.*?)</tr>', text)
    assert hands and "1 of 2" in hands.group(1) and "Hands" in hands.group(1)
    assert re.search(r'<tr data-blind-tag="artifacts">.*?1 of 1.*?</tr>', text)
    assert re.search(r'<tr data-blind-tag="">.*?No defect tag.*?1 of 1.*?</tr>', text)
    # The per-tag counts of the review summary are untouched by the new table.
    assert doc.tag_counts["hands"] == 2 and doc.tag_counts["background"] == 0

    plain = export_html(jobs, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert "blind-overall" not in plain  # no answers: no section at all


def test_html_images_decode_and_fit(jobs, tmp_path):
    out = export_html(jobs, tmp_path / "review.html", thumb_px=120)
    doc = _parse(out)
    # 4 succeeded looks: person, top, coarse, refined (+ bottom once); 2 without a result.
    assert len(doc.refs) == 4 * 4 + 1 + 2 * 3
    for _tag, _attr, value in doc.refs:
        raw = base64.b64decode(value.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(raw)) as im:
            im.load()
            assert im.format == "JPEG" and max(im.size) == 120


def test_html_decodes_each_file_once(jobs, tmp_path, monkeypatch):
    calls: list[Path] = []
    real = _thumbs.make_thumbnail

    def counting(path, box):
        calls.append(Path(path))
        return real(path, box)

    monkeypatch.setattr(_thumbs, "make_thumbnail", counting)
    export_html(jobs, tmp_path / "review.html")
    assert len(calls) == len(set(calls))
    distinct = {i.path for j in jobs for i in j.inputs.values()} | {
        j.result_path for j in jobs if j.result_path
    }
    assert set(calls) == distinct


def test_html_empty_set(tmp_path):
    doc = _parse(export_html([], tmp_path / "empty.html"))
    assert doc.by_id["pass-rate"] == "—" and doc.by_id["count-jobs"] == "0"
    assert doc.job_ids == []


def test_html_rejects_silly_thumbnail_size(jobs, tmp_path):
    with pytest.raises(ValueError):
        export_html(jobs, tmp_path / "x.html", thumb_px=5)
    assert list(tmp_path.glob("x.html*")) == []


# -- missing and broken files ---------------------------------------------------------------


def test_exports_survive_deleted_and_broken_files(jobs, tmp_path):
    victim = jobs[1]
    victim.inputs[PERSON].path.unlink()  # shared by other jobs too
    assert victim.result_path is not None
    victim.result_path.write_bytes(b"not an image at all")

    html = export_html(jobs, tmp_path / "r.html")
    cards = {int(k): v for k, v in _parse(html).cards.items()}
    assert "File missing" in cards[victim.id]
    assert "Cannot read image" in cards[victim.id]
    assert "File missing" in cards[jobs[0].id]  # the shared person photo

    sheet = export_contact_sheet(jobs, tmp_path / "r.png")
    with Image.open(sheet) as im:
        assert im.size == png_size(len(jobs))
    assert export_csv(jobs, tmp_path / "r.csv").stat().st_size > 0
    assert json.loads(export_json(jobs, tmp_path / "r.json").read_text())["jobs"]
    assert export_contact_sheet(jobs, tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")


def test_resumed_job_without_inputs(store, tmp_path):
    job = store.create_resumed("task-elsewhere")
    doc = _parse(export_html([job], tmp_path / "r.html"))
    assert "No file" in doc.cards[str(job.id)]
    export_contact_sheet([job], tmp_path / "r.png")


# -- thumbnails -----------------------------------------------------------------------------


def test_thumbnail_uses_draft_and_exif_orientation(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    src = Image.new("RGB", (1200, 800), (200, 30, 30))  # landscape as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display: portrait
    path = tmp_path / "rotated.jpg"
    src.save(path, "JPEG", exif=exif)

    drafts: list[tuple[int, int]] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    thumb = make_thumbnail(path, 200)
    assert drafts == [(200, 200)]
    assert thumb.image is not None and thumb.image.size == (133, 200)
    assert thumb.image.mode == "RGB"


def test_thumbnail_lays_transparency_on_white(tmp_path):
    im = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    im.paste((255, 0, 0, 255), (25, 25, 75, 75))
    im.save(tmp_path / "cut.png")
    thumb = make_thumbnail(tmp_path / "cut.png", 50)
    assert thumb.image is not None
    assert thumb.image.getpixel((0, 0)) == (255, 255, 255)
    assert thumb.image.getpixel((25, 25)) == (255, 0, 0)


def test_thumbnail_problems(tmp_path):
    assert make_thumbnail(tmp_path / "gone.jpg", 100).problem == "File missing"
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert make_thumbnail(tmp_path / "bad.png", 100).problem == "Cannot read image"


def test_thumbnail_cache_is_bounded_and_parallel(tmp_path):
    paths = [make_image(tmp_path / f"{i}.jpg", (200, 300), color=(i * 20, 0, 0)) for i in range(6)]
    with ThumbnailCache(
        64, lambda t: t.image.size if t.image else None, max_entries=4, workers=3
    ) as cache:
        cache.prefetch([*paths[:3], paths[0], None])
        assert cache.made == 3
        assert cache.get(paths[0]) == (43, 64)
        assert cache.made == 3
        cache.prefetch(paths)  # evicts the oldest beyond 4 entries
        assert cache.made == 6
        cache.get(paths[1])
        assert cache.made == 7


# -- contact sheet --------------------------------------------------------------------------


def test_contact_sheet_png(jobs, tmp_path):
    out = export_contact_sheet(jobs, tmp_path / "look.png", cell_px=160)
    layout = SheetLayout(160)
    with Image.open(out) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == png_size(len(jobs), 160)
        # Independent of png_size: one more look adds exactly one row.
        assert png_size(len(jobs) + 1, 160)[1] - im.height == layout.row_height
        # The refined picture of the first look is in the fifth cell of the first row
        # (its colour is the result's background, (10, 120, 100)).
        x = layout.margin + 4 * (layout.cell + layout.gap) + layout.cell // 2
        y = layout.margin + layout.title_height + layout.caption_height + 5
        r, g, b = im.convert("RGB").getpixel((x, y))
        assert abs(r - 10) < 12 and abs(g - 120) < 12 and abs(b - 100) < 12


def test_contact_sheet_pdf_pages(store, tmp_path):
    shared = _inputs(tmp_path / "src")
    jobs = []
    for n in range(12):
        j = store.create_job(shared, "woman")
        jobs.append(_succeed(store, j, n, (n * 20, 80, 80)))
    out = export_contact_sheet(jobs, tmp_path / "book.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    per_page = pdf_layout(220).looks_per_page()
    assert per_page == 4  # each look carries its task id and two lines of note
    assert _pdf_pages(data) == math.ceil(12 / per_page) == pdf_page_count(12) == 3
    # A4 portrait in points (150 dpi pixels → 72 dpi points).
    assert re.search(rb"/MediaBox \[ 0 0 595\.2\d* 841\.\d+ \]", data)
    # The document title is ours, not the temporary file's name (Pillow writes UTF-16).
    assert b"/Title (" + "\ufeffRefiner lookbook".encode("utf-16-be") + b")" in data
    assert b".part" not in data

    one = export_contact_sheet(jobs[:1], tmp_path / "one.pdf").read_bytes()
    assert _pdf_pages(one) == 1
    empty = export_contact_sheet([], tmp_path / "empty.pdf").read_bytes()
    assert _pdf_pages(empty) == 1


def test_contact_sheet_pdf_has_real_text(jobs, store, tmp_path):
    odd = store.create_job(_inputs(tmp_path / "odd"), "man")
    odd = _succeed(store, odd, 9, (1, 2, 3))
    odd = store.set_review(odd.id, "pass", [], "Größe passt (fast) – ő und 東京 \\ ok")
    out = export_contact_sheet([*jobs, odd], tmp_path / "book.pdf")
    data = out.read_bytes()
    pages = _pdf_text(data)
    assert len(pages) == _pdf_pages(data) == 2
    text = "\n".join(line for page in pages for line in page)
    # Task ids, notes (their lines joined), captions and labels are text operators.
    for n in (1, 2, 3, 4, 6, 9):
        assert f"Task id: task-{n}" in text
    assert 'Note: =cmd|"x", <b>bold</b> / line2 ünï' in text
    assert "Note: fine, thanks" in text and "Note: @SUM(A1)" in text
    assert "colour slightly off — acceptable" in text
    assert f"Job {jobs[0].id} · " in text and "FAIL" in text and "Refined" in text
    # WinAnsi: Latin-1 and the dash survive; ő folds to o; what Helvetica cannot show is ?.
    assert "Note: Größe passt (fast) – o und ?? \\ ok" in text
    assert "Refiner lookbook · page 1 of 2" in pages[0][0]
    # Pictures are embedded JPEG thumbnails, once per file (not the page as one picture).
    objects = _pdf_objects(data)
    images = [head for head, _ in objects.values() if b"/Subtype /Image" in head]
    assert images and all(b"/Filter /DCTDecode" in head for head in images)
    files = {str(p) for j in [*jobs, odd] for p in _thumb_paths(j)}
    assert len(images) == len(files)
    for head in images:
        width = int(re.search(rb"/Width (\d+)", head).group(1))
        assert width <= pdf_layout(220).cell
    for _head, stream in objects.values():
        if stream is not None and stream.startswith(b"\xff\xd8"):
            with Image.open(io.BytesIO(stream)) as im:
                assert im.format == "JPEG"
    assert b"Helvetica" in data and b"/WinAnsiEncoding" in data


def _thumb_paths(job: Job) -> list[Path]:
    paths = [i.path for i in job.inputs.values()]
    return paths + ([job.result_path] if job.result_path else [])


def test_pdf_text_encoding():
    assert _pdf.encode_text("a(b)\\ é—\n東") == b"a(b)\\ \xe9\x97 ?"
    assert _pdf.literal(b"a(b)\\") == b"(a\\(b\\)\\\\)"
    assert _pdf.text_width("ii", 10) < _pdf.text_width("MM", 10)


def test_long_notes_wrap_into_two_lines_and_are_cut(jobs, tmp_path):
    canvas = contact_sheet._PdfCanvas(None)
    for note in ("word " * 400, "x" * 20_000, "short"):
        lines = contact_sheet._wrap(canvas, f"Note: {note}", 13, 1000, 2)
        assert 1 <= len(lines) <= 2
        assert all(canvas.width_of(line, 13) <= 1000 for line in lines)
        assert lines[-1].endswith("…") == (note != "short")
        assert lines[0].startswith("Note: " + note[:3])  # a long word starts on line one


def test_pdf_cells_shrink_to_fit_a4():
    layout = pdf_layout(400)
    assert layout.cell < 400
    assert layout.width <= 1240 and layout.looks_per_page() >= 1


def test_contact_sheet_rejects_other_formats_and_huge_png(jobs, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"\.png or \.pdf"):
        export_contact_sheet(jobs, tmp_path / "look.jpg")
    monkeypatch.setattr(contact_sheet, "MAX_PNG_PIXELS", 1000)
    with pytest.raises(ValueError, match="PDF"):
        export_contact_sheet(jobs, tmp_path / "look.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "src"]


# -- atomic writes --------------------------------------------------------------------------


EXPORTS = [
    ("review.csv", export_csv),
    ("review.json", export_json),
    ("review.html", export_html),
    ("look.png", export_contact_sheet),
    ("look.pdf", export_contact_sheet),
]


@pytest.mark.parametrize("name,export", EXPORTS)
def test_unwritable_destination_raises_and_leaves_nothing(jobs, tmp_path, name, export):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(OSError):
        export(jobs, blocker / name)
    with pytest.raises(OSError):
        export(jobs, tmp_path / "missing" / name)
    assert not (tmp_path / "missing").exists()
    assert blocker.read_text() == "x"


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions that apply (not root)"
)
@pytest.mark.parametrize("name,export", EXPORTS)
def test_read_only_folder(jobs, tmp_path, name, export):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            export(jobs, folder / name)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize(
    "name,export,target",
    [
        ("review.html", export_html, (html_report, "_card")),
        ("look.png", export_contact_sheet, (contact_sheet, "_draw_look")),
        ("look.pdf", export_contact_sheet, (contact_sheet, "_draw_look")),
    ],
)
def test_failure_midway_keeps_the_old_file(jobs, tmp_path, monkeypatch, name, export, target):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / name
    dest.write_bytes(b"previous export")
    module, attr = target
    real = getattr(module, attr)
    calls = {"n": 0}

    def fail_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full, say")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, fail_on_third)
    with pytest.raises(RuntimeError):
        export(jobs, dest)
    assert dest.read_bytes() == b"previous export"
    assert _no_temp_files(out_dir) and [p.name for p in out_dir.iterdir()] == [name]


def test_export_replaces_with_normal_permissions(jobs, tmp_path):
    old = os.umask(0o022)
    try:
        out = export_html(jobs, tmp_path / "r.html")
        png = export_contact_sheet(jobs, tmp_path / "r.png")
    finally:
        os.umask(old)
    if os.name == "posix":  # not mkstemp's private 0o600: a report is made to be shared
        assert out.stat().st_mode & 0o777 == 0o644
        assert png.stat().st_mode & 0o777 == 0o644
    assert _no_temp_files(tmp_path)


# -- nothing secret -------------------------------------------------------------------------


def test_no_secret_or_home_in_any_export(jobs, tmp_path, isolated_home):
    outs = [export(jobs, tmp_path / name) for name, export in EXPORTS]
    for out in outs:
        data = out.read_bytes()
        assert SECRET.encode() not in data, out.name
        assert str(isolated_home).encode() not in data, out.name


@pytest.mark.parametrize("name,export", EXPORTS)
def test_failed_rename_keeps_the_old_file(jobs, tmp_path, monkeypatch, name, export):
    """E.g. Windows refuses to replace a report that a viewer holds open."""
    from refiner_gui import atomic

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    dest = out_dir / name
    dest.write_bytes(b"previous export")

    def refuse(src, dst):
        raise PermissionError(13, "file is open in another program", str(dst))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        export(jobs, dest)
    assert dest.read_bytes() == b"previous export"
    assert [p.name for p in out_dir.iterdir()] == [name]
