"""Find bundled resources (sample images, icons) installed, frozen, or in a source checkout.

Installed and frozen, ``resources/`` is the package ``refiner_gui.resources`` (see
pyproject.toml and the PyInstaller spec). Running from a source checkout (the tests do),
that package does not exist, so the top-level ``resources/`` folder is used instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_dir(sub: str) -> Path:
    """The folder ``resources/<sub>`` as a real path."""
    try:
        return Path(str(resources.files(f"refiner_gui.resources.{sub}")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "resources" / sub
