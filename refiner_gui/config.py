"""Where the app keeps its files, and the defaults every front end shares.

No Qt here: the command line, the window and the tests all read paths from this module.
``REFINER_GUI_HOME`` moves every folder under one root (for tests and development).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from refiner_gui import APP_AUTHOR, APP_NAME

HOME_ENV = "REFINER_GUI_HOME"
API_KEY_ENV = "AILABAPI_API_KEY"
BASE_URL_ENV = "AILAB_API_BASE_URL"

DEFAULT_BASE_URL = "https://www.ailabapi.com"
DEFAULT_POLL_INTERVAL = 5.0  # the vendor's recommended poll period, seconds
DEFAULT_TIMEOUT = 600.0  # overall wait for one task, seconds
DEFAULT_FILENAME_PATTERN = "refined_{date}_{time}_{task_id}"


@dataclass(frozen=True)
class AppPaths:
    """The folders the app writes to. Created on demand by :func:`ensure`."""

    data: Path
    logs: Path
    outputs: Path
    config: Path

    def ensure(self) -> AppPaths:
        """Create every folder (parents too) and return self."""
        for p in (self.data, self.logs, self.outputs, self.config):
            p.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> AppPaths:
    """Return the app's folders: under ``$REFINER_GUI_HOME`` if set, else the platform's."""
    override = os.environ.get(HOME_ENV)
    if override:
        root = Path(override).expanduser()
        return AppPaths(
            data=root / "data", logs=root / "logs", outputs=root / "outputs", config=root / "config"
        )
    return AppPaths(
        data=Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)),
        outputs=Path(platformdirs.user_pictures_dir()) / APP_NAME,
        config=Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)),
    )


def base_url_from_env(default: str = DEFAULT_BASE_URL) -> str:
    """The service root from ``AILAB_API_BASE_URL``, else ``default``."""
    return os.environ.get(BASE_URL_ENV) or default
