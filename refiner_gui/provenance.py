"""Where a refined image came from, saved beside it: PNG text chunk and a sidecar JSON.

No Qt. The record holds ids support asks for, the gender, a sha256 of every input as it
was uploaded, with the uploaded file's name and the name of the file the user gave (they
differ when Fix made a conforming copy), timestamps and the app version. It never holds
the API key or the temporary result URL (which may carry a signature).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from refiner_gui import __version__
from refiner_gui.atomic import SHARED_MODE, write_text_atomic
from refiner_gui.images.formats import open_untrusted
from refiner_gui.jobs import Job
from refiner_gui.jobs.store import sha256_file  # re-exported: one hashing helper
from refiner_gui.outputs import export_image
from refiner_gui.safe_text import strict_json

PNG_KEY = "refiner-gui"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def build_record(job: Job) -> dict[str, Any]:
    """The provenance record of one finished job (inputs hashed as they were uploaded).

    Each input: ``name`` (the file uploaded, a fixed copy after Fix), ``original_name`` (the
    file the user gave; the same as ``name`` when nothing was fixed) and ``sha256`` (of
    the bytes uploaded).
    """
    files = {
        slot: {"name": item.name, "original_name": item.given_name, "sha256": item.sha256}
        for slot, item in job.inputs.items()
    }
    record = {
        "app": "refiner-gui",
        "app_version": __version__,
        "job_id": job.id,
        "task_id": job.task_id,
        "request_id": job.request_id,
        "log_id": job.log_id,
        "gender": job.gender,
        "inputs": files,
        "result_sha256": sha256_file(job.result_path) if job.result_path else None,
        "created_at": _iso(job.created_at),
        "submitted_at": _iso(job.submitted_at),
        "finished_at": _iso(job.finished_at),
        "saved_at": _iso(datetime.now(timezone.utc).timestamp()),
    }
    if job.tryon is not None:
        # A job that made its own coarse image: both calls, each with its task id.
        record["kind"] = job.kind
        record["stages"] = stages_record(job)
    return record


def stages_record(job: Job) -> list[dict[str, Any]]:
    """A two-stage job's calls, in order: the try-on that made the coarse image (with its
    model) and, for "tryon_refine", the refinement. Empty for a one-stage job."""
    tryon = job.tryon
    if tryon is None:
        return []
    out: list[dict[str, Any]] = [
        {
            "stage": "tryon",
            "model": tryon.model,
            "task_id": tryon.task_id,
            "request_id": tryon.request_id,
            "log_id": tryon.log_id,
            "submitted_at": _iso(tryon.submitted_at),
            "finished_at": _iso(tryon.finished_at),
        }
    ]
    if job.kind == "tryon_refine":
        out.append(
            {
                "stage": "refine",
                "task_id": job.task_id,
                "request_id": job.request_id,
                "log_id": job.log_id,
                "submitted_at": _iso(job.submitted_at),
                "finished_at": _iso(job.finished_at),
            }
        )
    return out


def sidecar_path(image_path: Path) -> Path:
    """The provenance JSON beside a saved image: ``<name>.json``."""
    return image_path.with_name(image_path.name + ".json")


def save_with_provenance(
    src: Path, dest: Path, record: dict[str, Any], *, overwrite: bool = False
) -> tuple[Path, Path]:
    """Write the image (PNG gets the record as an iTXt chunk) and ``<name>.json`` beside it.

    Both files are written atomically. Raises FileExistsError unless ``overwrite``.
    """
    dest = Path(dest)
    side = sidecar_path(dest)
    if not overwrite and (dest.exists() or side.exists()):
        raise FileExistsError(f"{dest} already exists")
    text = strict_json(record, indent=2, sort_keys=True)
    export_image(src, dest, overwrite=overwrite, pnginfo={PNG_KEY: text})
    write_text_atomic(side, text, mode=SHARED_MODE)
    return dest, side


def read_png_record(path: Path) -> dict[str, Any] | None:
    """The record embedded in a saved PNG, or None."""
    with open_untrusted(path) as im:
        raw = getattr(im, "text", {}).get(PNG_KEY)
    return json.loads(raw) if raw else None
