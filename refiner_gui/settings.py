"""User settings: one JSON file in the config folder, read and written as a dataclass.

No Qt and no secrets: the API key lives in the OS keyring (:mod:`refiner_gui.keystore`).
Unknown or ill-typed values in the file fall back to defaults, so a hand-edited or older
file never stops the app from starting. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from refiner_gui.atomic import atomic_open
from refiner_gui.config import (
    DEFAULT_BASE_URL,
    DEFAULT_FILENAME_PATTERN,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    app_paths,
)

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
SCHEMA_VERSION = 1


@dataclass
class Settings:
    """The user's settings (no secrets); unknown or bad values fall back to defaults."""

    base_url: str = DEFAULT_BASE_URL
    poll_interval: float = DEFAULT_POLL_INTERVAL  # fixed period; in "auto", the fallback
    poll_mode: str = "auto"  # "auto": learned from the job history; "fixed": poll_interval
    timeout: float = DEFAULT_TIMEOUT
    output_dir: str = ""  # empty: the platform's pictures folder / refiner-gui
    filename_pattern: str = DEFAULT_FILENAME_PATTERN
    gender: str = ""  # last explicit choice; empty until the user picks one
    save_format: str = "png"  # "png" or "jpg"
    tryon_model: str = "pro"  # what makes a missing coarse image: "pro" or "premium"

    def output_path(self) -> Path:
        """The folder results are saved to (the pictures folder by default)."""
        return Path(self.output_dir).expanduser() if self.output_dir else app_paths().outputs


def settings_path() -> Path:
    """The settings file in the app's config folder."""
    return app_paths().config / SETTINGS_FILE


def load_settings(path: Path | None = None) -> Settings:
    """Read settings; missing file or bad values give defaults (logged, never raised)."""
    path = path or settings_path()
    s = Settings()
    try:
        raw: Any = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return s
    except (OSError, ValueError) as exc:
        log.warning("settings file unreadable (%s); using defaults", type(exc).__name__)
        return s
    if not isinstance(raw, dict):
        return s
    for f in fields(Settings):
        if f.name not in raw:
            continue
        value = raw[f.name]
        default = getattr(s, f.name)
        if (
            isinstance(default, float)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            setattr(s, f.name, float(value))
        elif isinstance(default, str) and isinstance(value, str):
            setattr(s, f.name, value)
    if s.gender not in ("", "woman", "man"):
        s.gender = ""
    if s.save_format not in ("png", "jpg"):
        s.save_format = "png"
    if s.tryon_model not in ("pro", "premium"):
        s.tryon_model = "pro"
    if "poll_mode" not in raw:
        # Files from before "auto" hold the interval either way: the old default means
        # nobody chose it (auto now), anything else was the user's choice (kept fixed).
        chosen = "poll_interval" in raw and s.poll_interval != DEFAULT_POLL_INTERVAL
        s.poll_mode = "fixed" if chosen else "auto"
    if s.poll_mode not in ("auto", "fixed"):
        s.poll_mode = "auto"
    return s


def check_seconds(name: str, value: float) -> float:
    """``value`` as float if it is a finite number of seconds above 0; else ValueError
    with a plain message naming the setting (``nan`` would poll flat out or never time
    out)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds above 0 (got {value}).")
    return float(value)


def save_settings(s: Settings, path: Path | None = None) -> Path:
    """Write ``s`` atomically (to ``path`` or the config folder); return the path.

    Raises ValueError (nothing written) for a poll interval or timeout that is not a
    finite number of seconds above 0.
    """
    check_seconds("The poll interval", s.poll_interval)
    check_seconds("The timeout", s.timeout)
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema": SCHEMA_VERSION, **asdict(s)}
    with atomic_open(path, encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    return path
