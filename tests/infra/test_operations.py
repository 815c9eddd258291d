"""Template assertions for running it in production: alarms, dashboard and topic (the Monitoring
nested stack), live aliases with CodeDeploy, reserved concurrency, termination protection, AWS Backup,
restored tables and the custom domain — for dev, prod and prod with every optional feature on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ingest import schema
from ingest.catalog import ENDPOINTS
from ingest.family import Status
from ingest.spec import RouteKind

from infra.authorizer import TIMEOUT as AUTHORIZER_TIMEOUT
from infra.config import EnvConfig
from infra.endpoint_function import TIMEOUT as ENDPOINT_TIMEOUT
from infra.endpoint_function import construct_id_for
from infra.lambda_platform import LIVE_ALIAS
from infra.storage import REJECTS_METRICS_FILTER, REJECTS_PREFIX
from tests.infra.conftest import PROD_OPTIONS
from tests.infra.infra_synth import Synthesized
from tests.infra.test_infra_stack import CFN_LINT_CONFIG, cfn_lint_executable, iam_statements, logical_id_by_path

pytestmark = pytest.mark.infra

API_GATEWAY_TIMEOUT_MS = 29_000
DEPLOYMENT_CONFIG_NAMES = {
    "ALL_AT_ONCE": "CodeDeployDefault.LambdaAllAtOnce",
    "CANARY_10_PERCENT_5_MINUTES": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
}


# --- helpers ------------------------------------------------------------------------------------


def of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def monitoring(synthesized: Synthesized) -> dict:
    return synthesized.nested["Monitoring"]


def nested_parameters(synthesized: Synthesized) -> dict[str, Any]:
    """The Monitoring stack's parameters → what the main stack passes (e.g. a function's Ref)."""
    [stack] = of_type(synthesized.template_json, "AWS::CloudFormation::Stack").values()
    return stack["Properties"]["Parameters"]


def resolve(synthesized: Synthesized, value: Any) -> Any:
    """A value in the nested template, as the main template spells it (parameters resolved)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return nested_parameters(synthesized).get(value["Ref"], value)
    return value


def alarms(synthesized: Synthesized) -> list[dict]:
    return [alarm["Properties"] for alarm in of_type(monitoring(synthesized), "AWS::CloudWatch::Alarm").values()]


def metric_stats(alarm: dict) -> list[dict]:
    return [query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query]


def dimensions(synthesized: Synthesized, metric_stat: dict) -> dict[str, Any]:
    return {d["Name"]: resolve(synthesized, d["Value"]) for d in metric_stat["Metric"].get("Dimensions", [])}


def find_alarms(synthesized: Synthesized, namespace: str, metric_name: str, **dims: Any) -> list[dict]:
    """Alarms one of whose metrics is ``namespace``/``metric_name`` with exactly these dimensions."""
    return [
        alarm
        for alarm in alarms(synthesized)
        if any(
            stat["Metric"]["Namespace"] == namespace
            and stat["Metric"]["MetricName"] == metric_name
            and dimensions(synthesized, stat) == dims
            for stat in metric_stats(alarm)
        )
    ]


def the_alarm(synthesized: Synthesized, namespace: str, metric_name: str, **dims: Any) -> dict:
    found = find_alarms(synthesized, namespace, metric_name, **dims)
    assert len(found) == 1, f"{namespace} {metric_name} {dims}: {[a['AlarmName'] for a in found]}"
    return found[0]


def function_refs(synthesized: Synthesized) -> dict[str, dict]:
    """Function name ("authorizer" or the endpoint's) → {"Ref": its logical id} in the main template."""
    template = synthesized.template_json
    refs = {
        endpoint.name: {"Ref": logical_id_by_path(template, f"Api/{construct_id_for(endpoint)}/Function/Resource")}
        for endpoint in ENDPOINTS
    }
    refs["authorizer"] = {"Ref": logical_id_by_path(template, "Api/KeyAuthorizers/Function/Resource")}
    return refs


def table_name_refs(synthesized: Synthesized) -> list[Any]:
    return [_table_name(synthesized, "Events"), _table_name(synthesized, "Keys")]


def _table_name(synthesized: Synthesized, which: str) -> Any:
    existing = synthesized.stack.config.existing_tables
    name = existing.events_table_name if which == "Events" else existing.keys_table_name
    if name is not None:
        return name
    return {"Ref": logical_id_by_path(synthesized.template_json, f"Storage/{which}Table/Resource")}


def check_alarm_window(alarm: dict, config: EnvConfig) -> None:
    thresholds = config.monitoring.alarms
    assert alarm["EvaluationPeriods"] == thresholds.evaluation_periods
    assert alarm["DatapointsToAlarm"] == thresholds.datapoints_to_alarm
    assert {stat["Period"] for stat in metric_stats(alarm)} == {thresholds.period_minutes * 60}, alarm["AlarmName"]


# --- monitoring: topic ----------------------------------------------------------------------------


def test_every_alarm_notifies_the_encrypted_alarm_topic(synthesized: Synthesized) -> None:
    template = monitoring(synthesized)
    [(topic_id, topic)] = of_type(template, "AWS::SNS::Topic").items()
    [(key_id, key)] = of_type(template, "AWS::KMS::Key").items()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    # CloudWatch may use the key (it cannot publish to a topic under the AWS-managed SNS key).
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    found = alarms(synthesized)
    assert len(found) > 3 * len(ENDPOINTS)
    for alarm in found:
        assert alarm["ActionsEnabled"] is True
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], alarm["AlarmName"]
        assert alarm["AlarmName"].startswith(f"ingest-api-{synthesized.stack.config.name}-")
        check_alarm_window(alarm, synthesized.stack.config)
    assert len({alarm["AlarmName"] for alarm in found}) == len(found)


def test_subscriptions_come_from_cdk_json(synthesized: Synthesized, prod_options: Synthesized) -> None:
    assert synthesized.stack.config.monitoring.subscriptions == []
    assert of_type(monitoring(synthesized), "AWS::SNS::Subscription") == {}
    subscriptions = of_type(monitoring(prod_options), "AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions) == sorted(
        (s["protocol"], s["endpoint"]) for s in PROD_OPTIONS["monitoring"]["subscriptions"]
    )
    [topic_id] = of_type(monitoring(prod_options), "AWS::SNS::Topic")
    assert {json.dumps(s["Properties"]["TopicArn"]) for s in subscriptions} == {json.dumps({"Ref": topic_id})}


# --- monitoring: each alarm and its threshold -----------------------------------------------------


@pytest.mark.parametrize("family", sorted({endpoint.family for endpoint in ENDPOINTS}))
def test_api_5xx_rate_alarm(synthesized: Synthesized, family: str) -> None:
    # One REST API per family (infra.edge), so one 5xx-rate alarm per API.
    config = synthesized.stack.config
    rest_api_name = f"ingest-api-{config.name}-{family}"
    alarm = the_alarm(synthesized, "AWS/ApiGateway", "5XXError", ApiName=rest_api_name, Stage=config.stage_name)
    [stat] = metric_stats(alarm)
    assert stat["Stat"] == "Average"  # the 5XXError average is the share of answers that are 5xx
    assert alarm["Threshold"] == pytest.approx(config.monitoring.alarms.api_5xx_percent / 100)
    assert 0 < alarm["Threshold"] <= 0.05
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_p99_latency_alarm_per_route(prod: Synthesized, endpoint) -> None:
    config = prod.stack.config
    alarm = the_alarm(
        prod,
        "AWS/ApiGateway",
        "Latency",
        ApiName=f"ingest-api-{config.name}-{endpoint.family}",
        Stage=config.stage_name,
        Method=endpoint.method,
        Resource=endpoint.path,
    )
    assert metric_stats(alarm)[0]["Stat"] == "p99"
    assert alarm["Threshold"] == config.monitoring.alarms.route_p99_latency_ms_for(endpoint.name)
    assert 0 < alarm["Threshold"] < API_GATEWAY_TIMEOUT_MS


def test_route_latency_threshold_per_endpoint_override(prod_options: Synthesized) -> None:
    config = prod_options.stack.config
    [datahub] = [e for e in ENDPOINTS if e.name == "datahub_events"]
    alarm = the_alarm(
        prod_options, "AWS/ApiGateway", "Latency", ApiName="ingest-api-prod-datahub", Stage=config.stage_name,
        Method=datahub.method, Resource=datahub.path,
    )
    assert alarm["Threshold"] == 2500


def test_lambda_errors_throttles_and_duration_near_timeout_per_function(synthesized: Synthesized) -> None:
    thresholds = synthesized.stack.config.monitoring.alarms
    timeouts = {name: ENDPOINT_TIMEOUT.to_milliseconds() for name in function_refs(synthesized)}
    timeouts["authorizer"] = AUTHORIZER_TIMEOUT.to_milliseconds()
    for name, ref in function_refs(synthesized).items():
        errors = the_alarm(synthesized, "AWS/Lambda", "Errors", FunctionName=ref)
        expected_errors = thresholds.authorizer_errors if name == "authorizer" else thresholds.lambda_errors
        assert errors["Threshold"] == expected_errors
        throttles = the_alarm(synthesized, "AWS/Lambda", "Throttles", FunctionName=ref)
        assert throttles["Threshold"] == thresholds.lambda_throttles
        duration = the_alarm(synthesized, "AWS/Lambda", "Duration", FunctionName=ref)
        assert metric_stats(duration)[0]["Stat"] == "p99"
        assert duration["Threshold"] == pytest.approx(timeouts[name] * thresholds.duration_percent_of_timeout / 100)
        assert duration["Threshold"] < timeouts[name]


def test_dynamodb_throttles_and_system_errors_per_table(synthesized: Synthesized) -> None:
    thresholds = synthesized.stack.config.monitoring.alarms
    for table in table_name_refs(synthesized):
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            alarm = the_alarm(synthesized, "AWS/DynamoDB", metric, TableName=table)
            assert alarm["Threshold"] == thresholds.dynamodb_throttled_requests
        system = [a for a in alarms(synthesized) if "SystemError" in a["AlarmName"]
                  and json.dumps(table) in json.dumps([dimensions(synthesized, s) for s in metric_stats(a)])]
        assert len(system) == 1
        assert system[0]["Threshold"] == thresholds.dynamodb_system_errors
        assert {s["Metric"]["MetricName"] for s in metric_stats(system[0])} == {"SystemErrors"}
    # The events table's index: a throttled index write throttles the table write feeding it.
    events_table = table_name_refs(synthesized)[0]
    for index in schema.EVENTS.indexes:
        alarm = the_alarm(
            synthesized,
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            TableName=events_table,
            GlobalSecondaryIndexName=index.name,
        )
        assert alarm["Threshold"] == thresholds.dynamodb_throttled_requests


def test_reject_write_failures_alarm_on_the_rejects_bucket_request_metrics(synthesized: Synthesized) -> None:
    template = synthesized.template_json
    bucket_id = logical_id_by_path(template, "Storage/RejectsBucket/Resource")
    bucket = template["Resources"][bucket_id]["Properties"]
    assert bucket["MetricsConfigurations"] == [{"Id": REJECTS_METRICS_FILTER, "Prefix": REJECTS_PREFIX}]
    alarm = the_alarm(
        synthesized, "AWS/S3", "5xxErrors", BucketName={"Ref": bucket_id}, FilterId=REJECTS_METRICS_FILTER
    )
    assert alarm["Threshold"] == synthesized.stack.config.monitoring.alarms.reject_write_failures
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_service_server_errors_and_rejected_ratio_per_endpoint(prod: Synthesized, endpoint) -> None:
    thresholds = prod.stack.config.monitoring.alarms
    dims = {"endpoint": endpoint.name, "service": "ingest-api"}
    server_errors = the_alarm(prod, "IngestApi", "ServerErrors", **dims)
    assert server_errors["Threshold"] == thresholds.server_errors
    assert server_errors["TreatMissingData"] == "notBreaching"  # EMF metrics exist only once requests come
    ratio = find_alarms(prod, "IngestApi", "EventsRejected", **dims)
    if endpoint.kind is not RouteKind.INGEST:
        assert ratio == []
        return
    [ratio_alarm] = ratio
    assert ratio_alarm["Threshold"] == thresholds.rejected_percent
    [expression] = [q["Expression"] for q in ratio_alarm["Metrics"] if "Expression" in q]
    assert "100 * rejected / (stored + duplicate + rejected)" in expression
    assert {s["Metric"]["MetricName"] for s in metric_stats(ratio_alarm)} == {
        f"Events{status.value.capitalize()}" for status in Status
    }


# --- monitoring: dashboard ------------------------------------------------------------------------


def test_one_dashboard_with_requests_events_latency_errors_and_throttles(synthesized: Synthesized) -> None:
    [dashboard] = of_type(monitoring(synthesized), "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == f"ingest-api-{synthesized.stack.config.name}"
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for family in {endpoint.family for endpoint in ENDPOINTS}:
        for title in ("requests", "events stored", "events duplicate", "events rejected"):
            assert f"{family} {title}" in body, (family, title)
    for metric in ("Requests", "EventsStored", "EventsDuplicate", "EventsRejected", "5XXError", "Latency",
                   "Errors", "Throttles", "Duration", "WriteThrottleEvents"):
        assert metric in body, metric
    assert synthesized.template_json["Outputs"]["DashboardName"]["Value"] == dashboard["Properties"]["DashboardName"]


# --- safe deploys ---------------------------------------------------------------------------------


def aliases_by_function(template: dict) -> dict[str, tuple[str, dict]]:
    return {
        alias["Properties"]["FunctionName"]["Ref"]: (alias_id, alias)
        for alias_id, alias in of_type(template, "AWS::Lambda::Alias").items()
    }


def test_every_function_is_invoked_through_its_live_alias(synthesized: Synthesized) -> None:
    template = synthesized.template_json
    by_function = aliases_by_function(template)
    ours = {ref["Ref"] for ref in function_refs(synthesized).values()}
    assert set(by_function) == ours
    # The only other function: CDK's bucket auto-delete provider (dev), which API Gateway never invokes.
    assert all("AutoDeleteObjects" in f for f in set(of_type(template, "AWS::Lambda::Function")) - ours)
    versions = of_type(template, "AWS::Lambda::Version")
    alias_refs = set()
    for function_id, (alias_id, alias) in by_function.items():
        assert alias["Properties"]["Name"] == LIVE_ALIAS
        version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        assert versions[version_id]["Properties"]["FunctionName"] == {"Ref": function_id}
        alias_refs.add(json.dumps({"Ref": alias_id}))
    # Every integration, authorizer and invoke permission names an alias, never a function's $LATEST.
    for method in of_type(template, "AWS::ApiGateway::Method").values():
        uri_parts = method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
        assert {json.dumps(part) for part in uri_parts if isinstance(part, dict)} & alias_refs
    for authorizer in of_type(template, "AWS::ApiGateway::Authorizer").values():
        assert {json.dumps(p) for p in authorizer["Properties"]["AuthorizerUri"]["Fn::Join"][1]} & alias_refs
    for permission in of_type(template, "AWS::Lambda::Permission").values():
        assert json.dumps(permission["Properties"]["FunctionName"]) in alias_refs


def test_a_deployment_group_per_alias_rolls_back_on_the_functions_alarms(synthesized: Synthesized) -> None:
    template = synthesized.template_json
    config = synthesized.stack.config
    groups = of_type(template, "AWS::CodeDeploy::DeploymentGroup")
    [application_id] = of_type(template, "AWS::CodeDeploy::Application")
    nested_outputs = monitoring(synthesized)["Outputs"]
    nested_alarms = of_type(monitoring(synthesized), "AWS::CloudWatch::Alarm")
    friendly = {name: "".join(part.capitalize() for part in name.split("_")) for name in function_refs(synthesized)}
    by_function = aliases_by_function(template)
    assert len(groups) == len(by_function)
    for name, ref in function_refs(synthesized).items():
        alias_id, alias = by_function[ref["Ref"]]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["ApplicationName"] == {"Ref": application_id}
        group = groups[update["DeploymentGroupName"]["Ref"]]["Properties"]
        assert group["DeploymentConfigName"] == DEPLOYMENT_CONFIG_NAMES[config.deployment.config]
        assert group["AutoRollbackConfiguration"] == {
            "Enabled": True,
            "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
        }
        assert group["AlarmConfiguration"]["Enabled"] is True
        names = []
        for entry in group["AlarmConfiguration"]["Alarms"]:
            output = entry["Name"]["Fn::GetAtt"][1].removeprefix("Outputs.")
            names.append(nested_alarms[nested_outputs[output]["Value"]["Ref"]]["Properties"]["AlarmName"])
        # Its own errors and duration, and (endpoints) the service's ServerErrors; not throttles
        # (a reservation matter) nor the rejected share (clients' data).
        kinds = {alarm_name.removeprefix(f"ingest-api-{config.name}-") for alarm_name in names}
        expected = {f"Function{friendly[name]}-Fault-Count-Critical", f"Function{friendly[name]}-Latency-P99-Warning"}
        if name != "authorizer":
            expected.add(f"{friendly[name]}-ServerErrors-Critical")
        assert kinds == expected, name


def test_dev_deploys_all_at_once_and_prod_by_canary(dev: Synthesized, prod: Synthesized) -> None:
    assert dev.stack.config.deployment.config == "ALL_AT_ONCE"
    assert prod.stack.config.deployment.config.startswith("CANARY_")
    # The alarms can fire before a 5-minute canary completes.
    thresholds = prod.stack.config.monitoring.alarms
    assert thresholds.period_minutes * thresholds.datapoints_to_alarm < 5


def test_reserved_concurrency_follows_cdk_json(synthesized: Synthesized) -> None:
    reserved = synthesized.stack.config.reserved_concurrency
    functions = of_type(synthesized.template_json, "AWS::Lambda::Function")
    for name, ref in function_refs(synthesized).items():
        value = functions[ref["Ref"]]["Properties"].get("ReservedConcurrentExecutions")
        if reserved is None:
            assert value is None
        else:
            assert value == (reserved.authorizer if name == "authorizer" else reserved.for_endpoint(name))
    if reserved is not None:
        total = sum(f["Properties"]["ReservedConcurrentExecutions"] for f in functions.values())
        assert total == reserved.total() <= reserved.account_budget


def test_termination_protection_on_in_prod_only(dev: Synthesized, prod: Synthesized) -> None:
    for synthesized, expected in ((dev, False), (prod, True)):
        assert synthesized.stack.config.deployment.termination_protection is expected
        manifest = json.loads((synthesized.outdir / "manifest.json").read_text())
        properties = manifest["artifacts"][synthesized.stack.artifact_id]["properties"]
        assert properties.get("terminationProtection", False) is expected


# --- backups and restore --------------------------------------------------------------------------


def test_dev_has_no_backup_plan(dev: Synthesized) -> None:
    assert dev.stack.config.backup is None
    assert of_type(dev.template_json, "AWS::Backup::BackupPlan") == {}


@pytest.mark.parametrize("name", ["prod", "prod_options"])
def test_prod_backs_up_both_tables(name: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(name)
    settings = synthesized.stack.config.backup
    assert settings is not None
    template = synthesized.template_json
    [vault_id] = of_type(template, "AWS::Backup::BackupVault")
    assert template["Resources"][vault_id]["DeletionPolicy"] == "Retain"
    [plan] = of_type(template, "AWS::Backup::BackupPlan").values()
    [rule] = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    lifecycle = {"DeleteAfterDays": settings.delete_after_days}
    if settings.move_to_cold_storage_after_days:
        lifecycle["MoveToColdStorageAfterDays"] = settings.move_to_cold_storage_after_days
    assert rule["Lifecycle"] == lifecycle
    if settings.copy_to_vault_arn:
        assert rule["CopyActions"] == [
            {"DestinationBackupVaultArn": settings.copy_to_vault_arn, "Lifecycle": lifecycle}
        ]
    else:
        assert "CopyActions" not in rule
    [selection] = of_type(template, "AWS::Backup::BackupSelection").values()
    selected = selection["Properties"]["BackupSelection"]["Resources"]
    expected = []
    for which in ("Events", "Keys"):
        name_or_ref = _table_name(synthesized, which)
        if isinstance(name_or_ref, str):  # a restored table: its ARN from its name
            assert any(name_or_ref in json.dumps(arn) for arn in selected)
        else:
            expected.append({"Fn::GetAtt": [name_or_ref["Ref"], "Arn"]})
    assert all(arn in selected for arn in expected) and len(selected) == 2


def test_restore_runbook_the_stack_points_at_restored_tables(prod_options: Synthesized) -> None:
    """docs/operations.md, "Restore", step 3: with existing_tables set, the stack owns no table, and
    every function, grant, alarm and output names the restored ones."""
    template = prod_options.template_json
    restored = PROD_OPTIONS["existing_tables"]
    assert of_type(template, "AWS::DynamoDB::Table") == {}
    for function in of_type(template, "AWS::Lambda::Function").values():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["INGEST_KEYS_TABLE"] == restored["keys_table_name"]
        if "INGEST_EVENTS_TABLE" in variables:
            assert variables["INGEST_EVENTS_TABLE"] == restored["events_table_name"]
    granted = json.dumps([s["Resource"] for s in iam_statements(template)])
    assert f":table/{restored['events_table_name']}\"" in granted
    assert f":table/{restored['events_table_name']}/index/*" in granted
    assert f":table/{restored['keys_table_name']}\"" in granted
    assert template["Outputs"]["EventsTableName"]["Value"] == restored["events_table_name"]
    assert template["Outputs"]["KeysTableName"]["Value"] == restored["keys_table_name"]
    for table in (restored["events_table_name"], restored["keys_table_name"]):
        the_alarm(prod_options, "AWS/DynamoDB", "WriteThrottleEvents", TableName=table)


# --- custom domain --------------------------------------------------------------------------------


def test_no_custom_domain_unless_configured(synthesized: Synthesized) -> None:
    assert of_type(synthesized.template_json, "AWS::ApiGateway::DomainName") == {}
    assert "CustomDomainUrl" not in synthesized.template_json["Outputs"]


def test_custom_domain_routes_each_family_to_its_api(prod_options: Synthesized) -> None:
    template = prod_options.template_json
    settings = PROD_OPTIONS["domain"]
    [(domain_id, domain)] = of_type(template, "AWS::ApiGateway::DomainName").items()
    assert domain["Properties"] == {
        "DomainName": settings["name"],
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "RegionalCertificateArn": settings["certificate_arn"],
        "SecurityPolicy": "TLS_1_2",
        "RoutingMode": "ROUTING_RULE_ONLY",
        "Tags": domain["Properties"]["Tags"],
    }
    assert of_type(template, "AWS::ApiGateway::BasePathMapping") == {}
    apis = of_type(template, "AWS::ApiGateway::RestApi")
    stages = of_type(template, "AWS::ApiGateway::Stage")
    rules = list(of_type(template, "AWS::ApiGatewayV2::RoutingRule").values())
    # Every catalog path's first segment goes, unstripped, to the API that serves that path.
    routed: dict[str, str] = {}
    for rule in rules:
        props = rule["Properties"]
        assert props["DomainNameArn"] == {"Fn::GetAtt": [domain_id, "DomainNameArn"]}
        [action] = props["Actions"]
        invoke = action["InvokeApi"]
        assert invoke["StripBasePath"] is False
        api_id = invoke["ApiId"]["Ref"]
        assert api_id in apis
        [stage] = [s for s in stages.values() if s["Properties"]["RestApiId"] == {"Ref": api_id}]
        assert invoke["Stage"] == {"Ref": next(k for k, v in stages.items() if v is stage)}
        [condition] = props["Conditions"]
        for segment in condition["MatchBasePaths"]["AnyOf"]:
            assert segment not in routed
            routed[segment] = api_id
    assert sorted(rule["Properties"]["Priority"] for rule in rules) == list(range(1, len(rules) + 1))
    for endpoint in ENDPOINTS:
        segment = endpoint.path.strip("/").split("/")[0]
        methods = [
            r for r in of_type(template, "AWS::ApiGateway::Method").values()
            if r["Properties"]["HttpMethod"] == endpoint.method
            and r["Properties"]["RestApiId"] == {"Ref": routed[segment]}
        ]
        assert methods, f"{endpoint.name}: /{segment} is routed to an API without its method"
    outputs = template["Outputs"]
    assert outputs["CustomDomainUrl"]["Value"] == f"https://{settings['name']}/"
    assert outputs["CustomDomainTarget"]["Value"] == {"Fn::GetAtt": [domain_id, "RegionalDomainName"]}


# --- the whole assembly: cdk-nag and cfn-lint -----------------------------------------------------


def test_prod_with_every_option_passes_cdk_nag(prod_options: Synthesized) -> None:
    violations = [
        violation["ruleName"]
        for report in prod_options.validation_report["pluginReports"]
        for violation in report.get("violations", [])
    ]
    assert violations == []
    assert prod_options.validation_error is None


@pytest.mark.parametrize("name", ["dev", "prod", "prod_options"])
def test_cfn_lint_passes_on_every_template(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    synthesized: Synthesized = request.getfixturevalue(name)
    templates = {"Monitoring": monitoring(synthesized)}
    if name == "prod_options":
        templates["main"] = synthesized.template_json
    for label, template_json in templates.items():
        path = tmp_path / f"{label}.json"
        path.write_text(json.dumps(template_json))
        result = subprocess.run(
            [cfn_lint_executable(), "--config-file", str(CFN_LINT_CONFIG), str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{label}: {result.stdout}{result.stderr}"


# --- CloudFormation's per-stack resource limit -----------------------------------------------------

CLOUDFORMATION_MAX_RESOURCES = 500


@pytest.mark.parametrize("fixture", ["dev", "prod", "prod_options"])
def test_every_template_fits_cloudformations_resource_limit(request: pytest.FixtureRequest, fixture: str) -> None:
    """A stack over 500 resources does not deploy; fail the build first (docs/edge.md, "What it costs")."""
    synthesized: Synthesized = request.getfixturevalue(fixture)
    templates = [synthesized.template_json, *synthesized.nested.values()]
    for template in templates:
        assert len(template["Resources"]) < CLOUDFORMATION_MAX_RESOURCES
