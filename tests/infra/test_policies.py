"""Least privilege per endpoint, read from the synthesized template: each function's policy is
exactly what its route kind declares (infra.access), no more; tests/integration/test_access_recorded.py
proves the declaration covers every call the code makes."""

from __future__ import annotations

import pytest
from ingest.catalog import ENDPOINTS, Endpoint
from ingest.spec import RouteKind

from infra import access
from infra.access import Resource, keeps_stream_records, needs_of
from infra.storage import RATE_COUNTERS_ONLY
from tests.infra.infra_synth import Synthesized
from tests.infra.test_infra_stack import as_list, canonical, endpoint_role_grants, iam_statements, logical_id_by_path

pytestmark = pytest.mark.infra

PLATFORM_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def resource_keys(template_json: dict) -> dict[Resource, tuple[str, str]]:
    """Each declared resource as it appears in a statement: (resource intrinsic, condition)."""
    def arn(path: str) -> dict:
        return {"Fn::GetAtt": [logical_id_by_path(template_json, path), "Arn"]}

    events, keys, bucket = arn("Storage/EventsTable/Resource"), arn("Storage/KeysTable/Resource"), arn(
        "Storage/RejectsBucket/Resource")
    none = canonical(None)
    return {
        Resource.EVENTS_TABLE: (canonical(events), none),
        Resource.EVENTS_INDEXES: (canonical({"Fn::Join": ["", [events, "/index/*"]]}), none),
        Resource.KEYS_TABLE: (canonical(keys), none),
        Resource.RATE_COUNTERS: (canonical(keys), canonical(RATE_COUNTERS_ONLY)),
        Resource.REJECTS_OBJECTS: (canonical({"Fn::Join": ["", [bucket, "/*"]]}), none),
        Resource.CURSOR_SECRET: (canonical({"Ref": logical_id_by_path(template_json, "Storage/CursorSecret/Resource")}),
                                 none),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_each_function_holds_exactly_its_route_kinds_grants(synthesized: Synthesized, endpoint: Endpoint) -> None:
    template_json = synthesized.template_json
    keys = resource_keys(template_json)
    grants = endpoint_role_grants(template_json, endpoint)
    for resource, actions in needs_of(endpoint).items():
        assert grants.pop(keys[resource]) == set(actions), resource
    # What is left: the function's own log group and X-Ray, nothing of the storage.
    assert set().union(*grants.values()) <= PLATFORM_ACTIONS
    assert not {key for key in grants if key in keys.values()}


def test_policies_differ_by_route_kind_as_the_issue_asks(dev: Synthesized) -> None:
    by_kind = {endpoint.kind: needs_of(endpoint) for endpoint in ENDPOINTS}
    assert by_kind[RouteKind.OPENAPI] == {} and by_kind[RouteKind.DOCS] == {}  # no AWS access at all
    assert set(by_kind[RouteKind.PING]) == {Resource.KEYS_TABLE, Resource.RATE_COUNTERS}
    # Only ingest routes can reject, so only they may put (and only put) into the rejects bucket; an
    # ingest route that never keeps a raw body (its body may hold a key in clear) may not even that.
    for endpoint in ENDPOINTS:
        rejects = needs_of(endpoint).get(Resource.REJECTS_OBJECTS)
        keeps = endpoint.kind is RouteKind.INGEST and endpoint.impl.keeps_raw_rejects
        assert (rejects == {"s3:PutObject"}) if keeps else rejects is None
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem"}
    assert not writes & by_kind[RouteKind.READ][Resource.EVENTS_TABLE]
    # Delete routes write nothing but deletes (a family with stream records also touches the stream's
    # record, infra.access.STREAM_RECORD_NEEDS).
    for endpoint in ENDPOINTS:
        if endpoint.kind is RouteKind.DELETE:
            allowed = {"dynamodb:UpdateItem"} if keeps_stream_records(endpoint) else set()
            assert not ({"dynamodb:PutItem", "dynamodb:UpdateItem"} - allowed) & needs_of(endpoint)[Resource.EVENTS_TABLE]
    policies = {canonical(sorted((str(r), sorted(a)) for r, a in needs_of(e).items())) for e in ENDPOINTS}
    assert len(policies) >= 5


def test_no_abort_tagging_or_retention_action_anywhere(synthesized: Synthesized) -> None:
    statements = iam_statements(synthesized.template_json)
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert not {action for action in actions if action.startswith("s3:") and action != "s3:PutObject"} - {
        # The bucket's auto-delete custom resource (destroy removal policy), not a function.
        "s3:DeleteObject*", "s3:GetBucket*", "s3:List*", "s3:PutBucketPolicy"}


def test_an_undeclared_route_kind_fails_with_the_fix(monkeypatch) -> None:
    endpoint = next(endpoint for endpoint in ENDPOINTS if endpoint.kind is RouteKind.PING)
    monkeypatch.delitem(access.NEEDS, RouteKind.PING)
    with pytest.raises(ValueError, match=r"RouteKind.PING declares no AWS access; add it to infra/access.py NEEDS"):
        needs_of(endpoint)
