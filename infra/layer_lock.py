"""Pin the dependency layer's full closure with hashes: ``make lock`` (``python -m infra.layer_lock``).

``layers/deps/requirements.txt`` names what the runtime imports (top-level pins). This resolves
that file with pip for every platform in ``LOCK_PLATFORMS`` (Lambda's arm64 and the x86_64 twin the
deployed-layout test builds), exactly as the layer build does (``--platform … --python-version
3.13 --only-binary=:all:``), reads pip's installation report, and writes
``layers/deps/requirements.lock.txt``: every distribution of the closure at one version, with the
sha256 of each wheel pip chose on each platform (a pure-Python wheel has one hash, a compiled one
such as pydantic-core or orjson one per platform). The layer build installs from it with
``--require-hashes``.

``python -m infra.layer_lock --check`` resolves again and fails when the written lock differs
(needs the package index, so it is not part of the offline test suite; the tests check the lock
against requirements.txt and against what a build installs).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from infra.layer_build import LOCK_PLATFORMS, pip_platform_args
from infra.paths import DEPS_LOCK, DEPS_REQUIREMENTS

HEADER = """\
# The dependency layer's full closure, pinned with the sha256 of every wheel for {platforms}.
# Written by `make lock` (python -m infra.layer_lock) from requirements.txt; do not edit by hand.
# The layer is installed from this file with pip --require-hashes (infra/layer_build.py).
"""

_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?==(?P<version>\S+)")
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")


def canonical(name: str) -> str:
    """PEP 503 normalised name: ``Typing_Extensions`` and ``typing-extensions`` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    name: str
    version: str
    extras: str = ""
    hashes: set[str] = field(default_factory=set)


def top_level_pins(requirements: Path = DEPS_REQUIREMENTS) -> dict[str, Pin]:
    """``name[extras]==version`` lines of a requirements file (comments and blanks skipped); any
    other form fails, naming the line: the layer only ships exact pins."""
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(requirements.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{requirements}:{number}: {raw!r} is not an exact pin (name==version)")
        pins[canonical(match["name"])] = Pin(match["name"], match["version"], match["extras"] or "")
    return pins


def parse_lock(lock: Path = DEPS_LOCK) -> dict[str, Pin]:
    """The lock's pins with their hashes (continuation lines joined)."""
    text = lock.read_text().replace("\\\n", " ")
    pins: dict[str, Pin] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0] if raw.lstrip().startswith("#") else raw
        line = line.strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise ValueError(f"{lock}: {raw!r} is not a pin with hashes")
        pins[canonical(match["name"])] = Pin(
            match["name"], match["version"], match["extras"] or "", {m["digest"] for m in _HASH.finditer(line)}
        )
    return pins


def resolve(requirements: Path, platform: str) -> dict[str, Pin]:
    """What pip would install for ``platform`` (nothing is installed): name, version, wheel hash."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
            "--disable-pip-version-check", *pip_platform_args(platform),
            "--target", str(Path(scratch) / "target"), "--report", str(report), "-r", str(requirements),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"resolving {requirements} for {platform} failed:\n{result.stderr}")
        installs = json.loads(report.read_text())["install"]
    pins: dict[str, Pin] = {}
    for item in installs:
        metadata, archive = item["metadata"], item["download_info"].get("archive_info", {})
        digest = archive.get("hashes", {}).get("sha256")
        if digest is None:
            raise RuntimeError(f"pip reported no sha256 for {metadata['name']} ({item['download_info']['url']})")
        pins[canonical(metadata["name"])] = Pin(metadata["name"], metadata["version"], hashes={digest})
    return pins


def merge(per_platform: dict[str, dict[str, Pin]], top_level: dict[str, Pin]) -> dict[str, Pin]:
    """One pin per project over all platforms; a version that differs by platform fails."""
    merged: dict[str, Pin] = {}
    for platform, pins in per_platform.items():
        for key, pin in pins.items():
            seen = merged.setdefault(key, Pin(pin.name, pin.version))
            if seen.version != pin.version:
                raise RuntimeError(f"{pin.name} resolves to {seen.version} on one platform, {pin.version} on {platform}")
            seen.hashes |= pin.hashes
    for key, pin in top_level.items():
        if key not in merged or merged[key].version != pin.version:
            raise RuntimeError(f"top-level pin {pin.name}=={pin.version} is not what pip resolved")
        merged[key].name, merged[key].extras = pin.name, pin.extras
    return merged


def render(pins: dict[str, Pin], platforms: tuple[str, ...] = LOCK_PLATFORMS) -> str:
    lines = [HEADER.format(platforms=" and ".join(platforms))]
    for key in sorted(pins):
        pin = pins[key]
        hashes = " \\\n".join(f"    --hash=sha256:{digest}" for digest in sorted(pin.hashes))
        lines.append(f"{pin.name}{pin.extras}=={pin.version} \\\n{hashes}\n")
    return "".join(lines)


def lock_text(requirements: Path = DEPS_REQUIREMENTS, platforms: tuple[str, ...] = LOCK_PLATFORMS) -> str:
    per_platform = {platform: resolve(requirements, platform) for platform in platforms}
    return render(merge(per_platform, top_level_pins(requirements)), platforms)


def main(argv: list[str]) -> int:
    text = lock_text()
    if "--check" in argv:
        if DEPS_LOCK.read_text() != text:
            print(f"{DEPS_LOCK} is out of date: run `make lock`", file=sys.stderr)
            return 1
        print(f"{DEPS_LOCK} is current")
        return 0
    DEPS_LOCK.write_text(text)
    print(f"wrote {DEPS_LOCK}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
