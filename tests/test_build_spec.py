"""The PyInstaller spec, checked cheaply (no build): it compiles, takes its version from
pyproject.toml, bundles every package-data file at its installed path, and excludes no Qt
module the app imports. CI builds and self-tests the real bundle after the tests."""

from __future__ import annotations

import ast
import re
import sys
from fnmatch import fnmatch
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "build_spec" / "refiner-gui.spec"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text("utf-8"), filename=str(SPEC))


def _assigned(name: str) -> ast.expr:
    for node in ast.walk(_spec_tree()):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
    raise AssertionError(f"the spec assigns no {name}")


def test_spec_compiles_as_python():
    compile(SPEC.read_text("utf-8"), str(SPEC), "exec")


def test_spec_reads_the_version_from_pyproject():
    expr = ast.Expression(_assigned("VERSION"))
    version = eval(compile(expr, str(SPEC), "eval"), {"tomllib": tomllib, "ROOT": ROOT})
    assert version == PYPROJECT["project"]["version"]


def _package_data_files() -> dict[Path, str]:
    """Every package-data file in the checkout -> the folder it is installed to."""
    setuptools = PYPROJECT["tool"]["setuptools"]
    package_dir = setuptools.get("package-dir", {})
    files: dict[Path, str] = {}
    for package, patterns in setuptools["package-data"].items():
        src = ROOT / package_dir.get(package, package.replace(".", "/"))
        for pattern in patterns:
            for path in src.glob(pattern):
                files[path.relative_to(ROOT)] = package.replace(".", "/")
    return files


def test_spec_bundles_every_package_data_file_at_its_installed_path():
    datas = ast.literal_eval(_assigned("DATAS"))
    files = _package_data_files()
    assert files, "no package data found: is pyproject's package-data read right?"
    for path, dest in files.items():
        matches = [d for src, d in datas if fnmatch(path.as_posix(), src)]
        assert matches == [dest], f"{path} should be in the spec's DATAS as {dest!r}"
    for src, _ in datas:  # PyInstaller fails the build on a pattern that matches nothing
        assert list(ROOT.glob(src)), f"DATAS pattern {src!r} matches no file"


def test_spec_excludes_no_qt_module_the_app_imports():
    excluded = set(ast.literal_eval(_assigned("QT_UNUSED")))
    used = set()
    for py in (ROOT / "refiner_gui").rglob("*.py"):
        used |= set(re.findall(r"\bPySide6\.(Qt\w+)", py.read_text("utf-8")))
    assert {"QtCore", "QtGui", "QtWidgets"} <= used
    assert not used & excluded, f"the app imports excluded Qt modules {used & excluded}"


def test_spec_collects_the_dynamic_imports_and_the_launcher_exists():
    text = SPEC.read_text("utf-8")
    assert 'collect_submodules("keyring.backends")' in text
    assert 'collect_submodules("refiner_gui.resources")' in text
    assert "copy_metadata(NAME)" in text
    launcher = (ROOT / "build_spec" / "launch_gui.py").read_text("utf-8")
    assert "from refiner_gui.app import main" in launcher
    assert (ROOT / "resources" / "icons" / "refiner-gui.ico").is_file()
