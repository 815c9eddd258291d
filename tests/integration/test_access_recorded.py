"""Least privilege, verified by running the code: every AWS call each route makes is declared for it.

Every sample request under events/<route>/ goes through a fresh pipeline of its route (an empty
shard-count cache, so first-write paths run too) against moto, with botocore's API call recorded.
Each call is mapped to (resource, IAM action) — the keys table's counter items told apart from key
records by their partition key — and must be in `infra.access.needs_of(route)`;
tests/infra/test_policies.py proves the template grants exactly that. And the declaration holds
nothing the code never calls: per kind (and write policy), every declared action is seen.
"""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import botocore.client
import pytest

from infra.access import AUTHORIZER_NEEDS, Resource, keeps_stream_records, merge, needs_of
from ingest import catalog
from ingest.spec import RouteKind
from ingest.pipeline import Pipeline
from ingest.settings import Settings
from local.context import LocalContext
from tests.conftest import EVENTS

Call = tuple[Resource, str]

# Declared actions the samples cannot reach, each with why it is still needed.
UNREACHED_BY_SAMPLES: set[Call] = {
    # The shard record's conditional put answers with the stored record (ALL_OLD); GetItem is the
    # fallback for an endpoint that does not return it (ingest.store.Store.stream_shards).
    (Resource.EVENTS_TABLE, "dynamodb:GetItem"),
    # A sharded key's counters are read together only once its shard is over its share within a
    # minute (ingest.ratelimit; tests/integration/test_rate_limits.py drives it).
    (Resource.RATE_COUNTERS, "dynamodb:BatchGetItem"),
}


def resource_of(settings: Settings, table: str, keys: list[dict], index: str | None = None) -> Resource:
    if table == settings.events_table:
        return Resource.EVENTS_INDEXES if index else Resource.EVENTS_TABLE
    assert table == settings.keys_table, f"a call on an unknown table {table!r}"
    pks = [key["pk"]["S"] for key in keys]
    assert pks, "a keys-table call without a key"
    if all(pk.startswith("rate#") for pk in pks):
        return Resource.RATE_COUNTERS
    assert not any(pk.startswith("rate#") for pk in pks), "one call on counters and key records"
    return Resource.KEYS_TABLE


def calls_of(settings: Settings, operation: str, params: dict) -> list[Call]:
    """The (resource, action) pairs one botocore API call needs."""
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        assert params["Bucket"] == settings.rejects_bucket
        return [(Resource.REJECTS_OBJECTS, f"s3:{operation}")]
    if operation in ("GetSecretValue", "DescribeSecret"):
        assert params["SecretId"] == settings.cursor_secret_id
        return [(Resource.CURSOR_SECRET, f"secretsmanager:{operation}")]
    action = f"dynamodb:{operation}"
    if operation in ("BatchGetItem", "BatchWriteItem"):
        found = []
        for table, request in params["RequestItems"].items():
            if operation == "BatchGetItem":
                keys = request["Keys"]
            else:
                keys = [next(iter(entry.values()))["Key"] if "DeleteRequest" in entry else entry["PutRequest"]["Item"]
                        for entry in request]
            found.append((resource_of(settings, table, keys), action))
        return found
    if operation == "Query":
        return [(resource_of(settings, params["TableName"], [{"pk": {"S": "query"}}], params.get("IndexName")), action)]
    key = params.get("Key") or params.get("Item")
    return [(resource_of(settings, params["TableName"], [key]), action)]


@contextmanager
def recording(settings: Settings):
    seen: list[Call] = []
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        seen.extend(calls_of(settings, operation_name, api_params))
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record
    try:
        yield seen
    finally:
        botocore.client.BaseClient._make_api_call = original


def samples(endpoint_name: str) -> list[Path]:
    return sorted((EVENTS / endpoint_name).glob("*.json"))


# Requests the samples lack, as (sample, path parameters to put in): the ops read of a problem by
# its correlation id (a Query of the table by dedup-key prefix).
VARIANTS = {"read_ops_event": [("not_found.json", {"eventId": "0123456789abcdef"})]}


def requests_of(endpoint_name: str) -> list[dict]:
    found = [json.loads(sample.read_text()) for sample in samples(endpoint_name)]
    for name, parameters in VARIANTS.get(endpoint_name, []):
        event = json.loads((EVENTS / endpoint_name / name).read_text())
        for parameter, value in parameters.items():
            old = event["pathParameters"][parameter]
            event["pathParameters"][parameter] = value
            event["path"] = event["path"].replace(old, value)
        found.append(event)
    return found


def declared_calls(endpoint) -> set[Call]:
    return {(resource, action) for resource, actions in needs_of(endpoint).items() for action in actions}


def group_of(endpoint) -> str:
    """Routes whose declared access is the same: the kind, and for ingest the write policy."""
    streams = ":stream-records" if keeps_stream_records(endpoint) else ""
    streams += ":keyless" if endpoint.keyless else ""
    if endpoint.kind is RouteKind.INGEST:
        return f"{endpoint.kind.value}:{endpoint.write_policy.value}{streams}"
    if endpoint.kind is RouteKind.DELETE:
        return f"{endpoint.kind.value}{streams}"
    return endpoint.kind.value


@pytest.fixture(scope="module")
def recorded(settings) -> dict[str, set[Call]]:
    """Route name → every (resource, action) its samples called. Catalog order: a family's ingest
    samples run before its read and delete samples, which look for what they stored."""
    found: dict[str, set[Call]] = {}
    for endpoint in catalog.ENDPOINTS:
        pipeline = Pipeline(endpoint, settings)  # its own Store: nothing cached from other tests
        with recording(settings) as seen:
            # An ingest request twice: the retry's events are duplicates (dedup paths run too).
            repeat = 2 if endpoint.kind is RouteKind.INGEST else 1
            for attempt, event in enumerate(requests_of(endpoint.name) * repeat):
                request_id = f"{event['requestContext']['requestId']}-access-{attempt}"
                event["requestContext"]["requestId"] = request_id
                answer = pipeline.handle(event, LocalContext(endpoint.name, request_id))
                assert answer["statusCode"] < 500, (event["path"], answer)
        found[endpoint.name] = set(seen)
    return found


@pytest.mark.parametrize("endpoint", catalog.ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_every_call_a_route_makes_is_declared_for_it(recorded, endpoint) -> None:
    assert samples(endpoint.name), f"no sample requests under events/{endpoint.name}/"
    assert recorded[endpoint.name] - declared_calls(endpoint) == set()


def test_every_declared_action_is_called_by_some_route_of_its_kind(recorded) -> None:
    declared: dict[str, set[Call]] = defaultdict(set)
    called: dict[str, set[Call]] = defaultdict(set)
    for endpoint in catalog.ENDPOINTS:
        group = group_of(endpoint)
        declared[group] |= declared_calls(endpoint)
        called[group] |= recorded[endpoint.name]
    for group in declared:
        assert declared[group] - called[group] - UNREACHED_BY_SAMPLES == set(), group


def test_the_authorizer_reads_key_records_and_nothing_else(settings) -> None:
    from ingest.authorizer import EdgeAuthorizer

    authorizer = EdgeAuthorizer(settings)
    arn = "arn:aws:execute-api:us-east-1:000000000000:api/local/POST/x"
    effects = set()
    with recording(settings) as seen:
        for endpoint in catalog.ENDPOINTS:
            if endpoint.public:
                continue
            for event in requests_of(endpoint.name):
                answer = authorizer.authorize({**event, "methodArn": arn, "resource": endpoint.path})
                effects.add(answer["policyDocument"]["Statement"][0]["Effect"])
    assert effects == {"Allow", "Deny"}  # the samples hold good keys and bad ones
    declared = {(resource, action) for resource, actions in merge(AUTHORIZER_NEEDS).items() for action in actions}
    assert set(seen) == declared


def test_documents_make_no_aws_call_and_rejects_are_single_puts(recorded) -> None:
    # The service's documents (a keyless route of a keyed family is public too, but stores reports).
    public = [endpoint for endpoint in catalog.ENDPOINTS if endpoint.public and not endpoint.keyless]
    assert public and all(recorded[endpoint.name] == set() for endpoint in public)
    every_call = set().union(*recorded.values())
    assert (Resource.REJECTS_OBJECTS, "s3:PutObject") in every_call  # the samples do keep rejects
    assert not {action for _, action in every_call if "Multipart" in action or "UploadPart" in action}
