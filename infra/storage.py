"""Events and keys tables (from ``ingest.schema``) and the rejects bucket.

The tables are built from the same ``TableSpec`` objects the local emulator uses, so what runs on
a laptop has exactly the deployed key schema. Access policy lives here too
(``grant_route_access``): what a route's function may do with each resource, as ``infra.access``
declares per route kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct
from ingest import schema

from infra import access
from infra.config import EnvConfig
from infra.nag import acknowledge

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}

# Per-key rate limiting is one atomic ADD per request on a `rate#<prefix>#<minute>[#<shard>]` counter
# item in the keys table (ingest.store.Store.count_request; the shards are read with BatchGetItem).
# Both are allowed on those partition keys only, so a function can count requests but never alter
# (or read through this grant) a key record (hash, scopes, revocation).
RATE_COUNTER_PK_PATTERN = "rate#*"
RATE_COUNTERS_ONLY = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [RATE_COUNTER_PK_PATTERN]}}

# Versioning protects rejects from an accidental overwrite; an old version is kept this long.
NONCURRENT_VERSION_DAYS = 30
# S3 request metrics (4xx/5xx per request) for reject writes, which infra.monitoring alarms on.
REJECTS_METRICS_FILTER = "RejectWrites"
REJECTS_PREFIX = "rejects/"


def dynamodb_attribute(attribute: schema.Attribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=_ATTRIBUTE_TYPES[attribute.type])


def index_projection(index: schema.Index) -> dict:
    """CDK projection arguments of an index (ingest.schema: ALL, or INCLUDE of a few attributes)."""
    if index.include is None:
        return {"projection_type": dynamodb.ProjectionType.ALL}
    if not index.include:
        return {"projection_type": dynamodb.ProjectionType.KEYS_ONLY}
    return {"projection_type": dynamodb.ProjectionType.INCLUDE, "non_key_attributes": list(index.include)}


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig) -> None:
        super().__init__(scope, construct_id)
        existing = config.existing_tables
        # A table restored from a backup (docs/operations.md, "Restore") replaces the stack's own.
        self.events_table = self._table_or_existing(schema.EVENTS, config, existing.events_table_name)
        self.keys_table = self._table_or_existing(schema.KEYS, config, existing.keys_table_name)
        self.access_logs_bucket = self._access_logs_bucket(config)
        self.rejects_bucket = self._rejects_bucket(config)
        self.cursor_secret = self._cursor_secret(config)

    def grant_route_access(self, grantee: iam.IGrantable, needs: Mapping[access.Resource, Iterable[str]]) -> None:
        """Exactly ``needs`` (``infra.access.needs_of``): one statement per resource, nothing more.

        Explicit statements rather than ``Table.grant``/``Bucket.grant_put``: those add every index
        to every grant and the S3 tagging, retention and ``Abort*`` actions no function calls."""
        for resource, actions in needs.items():
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=sorted(actions),
                resource_arns=self.resource_arns(resource),
                conditions=RATE_COUNTERS_ONLY if resource is access.Resource.RATE_COUNTERS else None,
            )

    def resource_arns(self, resource: access.Resource) -> list[str]:
        return {
            access.Resource.EVENTS_TABLE: [self.events_table.table_arn],
            access.Resource.EVENTS_INDEXES: [f"{self.events_table.table_arn}/index/*"],
            access.Resource.KEYS_TABLE: [self.keys_table.table_arn],
            access.Resource.RATE_COUNTERS: [self.keys_table.table_arn],
            access.Resource.REJECTS_OBJECTS: [self.rejects_bucket.arn_for_objects("*")],
            access.Resource.CURSOR_SECRET: [self.cursor_secret.secret_arn],
        }[resource]

    def _table_or_existing(
        self, spec: schema.TableSpec, config: EnvConfig, existing_name: str | None
    ) -> dynamodb.ITable:
        if existing_name is None:
            return self._table(spec, config)
        # Not owned by the stack: its settings (TTL, PITR, deletion protection) are the runbook's.
        # Naming the indexes keeps the grants on `<table>/index/*`, as for an owned table.
        return dynamodb.Table.from_table_attributes(
            self,
            f"{spec.logical_id}Table",
            table_name=existing_name,
            global_indexes=[index.name for index in spec.indexes] or None,
        )

    def _cursor_secret(self, config: EnvConfig) -> secretsmanager.Secret:
        """The HMAC key of query cursors (ingest.cursor), generated at deploy and never in code or
        config. Replacing it only invalidates outstanding cursors: clients start their query again."""
        secret = secretsmanager.Secret(
            self,
            "CursorSecret",
            description="Ingest API: HMAC-SHA256 key signing query cursors (INGEST_CURSOR_SECRET_ID).",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True, include_space=False
            ),
            removal_policy=config.cdk_removal_policy,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "Signs short-lived query cursors only (no credential of any system): rotating it would "
            "merely invalidate cursors in flight. Replace it by re-deploying with a new secret if it leaks.",
        )
        return secret

    def _table(self, spec: schema.TableSpec, config: EnvConfig) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            f"{spec.logical_id}Table",
            partition_key=dynamodb_attribute(spec.partition),
            sort_key=dynamodb_attribute(spec.sort) if spec.sort else None,
            time_to_live_attribute=spec.ttl_attribute,
            # Ingest traffic is bursty and unknown up front; on-demand needs no capacity planning.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The AWS-managed key needs no key grants and shows up in CloudTrail, unlike the default.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=not config.destroy_on_removal,
            removal_policy=config.cdk_removal_policy,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=dynamodb_attribute(index.partition),
                sort_key=dynamodb_attribute(index.sort) if index.sort else None,
                **index_projection(index),
            )
        return table

    def _access_logs_bucket(self, config: EnvConfig) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access log delivery only supports SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            lifecycle_rules=[
                # Kept as long as the rejects they describe.
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(config.rejects_lifecycle.expire_after_days),
                )
            ],
            removal_policy=config.cdk_removal_policy,
            auto_delete_objects=config.destroy_on_removal,
        )
        # No server access logs of its own: cdk-nag (S1) accepts a bucket that is a log target,
        # and logging the log bucket would only move the question one bucket further.
        return bucket

    def _rejects_bucket(self, config: EnvConfig) -> s3.Bucket:
        return s3.Bucket(
            self,
            "RejectsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="rejects/",
            lifecycle_rules=[_rejects_lifecycle_rule(config)],
            metrics=[s3.BucketMetrics(id=REJECTS_METRICS_FILTER, prefix=REJECTS_PREFIX)],
            removal_policy=config.cdk_removal_policy,
            auto_delete_objects=config.destroy_on_removal,
        )


def _rejects_lifecycle_rule(config: EnvConfig) -> s3.LifecycleRule:
    lifecycle = config.rejects_lifecycle
    transitions = []
    if lifecycle.glacier_after_days is not None:
        transitions.append(
            s3.Transition(
                # Instant Retrieval: a replay reads old rejects directly, without a restore job.
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=cdk.Duration.days(lifecycle.glacier_after_days),
            )
        )
    return s3.LifecycleRule(
        id="rejects-retention",
        transitions=transitions or None,
        expiration=cdk.Duration.days(lifecycle.expire_after_days),
        noncurrent_version_expiration=cdk.Duration.days(NONCURRENT_VERSION_DAYS),
        abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
    )
