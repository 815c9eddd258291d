"""Infra test fixtures: each environment's stack is synthesized once per session (jsii is slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# jsii spawns `node` from PATH: the pinned Node 22 in node_modules/.bin avoids the Node 20
# end-of-life warning on every synth. Set before anything imports aws_cdk.
os.environ["PATH"] = f"{REPO_ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"

from tests.infra.infra_synth import Synthesized, synthesize  # noqa: E402


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("prod", tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(params=["dev", "prod"])
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Run a test against every environment of cdk.json (each synthesized once per session)."""
    return request.getfixturevalue(request.param)
