"""Template assertions on the synthesized stack (dev and prod), cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match
from ingest import catalog, observability, schema
from ingest.catalog import ENDPOINTS, Endpoint, refused_routes, routes
from ingest.settings import Settings

from infra.api import AWS_BUDGET_SECONDS, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME
from infra.endpoint_function import HANDLER, construct_id_for
from infra.paths import RUNTIME_PYTHON_DIR
from tests.infra.infra_synth import REPO_ROOT, Synthesized
from tests.infra.template_routes import template_routes

pytestmark = pytest.mark.infra

API_GATEWAY_TIMEOUT_SECONDS = 29
RUNTIME_PACKAGE = RUNTIME_PYTHON_DIR / "ingest"
# The repo-root .cfnlintrc.yaml (auto-discovered by a bare `cfn-lint`) once the lead moves it there.
CFN_LINT_CONFIG = next(
    path for path in (REPO_ROOT / ".cfnlintrc.yaml", REPO_ROOT / "infra" / "cfnlintrc.yaml") if path.exists()
)


# --- helpers ------------------------------------------------------------------------------------


def resources_of(template_json: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template_json["Resources"].items() if v["Type"] == resource_type}


def endpoint_functions(template_json: dict) -> dict[str, tuple[str, dict]]:
    """endpoint name → (logical id, resource) of its Lambda, matched by construct path."""
    by_path = {
        resource["Metadata"]["aws:cdk:path"]: (logical_id, resource)
        for logical_id, resource in resources_of(template_json, "AWS::Lambda::Function").items()
    }
    found = {}
    for endpoint in ENDPOINTS:
        path = f"{template_stack_name(template_json)}/Api/{construct_id_for(endpoint)}/Function/Resource"
        if path in by_path:
            found[endpoint.name] = by_path[path]
    return found


def template_stack_name(template_json: dict) -> str:
    any_path = next(iter(template_json["Resources"].values()))["Metadata"]["aws:cdk:path"]
    return any_path.split("/", 1)[0]


def logical_id_by_path(template_json: dict, construct_path: str) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, resource in template_json["Resources"].items()
        if resource.get("Metadata", {}).get("aws:cdk:path", "").split("/", 1)[-1] == construct_path
    ]
    return logical_id


def asset_dir(synthesized: Synthesized, construct_path: str) -> Path:
    resource = synthesized.template_json["Resources"][logical_id_by_path(synthesized.template_json, construct_path)]
    return synthesized.outdir / resource["Metadata"]["aws:asset:path"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def canonical(value: Any) -> str:
    """A hashable, order-stable form of an intrinsic (e.g. a Fn::Join resource ARN)."""
    return json.dumps(value, sort_keys=True)


def iam_statements(template_json: dict) -> list[dict]:
    """Every statement of every identity policy: AWS::IAM::Policy and roles' inline policies."""
    statements = []
    for policy in resources_of(template_json, "AWS::IAM::Policy").values():
        statements += policy["Properties"]["PolicyDocument"]["Statement"]
    for role in resources_of(template_json, "AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            statements += inline["PolicyDocument"]["Statement"]
    return statements


# --- functions ----------------------------------------------------------------------------------


def test_one_arm64_python313_function_per_catalog_endpoint(synthesized: Synthesized) -> None:
    functions = endpoint_functions(synthesized.template_json)
    assert sorted(functions) == sorted(endpoint.name for endpoint in ENDPOINTS)
    ours = [
        f
        for f in resources_of(synthesized.template_json, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == HANDLER
    ]
    assert len(ours) == len(ENDPOINTS), "a function outside the catalog loop"
    for _, function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["Handler"] == "handler.lambda_handler"
        assert props["MemorySize"] == 512
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert AWS_BUDGET_SECONDS < props["Timeout"] < API_GATEWAY_TIMEOUT_SECONDS
        assert len(props["Layers"]) == 2
        assert "LogGroup" in props["LoggingConfig"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_function_code_is_the_endpoint_handler_dir(dev: Synthesized, endpoint: Endpoint) -> None:
    _, function = endpoint_functions(dev.template_json)[endpoint.name]
    asset_dir = dev.outdir / function["Metadata"]["aws:asset:path"]
    source_dir = REPO_ROOT / endpoint.handler_dir
    assert (asset_dir / "handler.py").read_bytes() == (source_dir / "handler.py").read_bytes()


def test_function_environment_is_the_settings_contract(synthesized: Synthesized) -> None:
    config = synthesized.stack.config
    template_json = synthesized.template_json
    for _, function in endpoint_functions(template_json).values():
        variables = function["Properties"]["Environment"]["Variables"]
        ingest_fields = {key.removeprefix("INGEST_").lower() for key in variables if key.startswith("INGEST_")}
        assert ingest_fields <= set(Settings.model_fields), "INGEST_* variable the settings model ignores"
        storage_names = {
            "INGEST_EVENTS_TABLE": "Storage/EventsTable/Resource",
            "INGEST_KEYS_TABLE": "Storage/KeysTable/Resource",
            "INGEST_REJECTS_BUCKET": "Storage/RejectsBucket/Resource",
            "INGEST_CURSOR_SECRET_ID": "Storage/CursorSecret/Resource",
        }
        for variable, construct_path in storage_names.items():
            assert variables[variable] == {"Ref": logical_id_by_path(template_json, construct_path)}
        assert variables["INGEST_AWS_BUDGET_SECONDS"] == "20"
        assert variables["LOG_LEVEL"] == config.log_level
        assert variables["POWERTOOLS_SERVICE_NAME"] == POWERTOOLS_SERVICE_NAME == observability.SERVICE
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == POWERTOOLS_METRICS_NAMESPACE
        assert observability.metrics.namespace == POWERTOOLS_METRICS_NAMESPACE
        # Parse the config values exactly as the Lambda's settings model will.
        settings = Settings.model_validate(
            {
                "default_retention_days": variables["INGEST_DEFAULT_RETENTION_DAYS"],
                "retention_days": json.loads(variables["INGEST_RETENTION_DAYS"]),
                "limits": json.loads(variables["INGEST_LIMITS"]),
                "stream_shards": json.loads(variables["INGEST_STREAM_SHARDS"]),
                "aws_budget_seconds": variables["INGEST_AWS_BUDGET_SECONDS"],
            }
        )
        assert settings.default_retention_days == config.default_retention_days
        assert settings.retention_days == config.retention_days
        assert settings.limits == config.limits
        assert settings.stream_shards == config.stream_shards


# --- API ----------------------------------------------------------------------------------------


def test_api_routes_equal_the_catalog(synthesized: Synthesized) -> None:
    assert template_routes(synthesized.template_json) == routes() | refused_routes()


def test_each_route_proxies_to_its_own_function(synthesized: Synthesized) -> None:
    template_json = synthesized.template_json
    functions = endpoint_functions(template_json)
    methods = resources_of(template_json, "AWS::ApiGateway::Method")
    aliases = resources_of(template_json, "AWS::Lambda::Alias")
    for endpoint in ENDPOINTS:
        function_id, _ = functions[endpoint.name]
        # Through the function's `live` alias (infra.deploys shifts it), never $LATEST.
        [alias_id] = [k for k, v in aliases.items() if v["Properties"]["FunctionName"] == {"Ref": function_id}]
        integrations = [
            method["Properties"]["Integration"]
            for method in methods.values()
            if method["Properties"]["HttpMethod"] == endpoint.method
            and {"Ref": alias_id} in method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
        ]
        assert len(integrations) == 1, endpoint.name
        assert integrations[0]["Type"] == "AWS_PROXY"


def test_rest_apis_pass_bodies_through_untouched(synthesized: Synthesized) -> None:
    rest_apis = resources_of(synthesized.template_json, "AWS::ApiGateway::RestApi").values()
    assert len(rest_apis) == len(catalog.specs())  # one per family (infra.edge), the documents' too
    for rest_api in rest_apis:
        assert rest_api["Properties"]["BinaryMediaTypes"] == ["*/*"]
        assert "MinimumCompressionSize" not in rest_api["Properties"]


def test_stage_has_tracing_access_logs_and_configured_throttling(synthesized: Synthesized) -> None:
    config = synthesized.stack.config
    synthesized.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": config.stage_name,
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with([
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "ThrottlingRateLimit": config.throttling.rate_limit,
                        "ThrottlingBurstLimit": config.throttling.burst_limit,
                        "LoggingLevel": config.api_logging_level,
                        "DataTraceEnabled": False,
                    }
                )
            ]),
        },
    )
    # The account-level CloudWatch role that lets API Gateway write those logs.
    synthesized.template.resource_count_is("AWS::ApiGateway::Account", 1)


def test_log_groups_have_configured_retention(synthesized: Synthesized) -> None:
    retention = {"TWO_WEEKS": 14, "THREE_MONTHS": 90}[synthesized.stack.config.log_retention]
    log_groups = resources_of(synthesized.template_json, "AWS::Logs::LogGroup")
    # One per endpoint function and one for the key authorizer, the shared access logs and each
    # family API's execution logs.
    assert len(log_groups) == len(ENDPOINTS) + 1 + 1 + len(catalog.specs())
    assert {group["Properties"].get("RetentionInDays") for group in log_groups.values()} == {retention}


# --- storage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", schema.TABLES, ids=lambda spec: spec.logical_id)
def test_tables_match_the_shared_schema_specs(synthesized: Synthesized, spec: schema.TableSpec) -> None:
    table = synthesized.template_json["Resources"][
        logical_id_by_path(synthesized.template_json, f"Storage/{spec.logical_id}Table/Resource")
    ]["Properties"]
    # The very kwargs the local emulator creates its tables with.
    expected = schema.create_table_kwargs(spec, table_name="unused")
    assert table["KeySchema"] == expected["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(expected["AttributeDefinitions"], key=str)
    assert table.get("GlobalSecondaryIndexes", []) == expected.get("GlobalSecondaryIndexes", [])
    assert table["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"
    if spec.ttl_attribute:
        assert table["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in table
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}


def test_buckets_block_public_access_encrypt_and_require_tls(synthesized: Synthesized) -> None:
    template_json = synthesized.template_json
    buckets = resources_of(template_json, "AWS::S3::Bucket")
    assert len(buckets) == 2  # rejects + its access logs
    for bucket in buckets.values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert "BucketEncryption" in bucket["Properties"]
    tls_only = {
        json.dumps(policy["Properties"]["Bucket"])
        for policy in resources_of(template_json, "AWS::S3::BucketPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    }
    assert tls_only == {json.dumps({"Ref": logical_id}) for logical_id in buckets}


def test_rejects_bucket_is_versioned_logged_and_expires_per_config(synthesized: Synthesized) -> None:
    lifecycle = synthesized.stack.config.rejects_lifecycle
    bucket = synthesized.template_json["Resources"][
        logical_id_by_path(synthesized.template_json, "Storage/RejectsBucket/Resource")
    ]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == lifecycle.expire_after_days
    assert "NoncurrentVersionExpiration" in rule
    if lifecycle.glacier_after_days is None:
        assert "Transitions" not in rule
    else:
        assert rule["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": lifecycle.glacier_after_days}]


def test_removal_policy_follows_config(synthesized: Synthesized) -> None:
    config = synthesized.stack.config
    expected = "Delete" if config.destroy_on_removal else "Retain"
    template_json = synthesized.template_json
    for resource_type in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        for resource in resources_of(template_json, resource_type).values():
            assert resource["DeletionPolicy"] == expected, resource["Metadata"]["aws:cdk:path"]
    for table in resources_of(template_json, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is (not config.destroy_on_removal)


# --- layers -------------------------------------------------------------------------------------


def test_layers_target_arm64_python313_and_ship_the_right_content(dev: Synthesized) -> None:
    layers = resources_of(dev.template_json, "AWS::Lambda::LayerVersion")
    assert len(layers) == 2
    for layer in layers.values():
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    deps = asset_dir(dev, "Layers/Dependencies/Resource")
    runtime = asset_dir(dev, "Layers/Runtime/Resource")
    assert list((deps / "python" / "pydantic_core").glob("*cpython-313-aarch64-linux-gnu.so"))
    assert not (deps / "python" / "botocore").exists(), "botocore must come from the Lambda runtime"
    assert (runtime / "python" / "ingest" / "catalog.py").is_file()
    # Bytecode for Lambda's 3.13 only (infra.bytecode), one per module, never the build machine's own;
    # none at all where no 3.13 was found to compile with.
    from infra.layer_build import compiler

    for layer in (deps, runtime):
        compiled = {path.name.split(".")[1] for path in layer.rglob("*.pyc")}
        assert compiled == ({"cpython-313"} if compiler() else set()), (layer.name, compiled)
    if compiler():
        sources = {path.stem for path in (runtime / "python" / "ingest").glob("*.py")}
        assert {p.name.split(".")[0] for p in (runtime / "python" / "ingest" / "__pycache__").glob("*.pyc")} == sources


# --- IAM ----------------------------------------------------------------------------------------


def test_iam_has_no_service_wildcards_and_no_scan(synthesized: Synthesized) -> None:
    statements = iam_statements(synthesized.template_json)
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert actions, "no IAM statements found"
    assert not {action for action in actions if action == "*" or action.endswith(":*")}
    assert not {action for action in actions if action.startswith("dynamodb:") and "Scan" in action}
    for statement in statements:
        if "*" in as_list(statement["Resource"]):
            assert {a.split(":")[0] for a in as_list(statement["Action"])} == {"xray"}, statement


def endpoint_role_grants(template_json: dict, endpoint: Endpoint) -> dict[tuple[str, str], set[str]]:
    """(resource, condition) → actions of an endpoint function's role policy."""
    role_path = f"Api/{construct_id_for(endpoint)}/Role"
    role = template_json["Resources"][logical_id_by_path(template_json, f"{role_path}/Resource")]
    assert "ManagedPolicyArns" not in role["Properties"] and "Policies" not in role["Properties"]
    policy = template_json["Resources"][logical_id_by_path(template_json, f"{role_path}/DefaultPolicy/Resource")]
    grants: dict[tuple[str, str], set[str]] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            key = (canonical(resource), canonical(statement.get("Condition")))
            grants.setdefault(key, set()).update(as_list(statement["Action"]))
    return grants


# Each endpoint role's exact grants: tests/infra/test_policies.py.


# Store methods that are operator commands (key management), never on a Lambda's request path.
# The CLI's (rejects list/show/export/replay, events list): never granted to a function.
OPERATOR_ONLY_ACTIONS = {"dynamodb:Scan", "s3:ListObjectsV2", "s3:GetObject", "s3:DeleteObject"}


def test_every_aws_operation_of_the_store_is_granted(dev: Synthesized) -> None:
    """Tripwire: a new boto3 call in ingest/store.py must come with its IAM grant (moto never checks)."""
    source = (RUNTIME_PACKAGE / "store.py").read_text()
    calls = re.findall(r"self\.(dynamodb|s3|secretsmanager)\.(\w+)\b", source)
    paginated = re.findall(r"self\.(dynamodb|s3)\.get_paginator\(\s*[\"'](\w+)[\"']", source)
    used = {
        f"{service}:{''.join(word.capitalize() for word in operation.split('_'))}"
        for service, operation in calls + paginated
        if operation != "get_paginator"
    }
    assert used, "no boto3 calls found: has the store module moved?"
    granted = set().union(
        *(actions for endpoint in ENDPOINTS for actions in endpoint_role_grants(dev.template_json, endpoint).values())
    )
    assert used - OPERATOR_ONLY_ACTIONS <= granted


# --- outputs ------------------------------------------------------------------------------------


def test_outputs_are_pinned(synthesized: Synthesized) -> None:
    outputs = synthesized.template_json["Outputs"]
    base_urls = {f"ApiUrl{spec.name.capitalize()}" for spec in catalog.specs()}  # one per family API
    assert base_urls | {"EventsTableName", "KeysTableName", "RejectsBucketName"} <= set(outputs)


# --- cdk-nag, CDK annotations, cfn-lint ---------------------------------------------------------


def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    violations = [
        f"{violation['ruleName']} ({violation['severity']}) at "
        + ", ".join(construct["constructPath"] for construct in violation["violatingConstructs"])
        for report in synthesized.validation_report["pluginReports"]
        for violation in report.get("violations", [])
    ]
    assert violations == []
    assert synthesized.validation_error is None


def test_cdk_nag_ran_and_every_acknowledgment_has_a_specific_reason(synthesized: Synthesized) -> None:
    acknowledgments = [
        rule
        for resource in synthesized.template_json["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    # Written by the AwsSolutions pack itself: empty would mean cdk-nag never ran.
    assert acknowledgments
    for rule in acknowledgments:
        assert rule["id"].startswith("AwsSolutions-"), rule
        assert len(rule["reason"]) >= 60, f"reason too thin to review: {rule}"


def test_no_cdk_error_annotations(synthesized: Synthesized) -> None:
    if synthesized.validation_error:
        pytest.fail("synth failed validation; see test_cdk_nag_has_no_unacknowledged_findings")
    assert Annotations.from_stack(synthesized.stack).find_error("*", Match.any_value()) == []


def test_cfn_lint_passes(synthesized: Synthesized, tmp_path: Path) -> None:
    template = tmp_path / "template.json"
    template.write_text(json.dumps(synthesized.template_json))
    result = subprocess.run(
        [cfn_lint_executable(), "--config-file", str(CFN_LINT_CONFIG), str(template)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def cfn_lint_executable() -> str:
    beside_python = Path(sys.executable).parent / "cfn-lint"
    found = str(beside_python) if beside_python.exists() else shutil.which("cfn-lint")
    if not found:
        pytest.fail("cfn-lint is not installed (requirements-dev.txt)")
    return found
