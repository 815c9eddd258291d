"""Dependency layer build: right pip invocation, stamp-based caching, pruning (pip is faked)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import layer_build

pytestmark = pytest.mark.infra


class FakePip:
    """Records pip runs and lays out what a real install would, including the runtime's botocore."""

    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        target = Path(command[command.index("--target") + 1])
        for package in ("pydantic", "botocore", "botocore-1.0.dist-info", "bin", "pydantic/__pycache__"):
            (target / package).mkdir(parents=True, exist_ok=True)
        return subprocess.CompletedProcess(command, self.returncode, "", "boom" if self.returncode else "")


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("pydantic==2.14.3\n")
    return path


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    fake = FakePip()
    monkeypatch.setattr(layer_build, "_run_pip", fake)
    return fake


def test_pip_targets_arm64_python313_binary_wheels(requirements: Path, tmp_path: Path) -> None:
    command = layer_build.pip_install_command(requirements, tmp_path / "python")
    joined = " ".join(command)
    for flag in (
        "--platform manylinux2014_aarch64",
        "--python-version 3.13",
        "--implementation cp",
        "--only-binary=:all:",
        "--require-hashes",
        f"--target {tmp_path / 'python'}",
        f"-r {requirements}",
    ):
        assert flag in joined


def test_build_installs_once_then_uses_the_stamp(requirements: Path, tmp_path: Path, fake_pip: FakePip) -> None:
    layer_dir = tmp_path / "deps"
    assert layer_build.build_dependency_layer(requirements, layer_dir) == layer_dir
    layer_build.build_dependency_layer(requirements, layer_dir)
    assert len(fake_pip.calls) == 1
    assert layer_build.stamp_path(layer_dir).read_text().strip() == layer_build.requirements_hash(requirements)
    # The stamp lives beside the asset so it never changes the layer's content hash.
    assert not list(layer_dir.rglob("*.stamp"))


def test_changed_requirements_rebuild_from_scratch(requirements: Path, tmp_path: Path, fake_pip: FakePip) -> None:
    layer_dir = tmp_path / "deps"
    layer_build.build_dependency_layer(requirements, layer_dir)
    leftover = layer_dir / "python" / "leftover_from_old_requirements"
    leftover.mkdir()
    requirements.write_text("pydantic==2.14.3\norjson==3.13.0\n")
    layer_build.build_dependency_layer(requirements, layer_dir)
    assert len(fake_pip.calls) == 2
    assert not leftover.exists()


def test_force_rebuilds_even_when_current(requirements: Path, tmp_path: Path, fake_pip: FakePip) -> None:
    layer_dir = tmp_path / "deps"
    layer_build.build_dependency_layer(requirements, layer_dir)
    layer_build.build_dependency_layer(requirements, layer_dir, force=True)
    assert len(fake_pip.calls) == 2


def test_runtime_provided_packages_and_caches_are_pruned(requirements: Path, tmp_path: Path, fake_pip: FakePip) -> None:
    layer_dir = layer_build.build_dependency_layer(requirements, tmp_path / "deps")
    python = layer_dir / "python"
    assert (python / "pydantic").is_dir()
    assert not (python / "botocore").exists()
    assert not list(python.glob("botocore-*.dist-info"))
    assert not (python / "bin").exists()
    assert not list(python.rglob("__pycache__"))


def test_failed_install_raises_and_leaves_no_stamp(
    requirements: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layer_build, "_run_pip", FakePip(returncode=1))
    layer_dir = tmp_path / "deps"
    with pytest.raises(RuntimeError, match="dependency layer build failed"):
        layer_build.build_dependency_layer(requirements, layer_dir)
    assert not layer_build.stamp_path(layer_dir).exists()
    assert not layer_build.is_up_to_date(requirements, layer_dir)


def test_the_default_build_is_the_lock_for_the_deployed_platform() -> None:
    from infra.paths import DEPS_LAYER_DIR, DEPS_LOCK

    defaults = layer_build.build_dependency_layer.__defaults__
    assert defaults == (DEPS_LOCK, None)
    assert layer_build.layer_dir_for(layer_build.PLATFORM) == DEPS_LAYER_DIR
    assert layer_build.PLATFORM in layer_build.LOCK_PLATFORMS


@pytest.mark.parametrize(
    ("machine", "platform"),
    [("x86_64", "manylinux2014_x86_64"), ("AMD64", "manylinux2014_x86_64"),
     ("aarch64", "manylinux2014_aarch64"), ("arm64", "manylinux2014_aarch64")],
)
def test_twin_platform_follows_the_cpu(machine: str, platform: str) -> None:
    assert layer_build.platform_for_machine(machine) == platform
    assert platform in layer_build.LOCK_PLATFORMS


def test_unknown_cpu_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="riscv64.*aarch64"):
        layer_build.platform_for_machine("riscv64")


def test_twin_builds_beside_the_deployed_layer_with_its_own_stamp(
    requirements: Path, tmp_path: Path, fake_pip: FakePip
) -> None:
    twin = layer_build.layer_dir_for("manylinux2014_x86_64")
    assert twin.parent == layer_build.layer_dir_for(layer_build.PLATFORM).parent and twin.name.endswith("x86_64")
    layer_dir = tmp_path / "deps-x86"
    layer_build.build_dependency_layer(requirements, layer_dir, platform="manylinux2014_x86_64")
    assert "manylinux2014_x86_64" in " ".join(fake_pip.calls[0])
    # The same requirements for another platform are another build, not a stamp hit.
    assert not layer_build.is_up_to_date(requirements, layer_dir, layer_build.PLATFORM)
    assert layer_build.is_up_to_date(requirements, layer_dir, "manylinux2014_x86_64")
