"""The docstring gate (.ci/docstrings.py) counts exactly the public names it promises to."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_gate():
    spec = importlib.util.spec_from_file_location("ci_docstrings", ROOT / ".ci" / "docstrings.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gate = _load_gate()

SOURCE = textwrap.dedent(
    '''
    """Module docstring."""
    from typing import overload

    def documented():
        """Yes."""
        def nested():
            pass

    def bare():
        pass

    def _private():
        pass

    class Public:
        def __init__(self):
            pass

        def __repr__(self):
            return ""

        def method(self):
            pass

        @property
        def value(self):
            """Documented on the getter."""
            return 1

        @value.setter
        def value(self, v):
            pass

        @overload
        def over(self, x: int) -> int: ...
        def over(self, x):
            """The implementation."""
            return x

        class Inner:
            pass

    class _Hidden:
        def method(self):
            pass

    if True:
        def conditional():
            pass
    '''
)


def test_counts_public_names_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(SOURCE)
    (pkg / "_private_mod.py").write_text("def f():\n    pass\n")
    (pkg / "test_thing.py").write_text("def test_x():\n    pass\n")
    (pkg / "skipped").mkdir()
    (pkg / "skipped" / "m.py").write_text("def f():\n    pass\n")

    files = gate.collect([Path("pkg")], [Path("pkg/skipped")])
    assert [f.name for f in files] == ["__init__.py", "_private_mod.py", "mod.py"]
    reports = {f.name: gate.check_file(f, tmp_path) for f in files}
    assert reports["_private_mod.py"] is None
    assert [name for _, name in reports["__init__.py"].missing] == ["<module>"]
    mod = reports["mod.py"]
    assert [name for _, name in mod.missing] == [
        "bare",
        "Public",
        "Public.method",
        "Public.Inner",
        "conditional",
    ]
    # module, documented, bare, Public, method, value, over, Inner, conditional
    assert mod.total == 9


def test_exit_status(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.py").write_text('"""Doc."""\n\ndef f():\n    """Doc."""\n')
    (tmp_path / "bad.py").write_text('"""Doc."""\n\ndef g():\n    pass\n')
    assert gate.main(["good.py"]) == 0
    assert gate.main(["good.py", "bad.py"]) == 1
    assert "bad.py:3: g" in capsys.readouterr().out
