"""Write the usage-events samples under events/usage_*/ (re-run after edits).

Names say what the service answers, which tests/integration/test_usage_samples.py checks file by file:
`valid_*` 200 with nothing rejected, `partial_*` 200 from a batch route with some events rejected,
`invalid_*` 400, `unauthorized_*` 401. Every action family of S3 and EC2 and every rejection reason
has a sample. Usage: python -m events.make_usage; then e.g.
`python -m local.invoke usage_s3 events/usage_s3/valid_put_object.json`.
"""

from __future__ import annotations

import base64
import gzip
import json

from events.make_events import write
from local.emulator import SAMPLE_KEY

TIME = "2024-03-01T12:00:00Z"
AUTH = {"X-API-Key": SAMPLE_KEY, "Content-Type": "application/json"}
NO_BODY_AUTH = {"X-API-Key": SAMPLE_KEY}
WRONG_KEY = "NOTAKEY1." + "A" * 48
# The SDK's own format check allows a key without the 8-character prefix: such a key is never one of
# ours (ours always have it), so every keyed route answers it 401, the gateway's authorizer too.
KEY_WITHOUT_PREFIX = base64.b64encode(bytes(range(36))).decode("ascii")
# How the SDK names itself (vendor-surfaces.md): no Content-Type on any of its requests.
SDK_HEADERS = {"X-API-Key": SAMPLE_KEY, "User-Agent": "Java-http-client/17.0.2 v:0.4.0 id:5f0c6a1e-2b7d-4c1a"}
SDK_NO_KEY = {"User-Agent": SDK_HEADERS["User-Agent"]}


def js(document: object) -> bytes:
    return json.dumps(document, indent=2).encode()


def s3(action: str, **fields) -> dict:
    return {"action": action, "timestamp": TIME, "provider": "aws", **fields}


def ec2(action: str, **fields) -> dict:
    return {"action": action, "timestamp": TIME, "provider": "aws", "instanceId": "i-0abcd1234efgh5678",
            "region": "us-east-1", **fields}


# One event per S3 action family.
S3_FAMILIES = {
    "list_buckets": s3("ListBuckets", customerId="cust-1"),
    "bucket_delete": s3("DeleteBucket", bucket="old-bucket", force=True),
    "bucket_config": s3("PutBucketEncryption", bucket="reports"),
    "object_metadata": s3("HeadObject", bucket="reports", objectKey="2024/03/summary.pdf"),
    "object_lock": s3("PutObjectLegalHold", bucket="reports", objectKey="2024/03/summary.pdf"),
    "get_object": s3("GetObject", bucket="reports", objectKey="2024/03/summary.pdf", bytes=52_341, versionId="v3",
                     customerId="cust-1", featureId="report-download", clientType="web", clientId="app-7"),
    "put_object": s3("PutObject", bucket="uploads", objectKey="avatars/42.png", bytes=18_220, objectCategory="avatar",
                     fileType="image/png", isSynthetic=False, customerId="cust-2"),
    "copy_object": s3("CopyObject", bucket="archive", objectKey="2024/03/summary.pdf",
                      copySource={"bucket": "reports", "objectKey": "2024/03/summary.pdf", "versionId": "v3"}),
    "delete_object": s3("DeleteObject", bucket="uploads", objectKey="avatars/41.png", isDeleteMarker=True),
    "delete_objects": s3("DeleteObjects", bucket="uploads",
                         deletedObjects=[{"objectKey": "tmp/a"}, {"objectKey": "tmp/b", "versionId": "v1"}]),
    "multipart_create": s3("CreateMultipartUpload", bucket="videos", objectKey="talk.mp4", uploadId="upl-9"),
    "multipart_upload_part": s3("UploadPart", bucket="videos", uploadId="upl-9", bytes=8_388_608, partNumber=1),
    "multipart_upload_part_copy": s3("UploadPartCopy", bucket="videos", uploadId="upl-9", bytes=8_388_608,
                                     partNumber=2, copySource={"bucket": "raw", "objectKey": "talk.mp4"}),
    "multipart_complete": s3("CompleteMultipartUpload", bucket="videos", uploadId="upl-9", versionId="v1"),
    "multipart_list": s3("ListParts", bucket="videos", uploadId="upl-9"),
}

# One event per S3 rejection reason (each also used in the mixed batch and the invalid singles).
S3_REJECTS = {
    "missing_required_field": s3("GetObject", objectKey="a.txt", bytes=1),  # no bucket
    "wrong_type": s3("GetObject", bucket="b", objectKey="a.txt", bytes="1024"),
    "negative_bytes": s3("PutObject", bucket="b", objectKey="a.txt", bytes=-1),
    "part_number_zero": s3("UploadPart", bucket="b", uploadId="u", bytes=5, partNumber=0),
    "bad_timestamp": s3("HeadBucket", bucket="b", timestamp="01/03/2024 12:00"),
    "timestamp_not_a_string": s3("HeadBucket", bucket="b", timestamp=1709294400),
    "missing_timestamp": {"action": "HeadBucket", "provider": "aws", "bucket": "b"},
    "unknown_action": s3("RestoreObject", bucket="b", objectKey="a.txt"),
    "missing_action": {"timestamp": TIME, "provider": "aws", "bucket": "b"},
    "unknown_provider": s3("HeadBucket", bucket="b", provider="gcs"),
    "null_required_field": s3("HeadBucket", bucket=None),
    "copy_source_missing_key": s3("CopyObject", bucket="b", objectKey="a", copySource={"bucket": "src"}),
    "deleted_object_missing_key": s3("DeleteObjects", bucket="b", deletedObjects=[{"versionId": "v1"}]),
}


def s3_single_samples() -> dict[str, tuple[bytes, dict]]:
    samples = {f"valid_{name}": (js(event), AUTH) for name, event in S3_FAMILIES.items()}
    samples |= {
        "valid_timestamp_offset": (js(s3("HeadBucket", bucket="b", timestamp="2024-03-01T12:00:00+08:00")), AUTH),
        "valid_timestamp_without_zone": (js(s3("HeadBucket", bucket="b", timestamp="2024-03-01T12:00:00")), AUTH),
        "valid_unknown_field_dropped": (js(s3("HeadBucket", bucket="b", unknown_foo="bar", requestLatencyMs=12)), AUTH),
        "valid_explicit_nulls": (
            js(s3("GetObject", bucket="b", objectKey="a", bytes=10, versionId=None, customerId=None, featureId=None,
                  clientType=None, clientId=None)),
            AUTH,
        ),
        "valid_header_lowercase": (js(S3_FAMILIES["get_object"]), {"x-api-key": SAMPLE_KEY}),
        "valid_gzip": (gzip.compress(js(S3_FAMILIES["put_object"]), mtime=0), {**AUTH, "Content-Encoding": "gzip"}),
    }
    samples |= {f"invalid_{name}": (js(event), AUTH) for name, event in S3_REJECTS.items()}
    samples |= {
        "invalid_array_body": (js([S3_FAMILIES["list_buckets"]]), AUTH),
        "invalid_empty_body": (b"", AUTH),
        "invalid_malformed_json": (b'{"action": "ListBuckets", "timestamp": "2024-03-01T12:00:00Z",}', AUTH),
        "unauthorized_missing_key": (js(S3_FAMILIES["list_buckets"]), {"Content-Type": "application/json"}),
        "unauthorized_wrong_key": (js(S3_FAMILIES["list_buckets"]), {"X-API-Key": WRONG_KEY}),
        "unauthorized_malformed_key": (js(S3_FAMILIES["list_buckets"]), {"X-API-Key": "not-a-key"}),
        "unauthorized_key_without_prefix": (js(S3_FAMILIES["list_buckets"]), {"X-API-Key": KEY_WITHOUT_PREFIX}),
    }
    return samples


def s3_batch_samples() -> dict[str, tuple[bytes, dict]]:
    valid = list(S3_FAMILIES.values())
    rejects = list(S3_REJECTS.values())
    return {
        "valid_every_action_family": (js(valid), AUTH),
        "valid_retried_event_in_batch": (js([S3_FAMILIES["get_object"], S3_FAMILIES["get_object"]]), AUTH),
        "partial_3_valid_2_invalid": (
            js([valid[5], S3_REJECTS["missing_required_field"], valid[6], S3_REJECTS["bad_timestamp"], valid[7]]), AUTH
        ),
        "partial_every_rejection_reason": (js([*rejects, "not an event", 42, None]), AUTH),
        "invalid_not_an_array": (js(S3_FAMILIES["list_buckets"]), AUTH),
        "invalid_empty_array": (b"[]", AUTH),
        "invalid_too_many_events": (json.dumps([S3_FAMILIES["list_buckets"]] * 1_001).encode(), AUTH),
        "invalid_malformed_json": (b"[{]", AUTH),
        "unauthorized_missing_key": (js(valid), {"Content-Type": "application/json"}),
        "unauthorized_key_without_prefix": (js(valid), {**AUTH, "X-API-Key": KEY_WITHOUT_PREFIX}),
    }


EC2_EVENTS = {
    "instance_started": ec2("InstanceStarted", instanceType="m7g.large", availabilityZone="us-east-1a", vcpus=2,
                            memoryMib=8192, purchaseOption="on-demand", platform="linux", customerId="cust-1"),
    "instance_usage": ec2("InstanceUsage", instanceType="m7g.large", vcpus=2, memoryMib=8192, durationSeconds=3600,
                          purchaseOption="spot", customerId="cust-1", featureId="batch-jobs"),
    "instance_stopped": ec2("InstanceStopped", instanceType="m7g.large", terminated=True, customerId="cust-1"),
}

EC2_REJECTS = {
    "usage_missing_vcpus": ec2("InstanceUsage", instanceType="m7g.large", memoryMib=8192, durationSeconds=60),
    "usage_zero_duration": ec2("InstanceUsage", instanceType="m7g.large", vcpus=2, memoryMib=8192, durationSeconds=0),
    "started_missing_instance_type": ec2("InstanceStarted"),
    "unknown_action": ec2("InstanceRebooted"),
    "unknown_provider": ec2("InstanceStopped", provider="azure"),
    "bad_timestamp": ec2("InstanceStopped", timestamp="2024-13-01T00:00:00Z"),
}


def ec2_single_samples() -> dict[str, tuple[bytes, dict]]:
    samples = {f"valid_{name}": (js(event), AUTH) for name, event in EC2_EVENTS.items()}
    samples["valid_timestamp_offset"] = (
        js({**EC2_EVENTS["instance_usage"], "timestamp": "2024-03-01T12:00:00+08:00"}), AUTH
    )
    samples |= {f"invalid_{name}": (js(event), AUTH) for name, event in EC2_REJECTS.items()}
    samples["invalid_array_body"] = (js(list(EC2_EVENTS.values())), AUTH)
    samples["unauthorized_missing_key"] = (js(EC2_EVENTS["instance_started"]), {"Content-Type": "application/json"})
    return samples


def ec2_batch_samples() -> dict[str, tuple[bytes, dict]]:
    valid = list(EC2_EVENTS.values())
    return {
        "valid_instance_lifecycle": (js(valid), AUTH),
        "partial_3_valid_2_invalid": (
            js([valid[0], EC2_REJECTS["usage_missing_vcpus"], valid[1], EC2_REJECTS["unknown_action"], valid[2]]), AUTH
        ),
        "invalid_not_an_array": (js(valid[0]), AUTH),
        "invalid_empty_array": (b"[]", AUTH),
        "unauthorized_missing_key": (js(valid), {"Content-Type": "application/json"}),
        "unauthorized_key_without_prefix": (js(valid), {**AUTH, "X-API-Key": KEY_WITHOUT_PREFIX}),
    }


def no_body_samples() -> dict[str, tuple[bytes, dict]]:
    return {
        "valid": (b"", NO_BODY_AUTH),
        "valid_header_uppercase": (b"", {"X-API-KEY": SAMPLE_KEY}),
        "unauthorized_missing_key": (b"", {}),
        "unauthorized_wrong_key": (b"", {"X-API-Key": WRONG_KEY}),
        "unauthorized_key_without_prefix": (b"", {"X-API-Key": KEY_WITHOUT_PREFIX}),
    }


# Illustrative reports: the SDK's classes decide the real fields, and any JSON object is accepted.
TELEMETRY_REPORTS = {
    "usage_telemetry_lifecycle": {"type": "STARTED", "instanceId": "5f0c6a1e-2b7d-4c1a", "sdkVersion": "0.4.0",
                                  "javaVersion": "17.0.2", "timestamp": TIME},
    "usage_telemetry_extraction_issues": {"instanceId": "5f0c6a1e-2b7d-4c1a", "issues": [
        {"type": "MISSING_CUSTOMER_ID", "count": 3, "exampleAction": "GetObject"}]},
    "usage_telemetry_metrics_incremental": {"instanceId": "5f0c6a1e-2b7d-4c1a", "eventsSent": 1200,
                                            "eventsDropped": 0, "batchesSent": 3},
}


def telemetry_samples(endpoint: str) -> dict[str, tuple[bytes, dict]]:
    report = js(TELEMETRY_REPORTS[endpoint])
    return {
        "valid_sdk_report_no_content_type": (report, SDK_HEADERS),
        "valid_with_content_type": (report, {**SDK_HEADERS, "Content-Type": "application/json"}),
        "invalid_not_an_object": (b'["STARTED"]', SDK_HEADERS),
        "invalid_malformed_json": (b'{"type": "STARTED",', SDK_HEADERS),
        "too_large_over_64_kib": (js({"padding": "x" * 64 * 1024}), SDK_HEADERS),
        "unauthorized_missing_key": (report, SDK_NO_KEY),
        "unauthorized_key_without_prefix": (report, {**SDK_HEADERS, "X-API-Key": KEY_WITHOUT_PREFIX}),
    }


def invalid_key_report_samples() -> dict[str, tuple[bytes, dict]]:
    return {
        # Sent with no X-API-Key at all, the refused key in clear in the body.
        "valid_refused_key_in_clear": (js({"apiKey": WRONG_KEY, "instanceId": "5f0c6a1e-2b7d-4c1a"}), SDK_NO_KEY),
        "valid_key_without_prefix": (js({"apiKey": KEY_WITHOUT_PREFIX}), SDK_NO_KEY),
        "valid_with_a_key_header_too": (js({"apiKey": WRONG_KEY}), {**SDK_NO_KEY, "X-API-Key": WRONG_KEY}),
        "invalid_not_an_object": (js(WRONG_KEY), SDK_NO_KEY),
        "too_large_over_8_kib": (js({"apiKey": WRONG_KEY, "padding": "x" * 8 * 1024}), SDK_NO_KEY),
    }


def main() -> None:
    write("usage_s3", s3_single_samples())
    write("usage_s3_batch", s3_batch_samples())
    write("usage_ec2", ec2_single_samples())
    write("usage_ec2_batch", ec2_batch_samples())
    for endpoint in ("usage_s3_batch_size", "usage_ec2_batch_size", "usage_ping"):
        write(endpoint, no_body_samples())
    for endpoint in TELEMETRY_REPORTS:
        write(endpoint, telemetry_samples(endpoint))
    write("usage_telemetry_invalid_api_key", invalid_key_report_samples())


if __name__ == "__main__":
    main()
