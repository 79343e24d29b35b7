"""The checks that run before the tests: lint, formatting, types, module sizes, docstrings.

Usage, from anywhere, with the ``dev`` extra installed (``python -m pip install ".[dev]"``)::

    python .ci/gates.py

Runs every gate even after one fails, so a single run shows everything to fix; exits 1 if
any failed. Each gate is a plain command (printed before it runs) that can be re-run alone.
The tools are pinned exactly in pyproject.toml, so every machine formats and checks alike.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Outside these, every public module, class, function and method needs a docstring.
DOCSTRING_EXCLUDES = ["refiner_gui/ui"]

GATES: list[tuple[str, list[str]]] = [
    ("ruff check", [sys.executable, "-m", "ruff", "check", "."]),
    ("ruff format", [sys.executable, "-m", "ruff", "format", "--check", "."]),
    ("mypy", [sys.executable, "-m", "mypy", "refiner_gui"]),
    ("module sizes", [sys.executable, ".ci/module_sizes.py"]),
    (
        "docstrings",
        [sys.executable, ".ci/docstrings.py", "refiner_gui"]
        + [arg for path in DOCSTRING_EXCLUDES for arg in ("--exclude", path)],
    ),
]


def main() -> int:
    """Run each gate in the repository root; the exit status is 1 if any failed."""
    failed: list[str] = []
    for name, command in GATES:
        shown = ["python", *command[1:]] if command[0] == sys.executable else command
        print(f"\n=== {name}: {' '.join(shown)}")
        sys.stdout.flush()
        start = time.monotonic()
        code = subprocess.call(command, cwd=ROOT)
        took = time.monotonic() - start
        print(f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} ({took:.1f} s)")
        if code != 0:
            failed.append(name)
    print(f"\ngates: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
