"""S3 usage events: the reference spec's `S3Event` (operation `receiveS3Event`), all 38 actions.

One model per `oneOf` variant of `specs/dashdive_openapi.json`, with the same required and optional
fields; tests/unit/test_usage_s3_spec.py reads the spec at run time and checks every variant against
these models. Differences from the spec, both from the API's own documentation (seed 000): unknown
fields are dropped instead of refused (`additionalProperties: false`), and `null` is accepted for
every optional field. `partNumber` must be ≥ 1 (the spec's `exclusiveMinimum: 0`; S3 numbers parts
from 1).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool
from pydantic.alias_generators import to_camel

from ingest.families.usage.family import Count, Text, UsageEvent, event_union, integer

S3Provider = Literal["aws", "backblaze", "wasabi"]
PartNumber = Annotated[integer(minimum=1), Field(description="The part's number (S3 numbers parts from 1).")]


class S3EventBase(UsageEvent):
    provider: S3Provider = Field(description="The S3-compatible storage provider.")


class BucketEvent(S3EventBase):
    bucket: Text = Field(description="The bucket the call was made on.")


class ObjectEvent(BucketEvent):
    object_key: Text = Field(description="The object's key.")


class TransferEvent(ObjectEvent):
    bytes: Count = Field(description="Bytes transferred.")
    version_id: Text | None = Field(default=None, description="Optional. The object version.")


class UploadEvent(TransferEvent):
    object_category: Text | None = Field(default=None, description="Optional. Your category of the object.")
    file_type: Text | None = Field(default=None, description="Optional. The object's file type.")
    is_synthetic: StrictBool | None = Field(default=None, description="Optional. True for test or synthetic traffic.")


class MultipartEvent(BucketEvent):
    upload_id: Text = Field(description="The multipart upload's id.")


class S3CopySource(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, serialize_by_alias=True)

    bucket: Text
    object_key: Text
    version_id: Text | None = None


class S3DeletedObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel, serialize_by_alias=True)

    object_key: Text
    version_id: Text | None = None
    is_delete_marker: StrictBool | None = None


# --- the 38 actions, in the spec's order ------------------------------------------------------------


class S3ListBuckets(S3EventBase):
    action: Literal["ListBuckets"]


class S3DeleteBucket(BucketEvent):
    action: Literal["DeleteBucket"]
    force: StrictBool | None = Field(default=None, description="Optional. Whether the bucket was force-deleted.")


class S3HeadBucket(BucketEvent):
    action: Literal["HeadBucket"]


class S3CreateBucket(BucketEvent):
    action: Literal["CreateBucket"]


class S3GetBucketAcl(BucketEvent):
    action: Literal["GetBucketAcl"]


class S3GetBucketCors(BucketEvent):
    action: Literal["GetBucketCors"]


class S3GetBucketEncryption(BucketEvent):
    action: Literal["GetBucketEncryption"]


class S3GetBucketLocation(BucketEvent):
    action: Literal["GetBucketLocation"]


class S3GetBucketVersioning(BucketEvent):
    action: Literal["GetBucketVersioning"]


class S3PutBucketAcl(BucketEvent):
    action: Literal["PutBucketAcl"]


class S3PutBucketCors(BucketEvent):
    action: Literal["PutBucketCors"]


class S3PutBucketEncryption(BucketEvent):
    action: Literal["PutBucketEncryption"]


class S3DeleteBucketCors(BucketEvent):
    action: Literal["DeleteBucketCors"]


class S3DeleteBucketEncryption(BucketEvent):
    action: Literal["DeleteBucketEncryption"]


class S3GetObjectLockConfiguration(BucketEvent):
    action: Literal["GetObjectLockConfiguration"]


class S3PutObjectLockConfiguration(BucketEvent):
    action: Literal["PutObjectLockConfiguration"]


class S3ListObjectsV2(BucketEvent):
    action: Literal["ListObjectsV2"]


class S3HeadObject(ObjectEvent):
    action: Literal["HeadObject"]


class S3ListObjectVersions(ObjectEvent):
    action: Literal["ListObjectVersions"]


class S3GetObjectAcl(ObjectEvent):
    action: Literal["GetObjectAcl"]


class S3PutObjectAcl(ObjectEvent):
    action: Literal["PutObjectAcl"]


class S3GetObjectRetention(ObjectEvent):
    action: Literal["GetObjectRetention"]


class S3PutObjectRetention(ObjectEvent):
    action: Literal["PutObjectRetention"]


class S3GetObjectLegalHold(ObjectEvent):
    action: Literal["GetObjectLegalHold"]


class S3PutObjectLegalHold(ObjectEvent):
    action: Literal["PutObjectLegalHold"]


class S3GetObject(TransferEvent):
    action: Literal["GetObject"]


class S3PutObject(UploadEvent):
    action: Literal["PutObject"]


class S3PostObject(UploadEvent):
    action: Literal["PostObject"]


class S3CopyObject(ObjectEvent):
    action: Literal["CopyObject"]
    version_id: Text | None = Field(default=None, description="Optional. The new object's version.")
    copy_source: S3CopySource = Field(description="The object copied from.")


class S3DeleteObject(ObjectEvent):
    action: Literal["DeleteObject"]
    version_id: Text | None = Field(default=None, description="Optional. The deleted version.")
    is_delete_marker: StrictBool | None = Field(
        default=None, description="Optional. Whether a delete marker was involved."
    )


class S3DeleteObjects(BucketEvent):
    action: Literal["DeleteObjects"]
    deleted_objects: list[S3DeletedObject] = Field(description="The objects deleted by the call.")


class S3CreateMultipartUpload(MultipartEvent):
    action: Literal["CreateMultipartUpload"]
    object_key: Text = Field(description="The object's key.")


class S3CompleteMultipartUpload(MultipartEvent):
    action: Literal["CompleteMultipartUpload"]
    version_id: Text | None = Field(default=None, description="Optional. The completed object's version.")


class S3AbortMultipartUpload(MultipartEvent):
    action: Literal["AbortMultipartUpload"]


class S3UploadPart(MultipartEvent):
    action: Literal["UploadPart"]
    bytes: Count = Field(description="Bytes uploaded in this part.")
    part_number: PartNumber


class S3UploadPartCopy(MultipartEvent):
    action: Literal["UploadPartCopy"]
    bytes: Count = Field(description="Bytes copied into this part.")
    part_number: PartNumber
    copy_source: S3CopySource = Field(description="The object copied from.")


class S3ListParts(MultipartEvent):
    action: Literal["ListParts"]


class S3ListMultipartUploads(BucketEvent):
    action: Literal["ListMultipartUploads"]


# The spec's `S3Event`.
S3Event = event_union(
    S3ListBuckets, S3DeleteBucket, S3HeadBucket, S3CreateBucket, S3GetBucketAcl, S3GetBucketCors,
    S3GetBucketEncryption, S3GetBucketLocation, S3GetBucketVersioning, S3PutBucketAcl, S3PutBucketCors,
    S3PutBucketEncryption, S3DeleteBucketCors, S3DeleteBucketEncryption, S3GetObjectLockConfiguration,
    S3PutObjectLockConfiguration, S3ListObjectsV2, S3HeadObject, S3ListObjectVersions, S3GetObjectAcl,
    S3PutObjectAcl, S3GetObjectRetention, S3PutObjectRetention, S3GetObjectLegalHold, S3PutObjectLegalHold,
    S3GetObject, S3PutObject, S3PostObject, S3CopyObject, S3DeleteObject, S3DeleteObjects,
    S3CreateMultipartUpload, S3CompleteMultipartUpload, S3AbortMultipartUpload, S3UploadPart, S3UploadPartCopy,
    S3ListParts, S3ListMultipartUploads,
)

