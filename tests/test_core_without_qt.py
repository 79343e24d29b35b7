"""The core imports and the command line runs where Qt cannot be imported at all.

Each check runs in a fresh interpreter (``sys.executable``, the repo root first on
``PYTHONPATH``) whose first act is to put a finder on ``sys.meta_path`` that refuses
``PySide6`` and ``shiboken6``; it then asserts that no module of either got loaded. A
package is checked with every module under it, so a Qt import deep inside one is caught,
and the traceback printed on failure shows the import chain that reached Qt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE_PACKAGES = [
    "refiner_gui.api",
    "refiner_gui.batch",
    "refiner_gui.images",
    "refiner_gui.jobs",
    "refiner_gui.sandbox",
    "refiner_gui.reports",
]
CORE_MODULES = [
    "refiner_gui",
    "refiner_gui.cli",
    "refiner_gui.cli_batch",
    "refiner_gui.config",
    "refiner_gui.demo",
    "refiner_gui.keystore",
    "refiner_gui.logs",
    "refiner_gui.outputs",
    "refiner_gui.provenance",
    "refiner_gui.redaction",
    "refiner_gui.resource_files",
    "refiner_gui.settings",
    "refiner_gui.slots",
]

# Runs first in the child: from here on any import of Qt raises ImportError.
NO_QT = textwrap.dedent(
    """
    import sys

    BLOCKED = ("PySide6", "shiboken6")
    assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED], "Qt loaded at start"

    class NoQt:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"Qt is unimportable in this test (import {name!r})")
            return None

    sys.meta_path.insert(0, NoQt())

    def qt_modules():
        return sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    """
)

IMPORT_ALL = textwrap.dedent(
    """
    import importlib, json, pkgutil, traceback

    failed, imported = {}, []
    for top in TARGETS:
        names = [top]
        try:
            package = importlib.import_module(top)
            if WALK and hasattr(package, "__path__"):
                names += [m.name for m in pkgutil.walk_packages(package.__path__, top + ".")]
        except BaseException:
            failed[top] = traceback.format_exc()
            continue
        for name in names:
            try:
                importlib.import_module(name)
                imported.append(name)
            except BaseException:
                failed[name] = traceback.format_exc()
    print(json.dumps({"imported": imported, "failed": failed, "qt": qt_modules()}))
    """
)


def run_without_qt(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` after the Qt blocker in a child interpreter rooted at the repo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REFINER_")}
    env.pop("AILABAPI_API_KEY", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["REFINER_GUI_HOME"] = str(tmp_path / "home")  # nothing touches the real app folder
    return subprocess.run(
        [sys.executable, "-c", NO_QT + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_blocker_blocks(tmp_path):
    """Guard against a vacuous pass: in the child, importing PySide6 really fails."""
    code = textwrap.dedent(
        """
        for name in ("PySide6", "PySide6.QtCore", "shiboken6"):
            try:
                __import__(name)
            except ImportError:
                pass
            else:
                raise SystemExit(f"{name} imported despite the blocker")
        assert not qt_modules(), qt_modules()
        """
    )
    proc = run_without_qt(code, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("target", CORE_PACKAGES + CORE_MODULES)
def test_core_imports_without_qt(target, tmp_path):
    """``target`` (and, for a core package, every module under it) imports with Qt
    unimportable, and leaves no Qt module loaded."""
    walk = target in CORE_PACKAGES  # not the top package: its ui/ is Qt by design
    proc = run_without_qt(f"TARGETS, WALK = [{target!r}], {walk}\n" + IMPORT_ALL, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    problems = "\n".join(f"--- {name} ---\n{tb}" for name, tb in report["failed"].items())
    assert not report["failed"], f"these modules need Qt to import:\n{problems}"
    assert target in report["imported"]
    assert report["qt"] == [], f"Qt modules loaded: {report['qt']}"


def test_cli_help_without_qt(tmp_path):
    """``python -m refiner_gui.cli --help`` prints its usage and exits 0 without Qt."""
    code = textwrap.dedent(
        """
        import runpy
        sys.argv = ["refiner-cli", "--help"]
        try:
            runpy.run_module("refiner_gui.cli", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            status = exc.code
        else:
            status = 0
        loaded = qt_modules()
        assert not loaded, f"Qt modules loaded: {loaded}"
        sys.exit(status)
        """
    )
    proc = run_without_qt(code, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "usage:" in proc.stdout
    assert "refine" in proc.stdout
