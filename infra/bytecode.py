"""Bytecode for Lambda's Python 3.13, compiled into the layers before they ship.

Lambda's `/opt` is read-only: a layer without `.pyc` files is compiled again on every cold start
(under Python 3.13 here, importing the DataHub handler from sources-only layers took ~1,300 ms,
from compiled ones ~640 ms). Bytecode is specific to the interpreter's minor version, so it must
come from a Python 3.13, not from the build's own interpreter: `INGEST_LAYER_PYTHON` if set (it must be one), else
the first `python3.13` on PATH, else the newest 3.13 under pyenv. Without one the layers ship sources only
(as they always could: correct, just a slower cold start) and synth says so.

The files are compiled with `--invalidation-mode unchecked-hash` (Python never stats the source,
which the asset zip does not keep timestamps for anyway) and the build directory stripped from
their paths (`/opt/python/...`), so the same sources give the same bytes on any machine and the
asset's hash moves only when the code does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PYTHON_VERSION = "3.13"  # Lambda's (infra.lambda_platform.RUNTIME)
LAYER_ROOT = "/opt/python"  # where a layer's python/ lands in the function


def find_python(version: str = PYTHON_VERSION) -> Path | None:
    """An interpreter of ``version`` (e.g. "3.13") to compile with, or None."""
    override = os.environ.get("INGEST_LAYER_PYTHON")
    if override:  # told which: that one or none, never a silent fallback
        if interpreter_version(Path(override)) != version:
            raise ValueError(f"INGEST_LAYER_PYTHON={override} is not a Python {version} interpreter")
        return Path(override)
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    root = Path(os.environ.get("PYENV_ROOT") or _pyenv_root() or Path.home() / ".pyenv")
    candidates += sorted(root.glob(f"versions/{version}.*/bin/python{version}"),
                         key=lambda p: [int(x) for x in re.findall(r"\d+", p.parts[-3])], reverse=True)  # fmt: skip
    for candidate in candidates:
        if candidate.is_file() and interpreter_version(candidate) == version:
            return candidate
    return None


def _pyenv_root() -> str | None:
    if not shutil.which("pyenv"):
        return None
    try:
        return subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def interpreter_version(python: Path) -> str | None:
    try:
        result = subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def compile_tree(python_dir: Path, python: Path) -> None:
    """Compile every module under ``python_dir`` (a layer's python/) for ``python``'s version, as
    it will sit under /opt/python. Raises if any file fails to compile."""
    result = subprocess.run(
        [str(python), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", str(python_dir), "-p", LAYER_ROOT, str(python_dir)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"compiling {python_dir} for Python {PYTHON_VERSION} failed:\n{result.stdout}{result.stderr}")


def remove_bytecode(tree: Path) -> None:
    """Drop bytecode of any interpreter (the build machine's own would be for the wrong one)."""
    for cache in sorted(tree.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for stray in tree.rglob("*.pyc"):
        stray.unlink()


_warned = False


def warn_sources_only(what: str) -> None:
    global _warned
    if not _warned:
        print(f"note: no Python {PYTHON_VERSION} found (PATH, pyenv or INGEST_LAYER_PYTHON): {what} ship without "
              "bytecode; every cold start compiles them (docs/deploy.md, \"Bytecode\").", file=sys.stderr)  # fmt: skip
        _warned = True
