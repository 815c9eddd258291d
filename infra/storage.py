"""Events and keys tables (from ``ingest.schema``) and the rejects bucket.

The tables are built from the same ``TableSpec`` objects the local emulator uses, so what runs on
a laptop has exactly the deployed key schema. Access policy lives here too
(``grant_endpoint_access``): the resource owner decides what an ingest function may do with it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct
from ingest import schema

from infra.config import EnvConfig

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}

# Everything the request path does on the events table (ingest.store): dedup look-ups
# (BatchGetItem), batched and conditional writes, the ops family's open-or-refresh of a problem
# window (conditional UpdateItem), read-back over the event-time index and delete. No Scan.
EVENTS_TABLE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:DeleteItem",
)
# API keys are looked up by prefix; a function never lists them. ``grant_read_data`` would also
# grant Scan (and stream reads), which no request path needs.
KEYS_TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
# Per-key rate limiting is one atomic ADD per request on a `rate#<prefix>#<minute>[#<shard>]` counter
# item in the keys table (ingest.store.Store.count_request; the shards are read with BatchGetItem).
# UpdateItem is allowed on those partition keys only, so a function can count requests but never
# alter a key record (hash, scopes, revocation).
RATE_COUNTER_PK_PATTERN = "rate#*"

# Versioning protects rejects from an accidental overwrite; an old version is kept this long.
NONCURRENT_VERSION_DAYS = 30


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
        self.events_table = self._table(schema.EVENTS, config)
        self.keys_table = self._table(schema.KEYS, config)
        self.access_logs_bucket = self._access_logs_bucket(config)
        self.rejects_bucket = self._rejects_bucket(config)

    def grant_endpoint_access(self, grantee: iam.IGrantable) -> None:
        """Least privilege for an ingest function (index ARNs included by ``Table.grant``)."""
        self.events_table.grant(grantee, *EVENTS_TABLE_ACTIONS)
        self.keys_table.grant(grantee, *KEYS_TABLE_READ_ACTIONS)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["dynamodb:UpdateItem"],
            resource_arns=[self.keys_table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [RATE_COUNTER_PK_PATTERN]}},
        )
        self.rejects_bucket.grant_put(grantee)

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
