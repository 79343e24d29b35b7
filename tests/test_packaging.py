"""The installed package must carry every subpackage and the resources it needs."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "refiner_gui").rglob("__init__.py")
    }
    missing = found - listed
    assert not missing, f"add to [tool.setuptools] packages: {sorted(missing)}"


def test_sample_images_exist_for_demo_mode():
    from refiner_gui.demo import sample_paths

    for path in sample_paths().values():
        assert path.is_file() and path.stat().st_size > 1000
