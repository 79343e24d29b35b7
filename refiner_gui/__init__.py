"""refiner-gui: a desktop app and command line for the AILabTools Try on Clothes Refiner API.

The package is layered so the folder list shows it:

* ``api``      – HTTP client, response parsing, typed errors (no Qt).
* ``images``   – pre-flight checks and fixes of input images (no Qt).
* ``sandbox``  – a local HTTP server that behaves like the API (no Qt).
* ``cli``      – the ``refiner-cli`` command line over the same core.
* ``ui``       – Qt widgets only; ``workers`` is the one module that crosses threads.
"""

from __future__ import annotations

from typing import Any

APP_NAME = "refiner-gui"
APP_AUTHOR = "refiner-gui"


def __getattr__(name: str) -> Any:
    # importlib.metadata costs ~20 ms at start-up; the version is read when first asked for.
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("refiner-gui")
        except metadata.PackageNotFoundError:  # a source tree that is not installed
            version = "0.0.0+source"
        globals()["__version__"] = version
        return version
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
