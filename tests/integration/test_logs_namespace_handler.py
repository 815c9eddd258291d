"""POST /v1/<dataset>/<namespace>: the real handler + pipeline against moto, read back from storage.

The namespace in the path is stored as `x-namespace` would be, and wins over the header when both
name one (docs/logs.md); dataset, limits, dedup, scopes, dialect and 405s are those of /v1/<dataset>.
"""

from __future__ import annotations

import json
import uuid

import pytest

from cli.keys import KeyAdmin
from tests.conftest import EVENTS, load_event, partition_items, payload, reject_keys

ENDPOINT = "logs_namespace_events"
PLAIN = "logs_events"


def items(store, tenant: str, dataset: str) -> list[dict]:
    return partition_items(store.dynamodb, f"{tenant}#logs#{dataset}", store.settings.events_table)


@pytest.fixture
def send(invoke, http_event, new_key):
    """POST to /v1/<fresh dataset>/<namespace> as a fresh tenant; returns (status, headers, body)."""
    key, tenant = new_key()

    def post(body: bytes, namespace: str | None = "checkout", headers: dict | None = None, method: str = "POST",
             api_key: str | None = None):
        headers = {"x-api-key": api_key or key, "Content-Type": "application/json", **(headers or {})}
        endpoint = ENDPOINT if namespace is not None else PLAIN
        path = f"/v1/{post.dataset}" + (f"/{namespace}" if namespace is not None else "")
        event = http_event(endpoint, body, headers, path)
        event["httpMethod"] = method
        return invoke(endpoint, event)

    post.tenant, post.key = tenant, key
    post.dataset = f"ds-{uuid.uuid4().hex[:10]}"
    return post


def test_the_path_namespace_is_stored_with_each_event_in_the_dataset(send, store):
    status, _, body = send(b'[{"message": "a"}, {"message": "b"}]', headers={"x-service": "api"})
    assert (status, body) == (202, {"message": "Request Accepted"})
    stored = items(store, send.tenant, send.dataset)
    assert sorted(payload(item)["message"] for item in stored) == ["a", "b"]
    assert {(item["namespace"]["S"], item["service"]["S"]) for item in stored} == {("checkout", "api")}


@pytest.mark.parametrize(("path_namespace", "header", "stored"), [
    ("checkout", "from-header", "checkout"),  # both: the path wins
    ("checkout", "undefined", "checkout"),  # the edge logger's unset header
    ("undefined", "from-header", "from-header"),  # a URL built from an unset variable: the header's
    ("null", None, None),  # neither names one: no namespace
])
def test_the_path_wins_over_x_namespace_and_an_unset_one_falls_back(send, store, path_namespace, header, stored):
    headers = {"x-namespace": header} if header is not None else {}
    assert send(b'[{"message": "x"}]', path_namespace, headers)[0] == 202
    [item] = items(store, send.tenant, send.dataset)
    assert item.get("namespace", {}).get("S") == stored


def test_a_url_namespace_arrives_decoded(send, store, invoke, http_event):
    namespace = "https://api.domain.com/resource/{id}"
    status, _, _ = invoke(ENDPOINT, load_event(ENDPOINT, "valid_encoded_namespace"))
    assert status == 202
    # The sample's own tenant and dataset: the namespace is the decoded URL, as the docs' example names it.
    from local.emulator import SAMPLE_TENANT

    stored = [item for item in items(store, SAMPLE_TENANT, "logs-ns") if item.get("namespace", {}).get("S") == namespace]
    assert stored


def test_the_same_event_through_both_forms_is_one_event_of_the_dataset(send, store):
    body = b'[{"id": "same-everywhere", "message": "x"}]'
    assert send(body, None, {"x-namespace": "checkout"})[0] == 202
    assert send(body)[0] == 202  # a retry through the other form: dedup is per dataset, not per namespace
    assert len(items(store, send.tenant, send.dataset)) == 1


def test_partial_acceptance_names_the_bad_events_and_keeps_them_raw(send, store):
    status, headers, body = send(b'[{"message": "good"}, "bad", {"message": "good too"}]')
    assert status == 400 and body["message"] == "Bad Request"
    assert [entry["index"] for entry in body["invalid"]] == [1]
    assert len(items(store, send.tenant, send.dataset)) == 2
    kept = reject_keys(store.s3, store.settings.rejects_bucket, f"rejects/tenant={send.tenant}/",
                       headers["X-Request-Id"])
    assert kept


@pytest.mark.parametrize(("namespace", "reason"), [
    ("n" * 257, "257 bytes; the limit is 256"),
    ("a%0Ab", "control characters"),  # a newline, as the URL encodes it
])
def test_a_bad_path_namespace_is_a_400_with_a_reason_and_stores_nothing(send, store, namespace, reason):
    status, headers, body = send(b'[{"message": "x"}]', namespace)
    assert status == 400 and body["message"] == "Bad Request" and reason in body["reason"]
    assert items(store, send.tenant, send.dataset) == []
    assert reject_keys(store.s3, store.settings.rejects_bucket, f"rejects/tenant={send.tenant}/",
                       headers["X-Request-Id"])  # the whole body, kept raw


def test_the_same_limits_as_the_dataset_route(send):
    status, _, body = send(b"[" + b" " * (4 * 1024 * 1024) + b"]")
    assert status == 413 and body["message"] == "Payload Too Large"
    status, _, body = send(json.dumps([{}] * 5_001).encode())
    assert status == 400 and "5000" in body["reason"].replace(",", "")


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_before_authentication(invoke, http_event, method):
    event = http_event(ENDPOINT, b"", {}, "/v1/logs/checkout")
    event["httpMethod"] = method
    status, headers, body = invoke(ENDPOINT, event)
    assert (status, body, headers["Allow"]) == (405, {"message": "Method Not Allowed"}, "POST")


def test_a_key_scoped_to_datasets_is_held_to_them_on_the_namespace_form(send, store):
    scoped, _ = KeyAdmin(store).create(send.tenant, [f"logs:{send.dataset}"])
    assert send(b'[{"message": "in scope"}]', api_key=scoped)[0] == 202
    send.dataset = f"other-{uuid.uuid4().hex[:8]}"
    status, _, body = send(b'[{"message": "out of scope"}]', api_key=scoped)
    assert status == 403 and send.dataset in body["reason"]
    assert items(store, send.tenant, send.dataset) == []


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "ABCDEFGH." + "B" * 48}])
def test_missing_or_wrong_keys_are_exactly_unauthorised(invoke, http_event, headers):
    status, _, body = invoke(ENDPOINT, http_event(ENDPOINT, b'[{"m": 1}]', headers, "/v1/logs/checkout"))
    assert (status, body) == (401, {"message": "Unauthorised"})


def expected_status(sample: str) -> int:
    prefix = sample.split("_")[0]
    return {"valid": 202, "partial": 400, "invalid": 400, "too": 413, "missing": 401, "wrong": 401, "method": 405}[prefix]


@pytest.mark.parametrize("sample", sorted(path.stem for path in (EVENTS / ENDPOINT).glob("*.json")))
def test_every_sample_event_gets_its_documented_answer(invoke, sample):
    status, headers, body = invoke(ENDPOINT, load_event(ENDPOINT, sample))
    assert status == expected_status(sample), body
    assert headers["X-Request-Id"]
    if status == 202:
        assert body == {"message": "Request Accepted"}
    elif status == 400:
        assert body["message"] == "Bad Request" and (body.get("reason") or body.get("invalid"))
