"""POST /v1/<dataset>/<namespace> over real HTTP against `make serve`'s server: the docs' own curl, sent
to the namespace form, and the routing the deployed API has around it."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.e2e.test_logs_http import raw_request, seed_curl_command, stored

pytestmark = pytest.mark.e2e


def test_the_docs_curl_to_the_namespace_form_stores_the_path_namespace_over_the_header(live_server, live_key,
                                                                                       aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    dataset = f"ns-{uuid.uuid4().hex[:8]}"
    command = seed_curl_command()
    assert command.count("https://events.baselime.io/v1/logs'") == 1
    # The docs' example, sent to /v1/<dataset>/<namespace>, with an x-namespace header that the path overrides.
    command = (command.replace("https://events.baselime.io/v1/logs'", f"{base}/v1/{dataset}/checkout'")
               .replace("$BASELIME_API_KEY", live_key)
               .replace("-H 'x-service: my-service'", "-H 'x-service: my-service' -H 'x-namespace: from-header'"))
    result = subprocess.run(
        ["bash", "-c", command + " --silent --show-error --write-out '\\n%{http_code}'"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert (status, json.loads(body)) == ("202", {"message": "Request Accepted"})
    items = stored(dynamodb, dataset)
    assert len(items) == 2
    assert {(item["namespace"]["S"], item["service"]["S"]) for item in items} == {("checkout", "my-service")}


def test_an_encoded_namespace_arrives_decoded(live_server, live_key, aws_clients):
    base, _ = live_server
    dynamodb, _ = aws_clients
    dataset = f"ns-{uuid.uuid4().hex[:8]}"
    status, headers, body = raw_request(base, "POST", f"/v1/{dataset}/https%3A%2F%2Fapi.domain.com%2Fresource",
                                        b'[{"message": "x"}]', {"x-api-key": live_key})
    assert (status, json.loads(body)) == (202, {"message": "Request Accepted"})
    assert headers["X-Request-Id"]
    [item] = stored(dynamodb, dataset)
    assert item["namespace"]["S"] == "https://api.domain.com/resource"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_like_the_dataset_route(live_server, method):
    base, _ = live_server
    status, headers, body = raw_request(base, method, "/v1/logs/checkout")
    assert (status, json.loads(body), headers["Allow"]) == (405, {"message": "Method Not Allowed"}, "POST")


def test_the_namespace_events_is_the_read_routes_resource_and_a_deeper_path_is_no_route(live_server, live_key):
    base, _ = live_server
    for path in ("/v1/logs/events", "/v1/logs/a/b"):
        status, _, body = raw_request(base, "POST", path, b'[{"m": 1}]', {"x-api-key": live_key})
        # The logs API's answer for a resource without the method (its MISSING_AUTHENTICATION_TOKEN
        # gateway response, in the family's dialect: infra.edge), as deployed.
        assert status == 404 and json.loads(body)["message"] == "Not Found", (path, body)


def test_unauthorised_and_too_large_as_on_the_dataset_route(live_server, live_key):
    base, _ = live_server
    status, _, body = raw_request(base, "POST", "/v1/logs/checkout", b'[{"m": 1}]', {"x-api-key": "nope"})
    assert (status, json.loads(body)) == (401, {"message": "Unauthorised"})
    big = b"[" + b" " * (4 * 1024 * 1024) + b"]"
    status, _, body = raw_request(base, "POST", "/v1/logs/checkout", big, {"x-api-key": live_key})
    assert status == 413 and json.loads(body)["message"] == "Payload Too Large"


def test_the_real_edge_logger_pointed_at_a_namespace_path_stores_that_namespace(live_server, live_key, aws_clients):
    """@baselime/edge-logger posts to `${baselimeUrl}/${dataset}`: with `baselimeUrl` ending in the
    dataset, its `dataset` becomes the path's namespace. Its own x-namespace header ("edge-worker",
    and "undefined" from the bare logger) loses to the path, as docs/logs.md decides."""
    from tests.e2e.test_logs_http import run_edge_logger

    base, _ = live_server
    dynamodb, _ = aws_clients
    dataset, request_id = f"edge-ns-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    report = run_edge_logger({"baseUrl": base, "apiKey": live_key, "dataset": "from-path", "requestId": request_id,
                              "baselimeUrl": f"{base}/v1/{dataset}"})
    assert report == {"statuses": [202, 202, 202], "failures": []}
    items = stored(dynamodb, dataset)
    assert len(items) == 6
    assert {item["namespace"]["S"] for item in items} == {"from-path"}
