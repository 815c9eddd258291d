"""Build the dependency layer for arm64 / Python 3.13 with pip alone (no Docker).

pip can fetch wheels for another platform (``--platform … --only-binary=:all:``), so the layer is
built on any machine. It is installed from ``layers/deps/requirements.lock.txt``, the full
dependency closure pinned with the sha256 of every wheel (``make lock``, ``infra.layer_lock``),
with ``--require-hashes``: a build is reproducible, and a wheel that changed on the index, or a
dependency the lock does not pin, fails the build instead of shipping.

The same recipe builds a twin for the machine's own CPU (``platform_for_machine()``), which the
deployed-layout test imports under Python 3.13: only the compiled wheels differ.

The result is cached: a stamp file next to the layer holds a hash of the lock and of the build
recipe, and while it matches the install is skipped, which keeps ``cdk synth`` (and the infra
tests) fast after the first run.

Run directly to (re)build: ``python -m infra.layer_build [--force] [--platform <pip platform>]``.
"""

from __future__ import annotations

import fcntl
import hashlib
import platform as host_platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from infra import bytecode
from infra.paths import BUILD_DIR, DEPS_LAYER_DIR, DEPS_LOCK, RUNTIME_PYTHON_DIR

# What Lambda runs (infra.lambda_platform checks the function's runtime and architecture agree).
PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"
IMPLEMENTATION = "cp"

# pip's platform tag for a CPU as platform.machine() names it.
_MACHINE_PLATFORMS = {
    "aarch64": "manylinux2014_aarch64",
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
    "amd64": "manylinux2014_x86_64",
}
# Every platform the lock carries hashes for: the deployed one and the test twin's.
LOCK_PLATFORMS = ("manylinux2014_aarch64", "manylinux2014_x86_64")

# The Lambda runtime ships boto3/botocore/s3transfer as a matched set. aws-xray-sdk drags botocore
# in, and a layer copy would shadow the runtime's (layers come first on sys.path) and pair the
# runtime boto3 with a botocore it was not released with — so they are removed after the install.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")

# Bump when the recipe below changes so existing stamps stop matching.
RECIPE_VERSION = "3"  # 3: bytecode for Python 3.13 compiled in (infra.bytecode)

# The runtime layer as it ships: layers/runtime/python with its bytecode compiled in.
RUNTIME_BUILD_DIR = BUILD_DIR / "layers" / "runtime"


@lru_cache(maxsize=1)
def compiler() -> Path | None:
    """The Python 3.13 that compiles the layers' bytecode (None: they ship sources only)."""
    return bytecode.find_python()


def platform_for_machine(machine: str | None = None) -> str:
    """pip's ``--platform`` for this machine's CPU (or ``machine``): the deployed-layout test's twin."""
    machine = (machine or host_platform.machine()).lower()
    try:
        return _MACHINE_PLATFORMS[machine]
    except KeyError:
        raise ValueError(f"no manylinux platform known for CPU {machine!r}; known: {sorted(_MACHINE_PLATFORMS)}") from None


def layer_dir_for(platform: str) -> Path:
    """Where the layer for ``platform`` is built: the deployed one at DEPS_LAYER_DIR (the asset
    ``cdk synth`` ships), any other beside it, named by the platform."""
    return DEPS_LAYER_DIR if platform == PLATFORM else DEPS_LAYER_DIR.with_name(f"deps-{platform}")


def pip_platform_args(platform: str = PLATFORM) -> list[str]:
    return [
        "--platform", platform,
        "--python-version", PYTHON_VERSION,
        "--implementation", IMPLEMENTATION,
        "--only-binary=:all:",
    ]  # fmt: skip


def pip_install_command(requirements: Path, target: Path, platform: str = PLATFORM) -> list[str]:
    return [
        sys.executable, "-m", "pip", "install",
        *pip_platform_args(platform),
        # Every requirement (the whole closure) must be pinned in the lock with the wheel's hash.
        "--require-hashes",
        # .pyc files compiled here would be for the build interpreter, not Lambda's 3.13
        # (infra.bytecode compiles them afterwards with a 3.13).
        "--no-compile",
        "--disable-pip-version-check",
        "--quiet",
        "--target", str(target),
        "-r", str(requirements),
    ]  # fmt: skip


def requirements_hash(requirements: Path, platform: str = PLATFORM) -> str:
    compiled = "bytecode" if compiler() else "sources"  # a 3.13 found later rebuilds with bytecode
    recipe = f"{RECIPE_VERSION}|{platform}|{PYTHON_VERSION}|{IMPLEMENTATION}|{','.join(RUNTIME_PROVIDED)}|{compiled}\n"
    return hashlib.sha256(recipe.encode() + requirements.read_bytes()).hexdigest()


def stamp_path(layer_dir: Path) -> Path:
    # Beside the asset, not inside it: the stamp must not change the layer's content hash.
    return layer_dir.with_name(layer_dir.name + ".stamp")


def is_up_to_date(requirements: Path, layer_dir: Path, platform: str = PLATFORM) -> bool:
    stamp = stamp_path(layer_dir)
    return (
        stamp.is_file()
        and stamp.read_text().strip() == requirements_hash(requirements, platform)
        and (layer_dir / "python").is_dir()
    )


def build_dependency_layer(
    requirements: Path = DEPS_LOCK,
    layer_dir: Path | None = None,
    *,
    platform: str = PLATFORM,
    force: bool = False,
) -> Path:
    """Install the locked ``requirements`` for ``platform`` into ``layer_dir/python`` unless the
    stamp says it is current.

    Returns ``layer_dir`` (default: ``layer_dir_for(platform)``), the directory to hand to
    ``Code.from_asset``.
    """
    layer_dir = layer_dir or layer_dir_for(platform)
    layer_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(layer_dir):
        if not force and is_up_to_date(requirements, layer_dir, platform):
            return layer_dir
        _install(requirements, layer_dir, platform)
        stamp_path(layer_dir).write_text(requirements_hash(requirements, platform) + "\n")
    return layer_dir


def _install(requirements: Path, layer_dir: Path, platform: str) -> None:
    # Start clean: leftovers from an older requirements file would otherwise ship in the layer.
    stamp_path(layer_dir).unlink(missing_ok=True)
    shutil.rmtree(layer_dir, ignore_errors=True)
    target = layer_dir / "python"
    result = _run_pip(pip_install_command(requirements, target, platform))
    if result.returncode != 0:
        raise RuntimeError(f"dependency layer build failed:\n{result.stdout}\n{result.stderr}")
    _prune(target)
    python = compiler()
    if python is None:
        bytecode.warn_sources_only("the layers")
    else:
        bytecode.compile_tree(target, python)


def build_runtime_layer(source: Path = RUNTIME_PYTHON_DIR, layer_dir: Path = RUNTIME_BUILD_DIR) -> Path:
    """The runtime layer's asset: ``source`` (the ingest package) copied to ``layer_dir/python``
    with its bytecode for Python 3.13, rebuilt only when the sources (or the compiler) change.
    Returns ``layer_dir``, the directory to hand to ``Code.from_asset``."""
    python = compiler()
    layer_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(layer_dir):
        digest = hashlib.sha256(f"{RECIPE_VERSION}|{python and bytecode.interpreter_version(python)}".encode())
        for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"):
            digest.update(str(path.relative_to(source)).encode() + b"\0" + path.read_bytes() + b"\0")
        stamp = stamp_path(layer_dir)
        if stamp.is_file() and stamp.read_text().strip() == digest.hexdigest() and (layer_dir / "python").is_dir():
            return layer_dir
        stamp.unlink(missing_ok=True)
        shutil.rmtree(layer_dir, ignore_errors=True)
        shutil.copytree(source, layer_dir / "python", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if python is None:
            bytecode.warn_sources_only("the layers")
        else:
            bytecode.compile_tree(layer_dir / "python", python)
        stamp.write_text(digest.hexdigest() + "\n")
    return layer_dir


def _run_pip(command: list[str]) -> subprocess.CompletedProcess[str]:
    # One seam for tests: they replace this, not the process-wide subprocess.run.
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _prune(target: Path) -> None:
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(target / name, ignore_errors=True)
        for dist_info in target.glob(f"{name}-*.dist-info"):
            shutil.rmtree(dist_info)
    # Console scripts are useless in a layer and carry the build machine's interpreter path.
    shutil.rmtree(target / "bin", ignore_errors=True)
    bytecode.remove_bytecode(target)


@contextmanager
def _exclusive_lock(layer_dir: Path) -> Iterator[None]:
    """Serialise concurrent builds (parallel test workers, a synth next to a test run)."""
    lock_file = layer_dir.with_name(layer_dir.name + ".lock")
    with lock_file.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


if __name__ == "__main__":
    args = sys.argv[1:]
    chosen = args[args.index("--platform") + 1] if "--platform" in args else PLATFORM
    built = build_dependency_layer(platform=chosen, force="--force" in args)
    print(f"dependency layer ({chosen}) ready: {built}")
