"""The review as one self-contained HTML file: summary header, then a card per job.

Self-contained means: images are embedded as ``data:`` JPEG thumbnails, CSS is inline,
there is no script, and a Content-Security-Policy forbids loading anything else, so the
file can be mailed or archived and opens the same anywhere without touching the network
or the local disk.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import IO

import refiner_gui
from refiner_gui.jobs.models import Job
from refiner_gui.reports._files import atomic_output
from refiner_gui.reports._thumbs import Thumb, ThumbnailCache
from refiner_gui.reports.preferences import blind_summary
from refiner_gui.reports.summary import (
    INPUT_SLOTS,
    error_code,
    format_rate,
    human_utc,
    summarize,
    tag_label,
    unreviewed_split,
    verdict_text,
)

JPEG_QUALITY = 82  # thumbnails: small files, no visible blocking at 240 px
BATCH = 64  # jobs whose thumbnails are made together on the pool (bounded memory)


@dataclass(frozen=True)
class _Img:
    """An embedded thumbnail (``uri`` set) or a placeholder text."""

    uri: str = ""
    width: int = 0
    height: int = 0
    problem: str = ""


def _encode(thumb: Thumb) -> _Img:
    if thumb.image is None:
        return _Img(problem=thumb.problem)
    buf = io.BytesIO()
    thumb.image.save(buf, "JPEG", quality=JPEG_QUALITY)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return _Img(f"data:image/jpeg;base64,{data}", *thumb.image.size)


_CSS = """
:root { color-scheme: light; --ink:#1d2330; --muted:#5b6474; --line:#d9dde5; --bg:#f5f6f8;
  --pass:#17803d; --fail:#c62828; --none:#6b7280; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, Helvetica, Arial, sans-serif; color: var(--ink); background: var(--bg); }
h1 { margin: 0 0 4px; font-size: 24px; }
.meta { margin: 0 0 16px; color: var(--muted); }
.summary { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 20px; margin-bottom: 20px; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin: 0 0 16px; padding: 0; }
.stat { min-width: 110px; padding: 8px 12px; border: 1px solid var(--line); border-radius: 6px; }
.stat dt { color: var(--muted); font-size: 12px; text-transform: uppercase; }
.stat dd { margin: 0; font-size: 22px; font-weight: 600; }
.stat dd.sub { font-size: 12px; font-weight: 400; color: var(--muted); }
table.tags { border-collapse: collapse; min-width: 420px; }
table.tags th, table.tags td { padding: 3px 10px 3px 0; text-align: left; }
table.tags th { color: var(--muted); font-weight: 500; font-size: 12px; }
table.tags td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.tags tr.zero { color: var(--muted); }
.bar { display: inline-block; height: 10px; background: #8a6fd1; border-radius: 2px;
  vertical-align: middle; }
.card { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--none);
  border-radius: 8px; padding: 14px 16px; margin-bottom: 16px; }
.card.pass { border-left-color: var(--pass); }
.card.fail { border-left-color: var(--fail); }
.card > header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 10px;
  margin-bottom: 10px; }
.card h2 { margin: 0; font-size: 17px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff;
  font-size: 12px; font-weight: 700; letter-spacing: .04em; background: var(--none); }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.muted { color: var(--muted); }
.images { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 10px;
  max-width: calc(5 * var(--thumb) + 40px); }
figure { margin: 0; text-align: center; }
figure img { display: block; margin: 0 auto; max-width: 100%; height: auto;
  border: 1px solid var(--line); background: #fff; }
figure.refined img, figure.refined .ph { outline: 2px solid #8a6fd1; outline-offset: 1px; }
.ph { display: flex; align-items: center; justify-content: center; margin: 0 auto;
  max-width: 100%; aspect-ratio: 2 / 3; border: 1px dashed #aab1bd; color: var(--muted);
  background: #f0f1f4; font-size: 13px; padding: 6px; }
.ph.empty { background: none; border-style: dotted; }
figcaption { font-size: 12px; font-weight: 600; margin-top: 4px; }
figcaption .file { display: block; font-weight: 400; color: var(--muted);
  overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px;
  margin: 12px 0 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.note { white-space: pre-wrap; }
.tag { display: inline-block; padding: 0 7px; margin: 0 4px 2px 0; border-radius: 4px;
  background: #ece8f8; font-size: 12px; }
.error { color: var(--fail); }
code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
@media print {
  body { background: #fff; padding: 0; }
  .summary, .card { border-color: #999; break-inside: avoid; page-break-inside: avoid; }
  .badge, .bar, .card { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def _thumb_html(img: _Img, label: str, *, thumb_px: int, missing_text: str = "") -> str:
    if img.uri:
        return (
            f'<img src="{img.uri}" alt="{escape(label)}" width="{img.width}" height="{img.height}">'
        )
    return _placeholder(missing_text or img.problem or "No image", thumb_px)


def _placeholder(text: str, thumb_px: int, cls: str = "") -> str:
    # Portrait 2:3 like a typical look, no taller than a thumbnail.
    klass = f"ph {cls}" if cls else "ph"
    return f'<div class="{klass}" style="width:{thumb_px * 2 // 3}px">{escape(text)}</div>'


def _figure(label: str, body: str, file_name: str = "", cls: str = "") -> str:
    name = f'<span class="file">{escape(file_name)}</span>' if file_name else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<figure{klass}>{body}<figcaption>{escape(label)}{name}</figcaption></figure>"


def _refined_problem(job: Job, img: _Img) -> str:
    if job.result_path is None:
        # Say why there is no picture: the state tells a reviewer what to do next.
        return f"No result: {job.state.label}"
    return img.problem or "No image"


def _card(job: Job, cache: ThumbnailCache[_Img], thumb_px: int) -> str:
    verdict = job.verdict if job.verdict in ("pass", "fail") else "none"
    badge = verdict_text(job).upper()
    figures: list[str] = []
    for slot, _short, label in INPUT_SLOTS:
        item = job.inputs.get(slot)
        if item is None:
            # Keep the empty cell so Refined stays in the same column on every card.
            text = "No bottom" if label == "Bottom" else "No file"
            figures.append(_figure(label, _placeholder(text, thumb_px, "empty")))
            continue
        img = cache.get(item.path)
        figures.append(_figure(label, _thumb_html(img, label, thumb_px=thumb_px), item.name))
    res = cache.get(job.result_path)
    figures.append(
        _figure(
            "Refined",
            _thumb_html(
                res,
                "Refined",
                thumb_px=thumb_px,
                missing_text="" if res.uri else _refined_problem(job, res),
            ),
            cls="refined",
        )
    )

    facts: list[str] = []
    tags = "".join(
        f'<span class="tag" data-tag="{escape(t)}">{escape(tag_label(t))}</span>' for t in job.tags
    )
    none = '<span class="muted">none</span>'
    facts.append(f'<dt>Tags</dt><dd class="tags">{tags or none}</dd>')
    note = escape(job.note) if job.note else none
    facts.append(f'<dt>Note</dt><dd class="note">{note}</dd>')
    facts.append(f"<dt>Task id</dt><dd><code>{escape(job.task_id or '—')}</code></dd>")
    if job.tryon is not None:  # the coarse image was made by the app: its own call
        model = "Try on Clothes " + job.tryon.model.title()
        facts.append(
            f"<dt>Coarse image</dt><dd>{escape(model)}, task "
            f"<code>{escape(job.tryon.task_id or '—')}</code></dd>"
        )
    facts.append(f"<dt>Gender</dt><dd>{escape(job.gender or '—')}</dd>")
    if job.error_message:
        code = error_code(job)
        prefix = f"[{escape(code)}] " if code else ""
        facts.append(f'<dt>Error</dt><dd class="error">{prefix}{escape(job.error_message)}</dd>')

    return (
        f'<article class="card {verdict}" id="job-{job.id}" data-job-id="{job.id}">'
        f"<header><h2>Job {job.id}</h2>"
        f'<span class="badge {verdict}">{badge}</span>'
        f'<span class="state">{escape(job.state.label)}</span>'
        f'<span class="muted">{escape(human_utc(job.created_at))}</span></header>'
        f'<div class="images">{"".join(figures)}</div>'
        f'<dl class="facts">{"".join(facts)}</dl></article>\n'
    )


def _unreviewed_stats(jobs: Sequence[Job]) -> str:
    """Unreviewed looks, and apart from them the jobs that never made a look: a failed or
    outcome-unknown job is not work waiting for a reviewer."""
    split = unreviewed_split(jobs)
    cells = [
        ("Unreviewed", "count-unreviewed", split["looks"], "looks waiting for a verdict"),
        ("Failed", "count-failed-jobs", split["failed"], "refused or failed: no look"),
        (
            "Outcome unknown",
            "count-outcome-unknown",
            split["outcome_unknown"],
            "sent, no answer: may be billed",
        ),
    ]
    if split["other"]:
        cells.append(
            ("Other", "count-other", split["other"], "waiting, expired or cancelled: no look")
        )
    return "".join(
        f'<div class="stat"><dt>{escape(label)}</dt><dd id="{key}">{n}</dd>'
        f'<dd class="sub">{escape(sub)}</dd></div>'
        for label, key, n, sub in cells
    )


def _header(jobs: Sequence[Job], title: str, generated: float) -> str:
    s = summarize(jobs)
    rate = format_rate(s["pass_rate"])
    reviewed = f"{s['pass']} of {s['reviewed']} reviewed" if s["reviewed"] else "none reviewed"
    stats = (
        f'<div class="stat"><dt>Looks</dt><dd id="count-jobs">{s["jobs"]}</dd></div>'
        f'<div class="stat"><dt>Pass rate</dt><dd id="pass-rate">{rate}</dd>'
        f'<dd class="sub">{reviewed}</dd></div>'
        f'<div class="stat"><dt>Pass</dt><dd id="count-pass">{s["pass"]}</dd></div>'
        f'<div class="stat"><dt>Fail</dt><dd id="count-fail">{s["fail"]}</dd></div>'
        + _unreviewed_stats(jobs)
    )
    top = max((t["count"] for t in s["tags"]), default=0) or 1
    zero = ' class="zero"'
    rows = "".join(
        f'<tr data-tag="{escape(t["id"])}"{"" if t["count"] else zero}>'
        f'<td>{escape(t["label"])}</td><td class="n">{t["count"]}</td>'
        f'<td><span class="bar" style="width:{round(160 * t["count"] / top)}px"></span></td>'
        "</tr>"
        for t in s["tags"]
    )
    return (
        f'<header class="summary"><h1>{escape(title)}</h1>'
        f'<p class="meta">Generated {escape(human_utc(generated))} · {s["jobs"]} '
        f"{'look' if s['jobs'] == 1 else 'looks'} · refiner-gui "
        f"{escape(refiner_gui.__version__)}</p>"
        f'<dl class="stats">{stats}</dl>'
        '<table class="tags"><thead><tr><th>Defect tag</th><th>Looks</th><th></th></tr>'
        f"</thead><tbody>{rows}</tbody></table></header>\n"
    )


def _blind_section(jobs: Sequence[Job]) -> str:
    """The blind comparisons: how often the refined image won, overall and per tag ("" when
    no look has a blind answer)."""
    b = blind_summary(jobs)
    if not b.overall.total:
        return ""

    def share(n: int, total: int) -> str:
        return f"{round(100 * n / total)}%" if total else "—"

    groups = [(tag, tag_label(tag), c) for tag, c in b.by_tag.items()]
    if b.untagged.total:
        groups.append(("", "No defect tag", b.untagged))
    rows = "".join(
        f'<tr data-blind-tag="{escape(tag)}"><td>{escape(label)}</td>'
        f'<td class="n">{c.refined} of {c.total}</td><td class="n">{share(c.refined, c.total)}'
        f'</td><td class="n">{c.coarse}</td><td class="n">{c.same}</td></tr>'
        for tag, label, c in groups
    )
    o = b.overall
    table = (
        '<table class="tags"><thead><tr><th>Defect tag</th><th>Refined won</th><th></th>'
        f"<th>Coarse won</th><th>Same</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        '<section class="summary" id="blind"><h2>Blind comparisons</h2>'
        f'<p id="blind-overall">{escape(o.describe().capitalize())} '
        f"({share(o.refined, o.total)}; coarse {o.coarse}, same {o.same}). "
        "The sides were shuffled and hidden when the reviewer answered.</p>"
        f"{table}</section>\n"
    )


def _write(
    fh: IO[str],
    jobs: Sequence[Job],
    title: str,
    thumb_px: int,
    generated: float,
    cache: ThumbnailCache[_Img],
) -> None:
    fh.write(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # No network, no local files, no script: only inline styles and data: images.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f'<body style="--thumb:{thumb_px}px">\n'
    )
    fh.write(_header(jobs, title, generated))
    fh.write(_blind_section(jobs))
    fh.write("<main>\n")
    for start in range(0, len(jobs), BATCH):
        batch = jobs[start : start + BATCH]
        # One parallel pass per batch over the files not cached yet; then cards in order.
        cache.prefetch(
            p for j in batch for p in [*(i.path for i in j.inputs.values()), j.result_path]
        )
        for job in batch:
            fh.write(_card(job, cache, thumb_px))
    fh.write("</main></body></html>\n")


def export_html(
    jobs: Sequence[Job], dest: Path, *, title: str = "Refiner review", thumb_px: int = 240
) -> Path:
    """Write the review of ``jobs`` (in the given order) as one HTML file; return ``dest``.

    Header: ``title``, generation time (UTC), number of looks, pass rate (passes /
    reviewed), pass / fail counts, the unreviewed looks counted apart from the failed and
    outcome-unknown jobs (and any still waiting, expired or cancelled: see
    :func:`~refiner_gui.reports.summary.unreviewed_split`), a per-tag count table with bars
    (see :func:`~refiner_gui.reports.summary.summarize`). Then one card per job: person, top,
    bottom, coarse and refined thumbnails (at most ``thumb_px`` on their long side,
    JPEG ``data:`` URIs), verdict badge, tags, note, task id, gender, state, date and
    the error message if any. Every piece of user text is HTML-escaped.

    Never fails because of a job's files: a deleted or unreadable image becomes a
    labelled placeholder, a job without a result says why (its state). Each file is
    decoded once per export (cache by path). Written atomically (see ``atomic_output``);
    ``OSError`` if ``dest``'s folder cannot be written, with nothing left behind.
    """
    if not 32 <= thumb_px <= 1024:
        raise ValueError("thumb_px must be between 32 and 1024")
    dest = Path(dest)
    with ThumbnailCache(thumb_px, _encode) as cache, atomic_output(dest, encoding="utf-8") as fh:
        _write(fh, jobs, title, thumb_px, time.time(), cache)
    return dest
