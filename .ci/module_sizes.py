"""Gate: no module of the app over 600 lines, and the window's frame under 400.

Usage: ``python .ci/module_sizes.py`` from the repository root. Prints the largest
modules and every one over its limit; exits 1 if any is. Small modules named for what
they hold are the project's habit (see the architecture issue); this keeps it so.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LIMIT = 600
LIMITS = {"refiner_gui/ui/main_window.py": 400}


def main() -> int:
    """Check every ``.py`` under ``refiner_gui/``; 1 if one is over its limit."""
    sizes = []
    for path in sorted((ROOT / "refiner_gui").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        with path.open(encoding="utf-8") as fh:
            lines = sum(1 for _ in fh)
        sizes.append((lines, rel))
    over = [(n, rel) for n, rel in sizes if n > LIMITS.get(rel, DEFAULT_LIMIT)]
    for n, rel in sorted(sizes, reverse=True)[:5]:
        print(f"{n:5d}  {rel}")
    for n, rel in over:
        print(f"{rel}: {n} lines, over the limit of {LIMITS.get(rel, DEFAULT_LIMIT)}")
    print(f"{len(sizes)} modules, {len(over)} over their limit")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
