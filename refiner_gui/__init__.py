"""refiner-gui: a desktop app and command line for the AILabTools Try on Clothes Refiner API.

The package is layered so the folder list shows it:

* ``api``      – HTTP client, response parsing, typed errors (no Qt).
* ``images``   – pre-flight checks and fixes of input images (no Qt).
* ``sandbox``  – a local HTTP server that behaves like the API (no Qt).
* ``cli``      – the ``refiner-cli`` command line over the same core.
* ``ui``       – Qt widgets only; ``workers`` is the one module that crosses threads.
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("refiner-gui")
except _metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

APP_NAME = "refiner-gui"
APP_AUTHOR = "refiner-gui"
