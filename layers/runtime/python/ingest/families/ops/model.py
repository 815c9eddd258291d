"""The ops event model (Events API v1 `EventCreation`), its per-type field matrix and time windows.

Three layers of rules, each reported as its own list of violations so one answer names them all:

* `OpsEvent` (pydantic): types, enums, attach rules, tags. An explicit JSON `null` anywhere in an
  object counts as absent, because the official Python client sends every optional field as null.
* `matrix_violations`: seed 004's "Parameters mapping": a field `req` for a type must be present,
  a field `n/a` for a type is refused. CUSTOM_ALERT (in the spec, not in the table) follows the
  other problem-opening types.
* `time_violations`: how far into the past and the future `start`/`end` may lie, relative to the
  time the request was received (never a hidden clock, so tests control it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from ingest.errors import Violation


class EventType(StrEnum):
    AVAILABILITY_EVENT = "AVAILABILITY_EVENT"
    CUSTOM_ALERT = "CUSTOM_ALERT"
    CUSTOM_ANNOTATION = "CUSTOM_ANNOTATION"
    CUSTOM_CONFIGURATION = "CUSTOM_CONFIGURATION"
    CUSTOM_DEPLOYMENT = "CUSTOM_DEPLOYMENT"
    CUSTOM_INFO = "CUSTOM_INFO"
    ERROR_EVENT = "ERROR_EVENT"
    MARKED_FOR_TERMINATION = "MARKED_FOR_TERMINATION"
    PERFORMANCE_EVENT = "PERFORMANCE_EVENT"
    RESOURCE_CONTENTION = "RESOURCE_CONTENTION"


INFO_TYPES = frozenset(
    {
        EventType.CUSTOM_ANNOTATION,
        EventType.CUSTOM_CONFIGURATION,
        EventType.CUSTOM_DEPLOYMENT,
        EventType.CUSTOM_INFO,
        EventType.MARKED_FOR_TERMINATION,
    }
)
# Problem-opening types answer with a correlation id and stay open for timeoutMinutes.
PROBLEM_TYPES = frozenset(EventType) - INFO_TYPES

TAG_CONTEXTS = ("AWS", "AWS_GENERIC", "AZURE", "CLOUD_FOUNDRY", "CONTEXTLESS", "ENVIRONMENT", "GOOGLE_CLOUD", "KUBERNETES")

# TagMatchRule.meTypes of the spec: a superset of the seed page's list (every documented value is here).
ENTITY_TYPES = (
    "APM_SECURITY_GATEWAY", "APPLICATION", "APPLICATION_METHOD", "APPLICATION_METHOD_GROUP", "APPMON_SERVER",
    "APPMON_SYSTEM_PROFILE", "AUTO_SCALING_GROUP", "AUXILIARY_SYNTHETIC_TEST", "AWS_APPLICATION_LOAD_BALANCER",
    "AWS_AVAILABILITY_ZONE", "AWS_CREDENTIALS", "AWS_LAMBDA_FUNCTION", "AWS_NETWORK_LOAD_BALANCER",
    "AZURE_API_MANAGEMENT_SERVICE", "AZURE_APPLICATION_GATEWAY", "AZURE_APP_SERVICE_PLAN", "AZURE_COSMOS_DB",
    "AZURE_CREDENTIALS", "AZURE_EVENT_HUB", "AZURE_EVENT_HUB_NAMESPACE", "AZURE_FUNCTION_APP", "AZURE_IOT_HUB",
    "AZURE_LOAD_BALANCER", "AZURE_MGMT_GROUP", "AZURE_REDIS_CACHE", "AZURE_REGION", "AZURE_SERVICE_BUS_NAMESPACE",
    "AZURE_SERVICE_BUS_QUEUE", "AZURE_SERVICE_BUS_TOPIC", "AZURE_SQL_DATABASE", "AZURE_SQL_ELASTIC_POOL",
    "AZURE_SQL_SERVER", "AZURE_STORAGE_ACCOUNT", "AZURE_SUBSCRIPTION", "AZURE_TENANT", "AZURE_VM",
    "AZURE_VM_SCALE_SET", "AZURE_WEB_APP", "BROWSER", "CF_APPLICATION", "CF_FOUNDATION", "CINDER_VOLUME",
    "CLOUD_APPLICATION", "CLOUD_APPLICATION_INSTANCE", "CLOUD_APPLICATION_NAMESPACE", "CLOUD_NETWORK_INGRESS",
    "CLOUD_NETWORK_POLICY", "CONTAINER_GROUP", "CONTAINER_GROUP_INSTANCE", "CUSTOM_APPLICATION", "CUSTOM_DEVICE",
    "CUSTOM_DEVICE_GROUP", "DCRUM_APPLICATION", "DCRUM_SERVICE", "DCRUM_SERVICE_INSTANCE",
    "DEVICE_APPLICATION_METHOD", "DEVICE_APPLICATION_METHOD_GROUP", "DISK", "DOCKER_CONTAINER_GROUP",
    "DOCKER_CONTAINER_GROUP_INSTANCE", "DYNAMO_DB_TABLE", "EBS_VOLUME", "EC2_INSTANCE", "ELASTIC_LOAD_BALANCER",
    "ENVIRONMENT", "EXTERNAL_SYNTHETIC_TEST_STEP", "GCP_ZONE", "GEOLOCATION", "GEOLOC_SITE", "GOOGLE_COMPUTE_ENGINE",
    "HOST", "HOST_GROUP", "HTTP_CHECK", "HTTP_CHECK_STEP", "HYPERVISOR", "HYPERVISOR_CLUSTER", "HYPERVISOR_DISK",
    "KUBERNETES_CLUSTER", "KUBERNETES_NODE", "KUBERNETES_SERVICE", "MOBILE_APPLICATION", "MULTIPROTOCOL_MONITOR",
    "NETWORK_INTERFACE", "NEUTRON_SUBNET", "OPENSTACK_PROJECT", "OPENSTACK_REGION", "OPENSTACK_VM", "OS",
    "PROCESS_GROUP", "PROCESS_GROUP_INSTANCE", "QUEUE", "QUEUE_INSTANCE", "RELATIONAL_DATABASE_SERVICE", "S3BUCKET",
    "SERVICE", "SERVICE_INSTANCE", "SERVICE_METHOD", "SERVICE_METHOD_GROUP", "SWIFT_CONTAINER", "SYNTHETIC_LOCATION",
    "SYNTHETIC_TEST", "SYNTHETIC_TEST_STEP", "VCENTER", "VIRTUALMACHINE", "VMWARE_DATACENTER",
)

TagContext = StrEnum("TagContext", {name: name for name in TAG_CONTEXTS})
EntityType = StrEnum("EntityType", {name: name for name in ENTITY_TYPES})


# Every eventType `queryEvents` filters by and `EventRestEntry` names (the spec's enum, 123 values):
# a superset of the ten a client can push. Querying one that is never pushed is valid and finds none.
QUERY_EVENT_TYPES = (
    "APPLICATION_JS_FRAMEWORK_DETECTED", "APPLICATION_OVERLOAD_PREVENTION", "AVAILABILITY_EVENT",
    "CONNECTION_LOST", "CPU_SATURATED", "CUSTOM_ALERT", "CUSTOM_ANNOTATION",
    "CUSTOM_APPLICATION_OVERLOAD_PREVENTION", "CUSTOM_APP_CRASH_RATE_INCREASED", "CUSTOM_CONFIGURATION",
    "CUSTOM_DEPLOYMENT", "CUSTOM_INFO", "DATABASE_CONNECTION_FAILURE", "DEPLOYMENT_CHANGED_CHANGE",
    "DEPLOYMENT_CHANGED_NEW", "DEPLOYMENT_CHANGED_REMOVED", "DYNATRACE_INTERNAL", "EBS_VOLUME_HIGH_LATENCY",
    "ELASTIC_LOAD_BALANCER_HIGH_BACKEND_FAILURE_RATE", "ELASTIC_LOAD_BALANCER_HIGH_FAILURE_RATE",
    "ELASTIC_LOAD_BALANCER_HIGH_UNHEALTHY_HOST_RATE", "ERROR_EVENT", "ESXI_HOST_VM_MOTION_ARRIVED",
    "ESXI_HOST_VM_MOTION_LEFT", "ESXI_HOST_VM_STARTED", "ESXI_START", "ESXI_VM_DISCONNECTED", "ESXI_VM_MOTION",
    "ESXI_VM_POWER_OFF", "ESXI_VM_START", "FAILURE_RATE_INCREASED", "HIGH_CONNECTIVITY_FAILURES",
    "HIGH_DROPPED_PACKETS_RATE", "HIGH_GC_ACTIVITY", "HIGH_LATENCY", "HIGH_NETWORK_ERROR_RATE",
    "HIGH_NETWORK_LOSS_RATE", "HIGH_NETWORK_UTILIZATION", "HOST_CONNECTION_FAILED", "HOST_CONNECTION_LOST",
    "HOST_DATASTORE_LOW_DISK_SPACE", "HOST_DISK_LOW_INODES", "HOST_GRACEFULLY_SHUTDOWN",
    "HOST_LOG_AVAILABILITY", "HOST_LOG_ERROR", "HOST_LOG_MATCHED", "HOST_LOG_PERFORMANCE", "HOST_MAINTENANCE",
    "HOST_NO_CONNECTION", "HOST_OF_SERVICE_UNAVAILABLE", "HOST_SHUTDOWN", "HOST_TIMEOUT",
    "HTTP_CHECK_GLOBAL_OUTAGE", "HTTP_CHECK_LOCAL_OUTAGE", "HTTP_CHECK_TEST_LOCATION_SLOWDOWN",
    "INSUFFICIENT_DISK_QUEUE_DEPTH", "JAVASCRIPT_ERROR_RATE_INCREASED", "LAMBDA_FUNCTION_HIGH_ERROR_RATE",
    "LOG_AVAILABILITY", "LOG_ERROR", "LOG_MATCHED", "LOG_PERFORMANCE", "LOW_DISK_SPACE", "LOW_STORAGE_SPACE",
    "MARKED_FOR_TERMINATION", "MEMORY_RESOURCES_EXHAUSTED", "MEMORY_SATURATED",
    "MOBILE_APPLICATION_OVERLOAD_PREVENTION", "MOBILE_APP_CRASH_RATE_INCREASED", "MONITORING_UNAVAILABLE",
    "OPENSTACK_HOST_VM_SHUTDOWN", "OPENSTACK_HOST_VM_STARTED", "OPENSTACK_KEYSTONE_SLOW",
    "OPENSTACK_KEYSTONE_UNHEALTHY", "OPENSTACK_VM_LAUNCH_FAILED", "OPENSTACK_VM_MOTION",
    "OSI_DOCKER_DEVICEMAPPER_LOW_DATA_SPACE", "OSI_DOCKER_DEVICEMAPPER_LOW_METADATA_SPACE",
    "OVERLOADED_STORAGE", "PERFORMANCE_EVENT", "PGI_CRASHED_INFO", "PGI_HAPROXY_QUEUED_REQUESTS_HIGH",
    "PGI_HAPROXY_SESSION_USAGE_HIGH", "PGI_LOG_MATCHED", "PGI_MEMDUMP", "PGI_MYSQL_SLOW_QUERIES_RATE_HIGH",
    "PGI_OF_SERVICE_UNAVAILABLE", "PGI_RMQ_HIGH_FILE_DESC_USAGE", "PGI_RMQ_HIGH_MEM_USAGE",
    "PGI_RMQ_HIGH_PROCESS_USAGE", "PGI_RMQ_HIGH_SOCKETS_USAGE", "PGI_RMQ_LOW_DISK_SPACE", "PROCESS_CRASHED",
    "PROCESS_CUSTOM_AVAILABILITY", "PROCESS_CUSTOM_ERROR", "PROCESS_CUSTOM_PERFORMANCE",
    "PROCESS_GROUP_LOW_INSTANCE_COUNT", "PROCESS_LOG_AVAILABILITY", "PROCESS_LOG_ERROR",
    "PROCESS_LOG_PERFORMANCE", "PROCESS_RESTART", "PROCESS_UNAVAILABLE", "RDS_AZ_FAILOVER_COMPLETED",
    "RDS_AZ_FAILOVER_STARTED", "RDS_BACKUP_COMPLETED", "RDS_BACKUP_STARTED", "RDS_OF_SERVICE_UNAVAILABLE",
    "RDS_RESTART", "RDS_RESTART_SEQUENCE", "RESOURCE_CONTENTION", "SERVICE_RESPONSE_TIME_DEGRADED", "SLOW_DISK",
    "SYNTHETIC_AVAILABILITY", "SYNTHETIC_NODE_OUTAGE", "SYNTHETIC_PRIVATE_LOCATION_OUTAGE",
    "SYNTHETIC_SLOWDOWN", "THREADS_RESOURCES_EXHAUSTED", "UNEXPECTED_HIGH_LOAD", "UNEXPECTED_LOW_LOAD",
    "USER_ACTION_DURATION_DEGRADATION", "VIRTUAL_MACHINE_SHUTDOWN", "WEB_CHECK_GLOBAL_OUTAGE",
    "WEB_CHECK_LOCAL_OUTAGE",
)

# --- time rules ---------------------------------------------------------------------------------

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS
INFO_MAX_PAST_MS = 30 * DAY_MS  # seed 004: information-only events up to 30 days into the past
PROBLEM_MAX_PAST_MS = 60 * MINUTE_MS  # seed 004: problem-opening events up to 60 minutes into the past
# v1 names no future bound; these are the ones the vendor's Events API v2 documents for the same
# two kinds of event (7 days for info events, 5 minutes for problem-opening ones).
INFO_MAX_FUTURE_MS = 7 * DAY_MS
PROBLEM_MAX_FUTURE_MS = 5 * MINUTE_MS
DEFAULT_TIMEOUT_MINUTES = 15
MAX_TIMEOUT_MINUTES = 120


def drop_nulls(value: Any) -> Any:
    """An object without its null members: for this API an explicit null means "not set"."""
    if isinstance(value, dict):
        return {name: member for name, member in value.items() if member is not None}
    return value


class _WireObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        return drop_nulls(data)


class TagInfo(_WireObject):
    context: TagContext = Field(description="Origin of the tag; custom tags use CONTEXTLESS.")
    key: Annotated[StrictStr, Field(min_length=1, max_length=2000, examples=["IG-test"])]
    value: Annotated[StrictStr, Field(max_length=2000)] | None = None


class TagMatchRule(_WireObject):
    meTypes: list[EntityType] = Field(min_length=1, description="Entity types to match; at least one.")
    tags: list[TagInfo] = Field(min_length=1, description="Tags to match; at least one.")


class PushEventAttachRules(_WireObject):
    entityIds: list[Annotated[StrictStr, Field(min_length=1)]] | None = None
    tagRule: list[TagMatchRule] | None = None

    @model_validator(mode="after")
    def _at_least_one_target(self) -> PushEventAttachRules:
        if not self.entityIds and not self.tagRule:
            raise ValueError("attach the event to at least one entity id (entityIds) or one tag rule (tagRule)")
        return self


CustomProperties = Annotated[dict[StrictStr, StrictStr], BeforeValidator(drop_nulls)]


class OpsEvent(_WireObject):
    """EventCreation. Which of the optional fields a type needs or refuses: see FIELD_MATRIX."""

    eventType: EventType
    start: StrictInt | None = Field(default=None, description="UTC epoch ms; the time received when not set.")
    end: StrictInt | None = Field(default=None, description="UTC epoch ms; information-only events only.")
    timeoutMinutes: StrictInt | None = Field(
        default=None, description="Problem-opening events: 1-120, default 15. Accepted and ignored on other types."
    )
    attachRules: PushEventAttachRules
    customProperties: CustomProperties | None = None
    source: StrictStr = Field(examples=["OpsControl"])
    title: StrictStr | None = None
    description: StrictStr | None = None
    annotationType: StrictStr | None = None
    annotationDescription: StrictStr | None = None
    deploymentName: StrictStr | None = None
    deploymentVersion: StrictStr | None = None
    deploymentProject: StrictStr | None = None
    ciBackLink: StrictStr | None = None
    remediationAction: StrictStr | None = None
    original: StrictStr | None = None
    changed: StrictStr | None = None
    configuration: StrictStr | None = None
    timeseriesIds: list[StrictStr] | None = None
    allowDavisMerge: StrictBool | None = Field(
        default=None, description="Problem-opening events only; accepted and ignored on other types."
    )

    @property
    def opens_problem(self) -> bool:
        return self.eventType in PROBLEM_TYPES


# --- the per-type matrix (seed 004, "Parameters mapping") ---------------------------------------

Use = Literal["req", "opt", "n/a"]
_COLUMNS = (
    EventType.AVAILABILITY_EVENT, EventType.CUSTOM_ANNOTATION, EventType.CUSTOM_CONFIGURATION,
    EventType.CUSTOM_DEPLOYMENT, EventType.CUSTOM_INFO, EventType.ERROR_EVENT, EventType.PERFORMANCE_EVENT,
    EventType.RESOURCE_CONTENTION, EventType.MARKED_FOR_TERMINATION,
)
_ROWS: dict[str, tuple[Use, ...]] = {
    # field:                 AVAIL  ANNOT  CONFIG DEPLOY INFO   ERROR  PERF   RESRC  MFT
    "description":           ("req", "opt", "req", "n/a", "req", "req", "req", "req", "req"),
    "title":                 ("req", "n/a", "n/a", "n/a", "opt", "req", "req", "req", "opt"),
    "source":                ("req", "req", "req", "req", "req", "req", "req", "req", "req"),
    "annotationType":        ("n/a", "req", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "annotationDescription": ("n/a", "req", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "deploymentName":        ("n/a", "n/a", "n/a", "req", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "deploymentVersion":     ("n/a", "n/a", "n/a", "req", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "deploymentProject":     ("n/a", "n/a", "n/a", "opt", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "ciBackLink":            ("n/a", "n/a", "n/a", "opt", "n/a", "n/a", "n/a", "n/a", "opt"),
    "remediationAction":     ("n/a", "n/a", "n/a", "opt", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "original":              ("n/a", "n/a", "opt", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"),
    # Not in the table: `changed` is the other half of `original` ("the new value of the configuration").
    "changed":               ("n/a", "n/a", "opt", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "configuration":         ("n/a", "n/a", "req", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"),
    "customProperties":      ("opt", "opt", "opt", "opt", "opt", "opt", "opt", "opt", "opt"),
}
FIELD_MATRIX: dict[EventType, dict[str, Use]] = {
    event_type: {field: uses[column] for field, uses in _ROWS.items()} for column, event_type in enumerate(_COLUMNS)
}
# CUSTOM_ALERT is in the spec's enum but not in the table: a problem-opening type, so it takes the
# column the other problem-opening types share (title and description required).
FIELD_MATRIX[EventType.CUSTOM_ALERT] = dict(FIELD_MATRIX[EventType.ERROR_EVENT])

# Fields the field descriptions (not the table) call "not applicable" to a kind of event. The
# reference's own example sends timeoutMinutes to a CUSTOM_ANNOTATION and is answered 200, so such
# a field is accepted, type-checked, and dropped from what is stored.
IGNORED_FOR_INFO = ("timeoutMinutes", "allowDavisMerge")
IGNORED_FOR_PROBLEM = ("end",)


def event_type_of(raw: dict) -> EventType | None:
    value = raw.get("eventType")
    return EventType(value) if isinstance(value, str) and value in EventType._value2member_map_ else None


def matrix_violations(raw: dict, event_type: EventType) -> list[Violation]:
    """Required fields missing and not-applicable fields present, for one (null-free) event object."""
    violations = []
    for field, use in FIELD_MATRIX[event_type].items():
        present = field in raw
        if use == "req" and not present and field != "source":  # `source` is required by the model itself
            violations.append(Violation(0, field, f"{field} is required for {event_type.value} events"))
        elif use == "n/a" and present:
            violations.append(
                Violation(0, field, f"{field} is not applicable to {event_type.value} events; remove it")
            )
    return violations


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, and true is no timestamp


def time_violations(raw: dict, event_type: EventType, now_ms: int) -> list[Violation]:
    """Windows for start/end, and timeoutMinutes' range, against the time the request was received."""
    violations = []
    opens_problem = event_type in PROBLEM_TYPES
    start = raw.get("start")
    end = raw.get("end")
    kind = "problem-opening" if opens_problem else "information-only"
    max_past = PROBLEM_MAX_PAST_MS if opens_problem else INFO_MAX_PAST_MS
    max_future = PROBLEM_MAX_FUTURE_MS if opens_problem else INFO_MAX_FUTURE_MS
    past_text = "60 minutes" if opens_problem else "30 days"
    future_text = "5 minutes" if opens_problem else "7 days"
    if _is_int(start):
        if start < now_ms - max_past:
            violations.append(Violation(
                0, "start", f"start {start} is more than {past_text} before the time received ({now_ms}); "
                f"{kind} events may be reported at most {past_text} into the past",
            ))
        elif start > now_ms + max_future:
            violations.append(Violation(
                0, "start", f"start {start} is more than {future_text} after the time received ({now_ms}); "
                f"{kind} events may start at most {future_text} in the future",
            ))
    if not opens_problem and _is_int(end):
        effective_start = start if _is_int(start) else now_ms
        if end < effective_start:
            origin = "start" if _is_int(start) else "start (not set, so the time received)"
            violations.append(Violation(0, "end", f"end {end} is before {origin} {effective_start}"))
        elif end > now_ms + max_future:
            violations.append(Violation(
                0, "end", f"end {end} is more than {future_text} after the time received ({now_ms})",
            ))
    timeout = raw.get("timeoutMinutes")
    if opens_problem and _is_int(timeout) and not 1 <= timeout <= MAX_TIMEOUT_MINUTES:
        violations.append(Violation(
            0, "timeoutMinutes", f"timeoutMinutes must be between 1 and {MAX_TIMEOUT_MINUTES} minutes, got {timeout}"
        ))
    return violations
