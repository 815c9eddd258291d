"""The layers' bytecode (infra.bytecode): compiled by a Python 3.13 only, the same bytes from any
build directory (so the asset hash moves only with the code), and used without the sources' stat."""

from __future__ import annotations

import shutil
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


def test_a_wrong_interpreter_is_never_taken_for_313(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INGEST_LAYER_PYTHON", shutil.which("python3") or "/usr/bin/python3")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # no pyenv versions here
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.13 on PATH either
    found = bytecode.find_python()
    assert found is None or bytecode.interpreter_version(found) == "3.13"


def test_remove_bytecode_leaves_only_sources(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "python")
    (tree / "pkg" / "__pycache__").mkdir()
    (tree / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"x")
    (tree / "stray.pyc").write_bytes(b"x")
    bytecode.remove_bytecode(tree)
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == ["__init__.py", "mod.py"]
