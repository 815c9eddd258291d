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


# Every optional operations feature at once (one extra synth, not one per feature): a custom domain,
# tables restored from a backup (docs/operations.md, "Restore"), alarm subscriptions and a backup
# copy to another vault.
PROD_OPTIONS = {
    "domain": {
        "name": "ingest.example.com",
        "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/0b0c0d0e-1111-2222-3333-444455556666",
    },
    "existing_tables": {"events_table_name": "ingest-events-restored", "keys_table_name": "ingest-keys-restored"},
    "monitoring": {
        "subscriptions": [
            {"protocol": "email", "endpoint": "oncall@example.com"},
            {"protocol": "https", "endpoint": "https://hooks.example.com/alarms"},
        ],
        "alarms": {"route_p99_latency_ms_per_endpoint": {"datahub_events": 2500}},
    },
    "backup": {
        "schedule": "daily",
        "delete_after_days": 120,
        "move_to_cold_storage_after_days": 30,
        "copy_to_vault_arn": "arn:aws:backup:eu-central-1:123456789012:backup-vault:ingest-copy",
    },
}


@pytest.fixture(scope="session")
def prod_options(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("prod", tmp_path_factory.mktemp("cdk-prod-options"), PROD_OPTIONS)
