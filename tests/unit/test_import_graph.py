"""The import graph of a cold start: each handler loads its own family and no other, and no X-Ray
SDK where tracing is off (ingest.observability). Checked in a fresh interpreter per handler, so
nothing this test process imported can hide a stray import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import catalog

ROOT = Path(__file__).resolve().parents[2]
FAMILY_PACKAGE = "ingest.families."

ROUTES = sorted({(endpoint.family, endpoint.name) for endpoint in catalog.ENDPOINTS})


def _imported(route: str, extra_env: dict) -> list[str]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import handler; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    env.update(extra_env)
    env["PYTHONPATH"] = f"{ROOT / 'layers' / 'runtime' / 'python'}{os.pathsep}{ROOT}"
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "functions" / route)], env=env, cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("family", "route"), ROUTES, ids=[route for _, route in ROUTES])
def test_a_handler_imports_only_its_own_family_and_no_xray_when_tracing_is_off(family, route):
    modules = _imported(route, {"POWERTOOLS_TRACE_DISABLED": "true"})
    families = {name[len(FAMILY_PACKAGE):].split(".")[0] for name in modules if name.startswith(FAMILY_PACKAGE)}
    assert not any(name.split(".")[0] == "aws_xray_sdk" for name in modules)
    if family not in catalog.family_names():  # the service's own documents (OpenAPI: every family's models)
        return
    assert families <= {family}, f"{route} imports other families: {sorted(families - {family})}"
    assert family in families  # the check above sees the family packages at all
    assert not any(name.split(".")[0] == "aws_xray_sdk" for name in modules)


USAGE_SERVICE_MODELS = {"s3": "ingest.families.usage.s3", "ec2": "ingest.families.usage.ec2"}


@pytest.mark.parametrize("route", ["usage_s3_batch", "usage_ec2", "read_usage_ec2_event", "usage_ping"])
def test_a_usage_handler_imports_only_the_models_of_the_service_it_validates(route):
    modules = set(_imported(route, {"POWERTOOLS_TRACE_DISABLED": "true"}))
    endpoint = catalog.get(route)
    validates = endpoint.kind.name == "INGEST"
    for service, module in USAGE_SERVICE_MODELS.items():
        expected = validates and endpoint.path.startswith(f"/{service}")
        assert (module in modules) is expected, (route, module)


def test_outside_lambda_tracing_is_off_without_being_told():
    modules = _imported("datahub_events", {})
    assert "aws_xray_sdk" not in modules


def test_in_lambda_the_handler_is_traced():
    """Deployed (LAMBDA_TASK_ROOT set, active tracing): the Powertools Tracer is built at import and
    boto3 is patched, as before tracing became lazy."""
    modules = _imported("datahub_events", {"LAMBDA_TASK_ROOT": str(ROOT)})
    assert "aws_xray_sdk.core" in modules
    assert "aws_xray_sdk.ext.botocore.patch" in modules or "aws_xray_sdk.ext.botocore" in modules


def test_the_authorizer_imports_no_family_models_it_does_not_need():
    modules = _imported("authorizer", {"POWERTOOLS_TRACE_DISABLED": "true"})
    assert not any(name.split(".")[0] == "aws_xray_sdk" for name in modules)
