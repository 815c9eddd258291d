"""The layers' bytecode (infra.bytecode): compiled by a Python 3.13 only, the same bytes from any
build directory (so the asset hash moves only with the code), and used without the sources' stat."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import bytecode

pytestmark = pytest.mark.infra

PYTHON = bytecode.find_python()
needs_313 = pytest.mark.skipif(PYTHON is None, reason="no Python 3.13 on PATH or under pyenv")


def _tree(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 42\n")
    (root / "pkg" / "mod.py").write_text("def where():\n    raise RuntimeError('here')\n")
    return root


@needs_313
def test_the_same_sources_compile_to_the_same_bytes_in_any_directory(tmp_path: Path) -> None:
    one, two = _tree(tmp_path / "a" / "python"), _tree(tmp_path / "elsewhere" / "b" / "python")
    for tree in (one, two):
        bytecode.compile_tree(tree, PYTHON)
    compiled = sorted(p.relative_to(one) for p in one.rglob("*.pyc"))
    assert [p.name for p in compiled] == ["__init__.cpython-313.pyc", "mod.cpython-313.pyc"]
    assert all((one / p).read_bytes() == (two / p).read_bytes() for p in compiled)


@needs_313
def test_compiled_modules_load_without_writing_or_checking_the_sources(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "python")
    bytecode.compile_tree(tree, PYTHON)
    (tree / "pkg" / "__init__.py").write_text("VALUE = 0\n")  # unchecked-hash: the shipped bytecode runs
    result = subprocess.run([str(PYTHON), "-B", "-c", "import pkg; print(pkg.VALUE)"], cwd=tree,
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == "42"


def _fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_a_wrong_interpreter_is_never_taken_for_313(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INGEST_LAYER_PYTHON", raising=False)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    _fake_python(tmp_path / "bin" / "python3.13", "3.12")  # named 3.13, is not
    _fake_python(tmp_path / "pyenv" / "versions" / "3.13.9" / "bin" / "python3.13", "3.11")
    assert bytecode.find_python() is None
    real = _fake_python(tmp_path / "pyenv" / "versions" / "3.13.1" / "bin" / "python3.13", "3.13")
    assert bytecode.find_python() == real


def test_the_override_is_that_interpreter_or_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    _fake_python(tmp_path / "bin" / "python3.13", "3.13")
    monkeypatch.setenv("INGEST_LAYER_PYTHON", str(_fake_python(tmp_path / "old" / "python", "3.12")))
    with pytest.raises(ValueError, match="INGEST_LAYER_PYTHON=.* is not a Python 3.13"):
        bytecode.find_python()
    chosen = _fake_python(tmp_path / "chosen" / "python", "3.13")
    monkeypatch.setenv("INGEST_LAYER_PYTHON", str(chosen))
    assert bytecode.find_python() == chosen


def test_remove_bytecode_leaves_only_sources(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "python")
    (tree / "pkg" / "__pycache__").mkdir()
    (tree / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"x")
    (tree / "stray.pyc").write_bytes(b"x")
    bytecode.remove_bytecode(tree)
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == ["__init__.py", "mod.py"]
