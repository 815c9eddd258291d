"""Alarms, the dashboard and the alarm topic, per environment (thresholds in cdk.json).

Built with cdk-monitoring-constructs' ``MonitoringFacade``: it names, describes and lays out every
alarm and widget, and sends every alarm to one SNS topic (subscriptions from cdk.json). What the
library has no monitoring for — the service's own EMF metrics (namespace ``IngestApi``, dimensions
``service`` and ``endpoint``, written by ``ingest.pipeline``) and S3 request errors on reject
writes — goes through its custom-metric segments, so it sits on the same dashboard and topic.

Everything here is in its own nested stack: about six alarms per endpoint would otherwise push the
main template toward CloudFormation's 500-resource limit as routes are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aws_cdk as cdk
import cdk_monitoring_constructs as cmc
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct
from ingest import catalog, schema
from ingest.family import Status
from ingest.spec import Endpoint, RouteKind

from infra.api import POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME, IngestApi
from infra.config import EnvConfig
from infra.storage import REJECTS_METRICS_FILTER, Storage

# The facade's severities; every alarm goes to the one topic, the name tells how urgent it is.
CRITICAL = "Critical"
WARNING = "Warning"


@dataclass
class _Collected:
    """Alarms created by one facade call (the library hands them to ``use_created_alarms``)."""

    alarms: list[cloudwatch.IAlarm] = field(default_factory=list)


@jsii.implements(cmc.IAlarmConsumer)
class _Collector:
    def __init__(self, into: _Collected) -> None:
        self._into = into

    def consume(self, alarms: Sequence[cmc.AlarmWithAnnotation]) -> None:
        self._into.alarms.extend(alarm.alarm for alarm in alarms)


class Monitoring(cdk.NestedStack):
    """The alarm topic, every alarm and the dashboard; ``rollback_alarms`` per function name."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvConfig,
        api: IngestApi,
        storage: Storage,
    ) -> None:
        super().__init__(scope, construct_id, description=f"Ingest API ({config.name}): alarms and dashboard")
        self.config = config
        self.thresholds = config.monitoring.alarms
        self.period = cdk.Duration.minutes(self.thresholds.period_minutes)
        self.prefix = f"ingest-api-{config.name}"
        self.dashboard_name = self.prefix  # the facade's one (detail) dashboard carries the prefix as its name
        self.topic = self._topic(config)
        self.facade = cmc.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=cmc.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=self.prefix,
                action=cmc.SnsAlarmActionStrategy(on_alarm_topic=self.topic, on_ok_topic=self.topic),
                runbook_link="docs/operations.md#alarms",
                evaluation_periods=self.thresholds.evaluation_periods,
                datapoints_to_alarm=self.thresholds.datapoints_to_alarm,
            ),
            metric_factory_defaults=cmc.MetricFactoryDefaults(period=self.period),
            dashboard_factory=cmc.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=self.prefix,
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )
        # Function name (the endpoint's, or "authorizer") → the alarms that roll its deploy back.
        self.rollback_alarms: dict[str, list[cloudwatch.IAlarm]] = {}
        self._service_metrics()
        self._api(api)
        self._functions(api)
        self._storage(storage)

    # --- topic ----------------------------------------------------------------------------------

    def _topic(self, config: EnvConfig) -> sns.Topic:
        # A customer-managed key: CloudWatch can publish to a topic encrypted with it (it cannot with
        # the AWS-managed alias/aws/sns, whose policy grants CloudWatch nothing).
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Ingest API {config.name}: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # a key policy's resource is the key itself
            )
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"Ingest API {config.name} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        for index, subscription in enumerate(config.monitoring.subscriptions):
            sns.Subscription(
                self,
                f"Subscription{index}",
                topic=topic,
                protocol=sns.SubscriptionProtocol(subscription.protocol.upper()),
                endpoint=subscription.endpoint,
            )
        return topic

    # --- the service's own metrics (EMF) --------------------------------------------------------

    def _service_metric(self, name: str, endpoint: Endpoint, label: str | None = None) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=POWERTOOLS_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": POWERTOOLS_SERVICE_NAME, "endpoint": endpoint.name},
            statistic="Sum",
            period=self.period,
            label=label or f"{endpoint.name} {name}",
        )

    def _service_metrics(self) -> None:
        self.facade.add_large_header("Ingest API: requests and events per family")
        families = sorted({endpoint.family for endpoint in catalog.ENDPOINTS})
        groups = []
        for family in families:
            endpoints = [endpoint for endpoint in catalog.ENDPOINTS if endpoint.family == family]
            metrics = [self._family_sum("Requests", endpoints, f"{family} requests")]
            metrics += [
                self._family_sum(f"Events{status.value.capitalize()}", endpoints, f"{family} events {status.value}")
                for status in Status
            ]
            groups.append(cmc.CustomMetricGroup(title=f"{family}: requests and events", metrics=metrics))
        self.facade.monitor_custom(
            alarm_friendly_name="Families",
            human_readable_name="Requests and events stored / duplicate / rejected per family",
            metric_groups=groups,
        )
        for endpoint in catalog.ENDPOINTS:
            collected = _Collected()
            metrics: list = [
                _above("ServerErrors", self._service_metric("ServerErrors", endpoint), CRITICAL,
                       self.thresholds.server_errors, "The service answered a 5xx (nothing was acknowledged).")
            ]
            if endpoint.kind is RouteKind.INGEST:
                metrics.append(_above("RejectedPercent", self._rejected_percent(endpoint), WARNING,
                                      self.thresholds.rejected_percent,
                                      "Share of the endpoint's events that were rejected."))
            self.facade.monitor_custom(
                alarm_friendly_name=_friendly(endpoint.name),
                human_readable_name=f"{endpoint.method} {endpoint.path}: service errors and rejects",
                metric_groups=[cmc.CustomMetricGroup(title=f"{endpoint.name}: service", metrics=metrics)],
                use_created_alarms=_Collector(collected),
                add_to_detail_dashboard=False,
            )
            # A flood of bad events from one client must not block or undo a deploy: the rejected
            # share is watched, but only ServerErrors roll back.
            self.rollback_alarms.setdefault(endpoint.name, []).extend(
                alarm for alarm in collected.alarms if "RejectedPercent" not in alarm.node.id
            )

    def _family_sum(self, name: str, endpoints: Sequence[Endpoint], label: str) -> cloudwatch.IMetric:
        # Ids unique within a graph that shows several of these sums.
        parts = {
            f"{name.lower()}{index}": self._service_metric(name, endpoint) for index, endpoint in enumerate(endpoints)
        }
        if len(parts) == 1:
            return next(iter(parts.values())).with_(label=label)
        return cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({id_}, 0)" for id_ in parts),
            using_metrics=parts,
            label=label,
            period=self.period,
        )

    def _rejected_percent(self, endpoint: Endpoint) -> cloudwatch.MathExpression:
        return cloudwatch.MathExpression(
            expression="IF((stored + duplicate + rejected) > 0, 100 * rejected / (stored + duplicate + rejected), 0)",
            using_metrics={
                status.value: self._service_metric(f"Events{status.value.capitalize()}", endpoint)
                for status in Status
            },
            label=f"{endpoint.name} rejected %",
            period=self.period,
        )

    # --- API Gateway ----------------------------------------------------------------------------

    def _api(self, api: IngestApi) -> None:
        # One REST API per family (infra.edge): a 5xx-rate alarm per API, a p99 alarm per route.
        stage = self.config.stage_name
        for family, rest_api in api.apis.items():
            self.facade.monitor_api_gateway(
                api=rest_api,
                api_stage=stage,
                alarm_friendly_name=f"Api{_friendly(family)}",
                human_readable_name=f"API {rest_api.rest_api_name} (stage {stage})",
                add5_xx_fault_rate_alarm={
                    CRITICAL: cmc.ErrorRateThreshold(max_error_rate=self.thresholds.api_5xx_percent / 100)
                },
            )
        for endpoint in catalog.ENDPOINTS:
            self.facade.monitor_api_gateway(
                api=api.apis[endpoint.family],
                api_stage=stage,
                api_method=endpoint.method,
                api_resource=endpoint.path,
                alarm_friendly_name=f"Route{_friendly(endpoint.name)}",
                human_readable_name=f"{endpoint.method} {endpoint.path}",
                add_latency_p99_alarm={
                    WARNING: cmc.LatencyThreshold(
                        max_latency=cdk.Duration.millis(self.thresholds.route_p99_latency_ms_for(endpoint.name))
                    )
                },
                add_to_detail_dashboard=False,
            )

    # --- Lambda ---------------------------------------------------------------------------------

    def _functions(self, api: IngestApi) -> None:
        self.facade.add_large_header("Functions: errors, throttles, duration")
        functions = [
            (name, function.function, self.thresholds.lambda_errors) for name, function in api.functions.items()
        ]
        functions.append(("authorizer", api.authorizers.function, self.thresholds.authorizer_errors))
        for name, function, max_errors in functions:
            collected = _Collected()
            self.facade.monitor_lambda_function(
                lambda_function=function,
                alarm_friendly_name=f"Function{_friendly(name)}",
                human_readable_name=f"Function {name}",
                add_fault_count_alarm={CRITICAL: cmc.ErrorCountThreshold(max_error_count=max_errors)},
                add_throttles_count_alarm={
                    CRITICAL: cmc.ErrorCountThreshold(max_error_count=self.thresholds.lambda_throttles)
                },
                add_latency_p99_alarm={
                    WARNING: cmc.LatencyTimeoutPercentageThreshold(
                        max_latency_percentage_of_timeout=self.thresholds.duration_percent_of_timeout
                    )
                },
                use_created_alarms=_Collector(collected),
            )
            # Throttles say the reservation is too small, not that the new code is bad.
            self.rollback_alarms.setdefault(name, []).extend(
                alarm for alarm in collected.alarms if "Throttle" not in alarm.node.id
            )

    # --- storage --------------------------------------------------------------------------------

    def _storage(self, storage: Storage) -> None:
        self.facade.add_large_header("Storage")
        throttled = cmc.ThrottledEventsThreshold(
            max_throttled_events_threshold=self.thresholds.dynamodb_throttled_requests
        )
        for spec, table in ((schema.EVENTS, storage.events_table), (schema.KEYS, storage.keys_table)):
            name = f"{spec.logical_id}Table"
            self.facade.monitor_dynamo_table(
                table=table,
                alarm_friendly_name=name,
                add_read_throttled_events_count_alarm={CRITICAL: throttled},
                add_write_throttled_events_count_alarm={CRITICAL: throttled},
                add_system_error_count_alarm={
                    CRITICAL: cmc.ErrorCountThreshold(max_error_count=self.thresholds.dynamodb_system_errors)
                },
            )
            # A throttled index write throttles the table write that feeds it (back-pressure).
            for index in spec.indexes:
                self.facade.monitor_dynamo_table_global_secondary_index(
                    table=table,
                    global_secondary_index_name=index.name,
                    alarm_friendly_name=f"{name}Index{_friendly(index.name)}",
                    add_write_throttled_events_count_alarm={CRITICAL: throttled},
                )
        bucket_name = storage.rejects_bucket.bucket_name
        failed_writes = cloudwatch.Metric(
            namespace="AWS/S3",
            metric_name="5xxErrors",
            dimensions_map={"BucketName": bucket_name, "FilterId": REJECTS_METRICS_FILTER},
            statistic="Sum",
            period=self.period,
            label="reject writes failed by S3 (5xx)",
        )
        self.facade.monitor_custom(
            alarm_friendly_name="RejectWrites",
            human_readable_name="Reject writes (S3 request metrics, rejects/ prefix)",
            metric_groups=[
                cmc.CustomMetricGroup(
                    title="Reject writes",
                    metrics=[
                        cmc.CustomMetricWithAlarm(
                            alarm_friendly_name="Failed",
                            metric=failed_writes,
                            add_alarm={
                                CRITICAL: cmc.CustomThreshold(
                                    threshold=self.thresholds.reject_write_failures,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                    additional_description="S3 failed a write of a reject (the request answered 503).",
                                )
                            },
                        ),
                        cloudwatch.Metric(
                            namespace="AWS/S3",
                            metric_name="PutRequests",
                            dimensions_map={"BucketName": bucket_name, "FilterId": REJECTS_METRICS_FILTER},
                            statistic="Sum",
                            period=self.period,
                            label="reject writes",
                        ),
                    ],
                )
            ],
        )


def _above(name: str, metric: cloudwatch.IMetric, severity: str, threshold: float,
           description: str) -> cmc.CustomMetricWithAlarm:
    """A custom metric alarming when above `threshold` (missing data: not breaching)."""
    return cmc.CustomMetricWithAlarm(
        alarm_friendly_name=name,
        metric=metric,
        add_alarm={
            severity: cmc.CustomThreshold(
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                additional_description=description,
            )
        },
    )


def _friendly(name: str) -> str:
    """``datahub_events`` → ``DatahubEvents`` (alarm names and construct ids)."""
    return "".join(part.capitalize() for part in name.split("_"))
