"""Docstring gate: every public module, class, function and method has a docstring.

Usage: ``python .ci/docstrings.py PATH... [--exclude PATH]...`` (files or folders, relative
to the current directory). Prints the coverage of each file and the names that lack a
docstring; exits 1 if any does, 0 otherwise. Standard library only (``ast``), so it runs on
every supported Python without a dependency.

What counts:

* a module, unless its file name starts with ``_`` (a package's ``__init__.py`` counts);
* a class, function or method whose own name and every enclosing name (package, module,
  class) are public, i.e. do not start with ``_``;
* not: ``__init__`` and other dunder methods, functions nested in functions (and anything
  inside them), ``@overload`` stubs, property setters and deleters, test files
  (``test_*.py``, ``*_test.py``, ``conftest.py``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FileReport:
    """Docstring coverage of one file: how many names count, and which of them lack one."""

    path: Path
    total: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)

    @property
    def covered(self) -> int:
        """How many of the counted names have a docstring."""
        return self.total - len(self.missing)


def _is_test_file(path: Path) -> bool:
    name = path.name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def _is_private(name: str) -> bool:
    return name.startswith("_")


def _skipped_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Name) and target.id == "overload":
            return True
        if isinstance(target, ast.Attribute) and (
            target.attr in ("setter", "deleter") or target.attr == "overload"
        ):
            return True
    return False


def _walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[int, str, bool]]:
    """Yield (line, qualified name, has docstring) for each counted definition in ``body``
    (a module's or a class's); functions are not descended into."""
    for node in body:
        if isinstance(node, ast.ClassDef):
            if _is_private(node.name):
                continue
            name = f"{prefix}{node.name}"
            yield node.lineno, name, ast.get_docstring(node) is not None
            yield from _walk(node.body, f"{name}.")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if _is_private(node.name) or _skipped_decorator(node):
                continue  # dunder methods, __init__ included, start with "_" too
            yield node.lineno, f"{prefix}{node.name}", ast.get_docstring(node) is not None
        elif isinstance(node, (ast.If, ast.Try)):
            # Definitions under `if TYPE_CHECKING:` / `try: ... except ImportError:`.
            branches = [node.body, node.orelse]
            if isinstance(node, ast.Try):
                branches += [h.body for h in node.handlers] + [node.finalbody]
            for branch in branches:
                yield from _walk(branch, prefix)


def check_file(path: Path, root: Path) -> FileReport | None:
    """The report for one file, or None if nothing in it counts (a private module)."""
    report = FileReport(path)
    full = path.resolve()
    parts = full.relative_to(root).with_suffix("").parts if full.is_relative_to(root) else ()
    parts = tuple(p for p in parts if p != "__init__") or (path.stem,)
    if any(_is_private(p) for p in parts):
        return None
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    report.total += 1
    if ast.get_docstring(tree) is None:
        report.missing.append((1, "<module>"))
    for line, name, documented in _walk(tree.body, ""):
        report.total += 1
        if not documented:
            report.missing.append((line, name))
    return report


def collect(paths: list[Path], excludes: list[Path]) -> list[Path]:
    """The Python files under ``paths``, minus ``excludes`` and test files, sorted."""
    skip = [e.resolve() for e in excludes]

    def excluded(p: Path) -> bool:
        r = p.resolve()
        return any(r == e or e in r.parents for e in skip)

    files: set[Path] = set()
    for p in paths:
        candidates = [p] if p.is_file() else sorted(p.rglob("*.py"))
        files.update(f for f in candidates if not excluded(f) and not _is_test_file(f))
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    """Run the gate; the exit status is 1 if a counted name lacks a docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to check")
    parser.add_argument(
        "--exclude", action="append", type=Path, default=[], help="a file or folder to skip"
    )
    args = parser.parse_args(argv)
    for p in args.paths:
        if not p.exists():
            parser.error(f"no such file or folder: {p}")

    root = Path.cwd().resolve()
    reports = [r for f in collect(args.paths, args.exclude) if (r := check_file(f, root))]
    total = sum(r.total for r in reports)
    covered = sum(r.covered for r in reports)
    width = max((len(str(r.path)) for r in reports), default=10)
    for r in reports:
        pct = 100.0 * r.covered / r.total if r.total else 100.0
        flag = "" if not r.missing else f"  MISSING {len(r.missing)}"
        print(f"{str(r.path):<{width}}  {r.covered:>3}/{r.total:<3} {pct:5.1f}%{flag}")
    missing = [(r.path, line, name) for r in reports for line, name in r.missing]
    if missing:
        print("\nMissing docstrings:")
        for path, line, name in missing:
            print(f"{path}:{line}: {name}")
    pct = 100.0 * covered / total if total else 100.0
    print(f"\nDocstring coverage: {covered}/{total} ({pct:.1f}%), {len(missing)} missing.")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
