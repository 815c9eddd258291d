"""Issue 11 item 6: reads agree with writes. Read-back and `events list` return the stored bytes
exactly, never serve an item past its expiry, see an ops event at once, and survive a change of
`stream_shards` — each against a real moto server."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner

from cli.__main__ import main
from ingest import catalog
from ingest.pipeline import Pipeline
from local.context import LocalContext
from tests.conftest import load_event

EXACT = ('"big":123456789012345678901234567890,"u64":18446744073709551615,"i64":-9223372036854775808,'
         '"below_i64":-9223372036854775809,"pi":3.141592653589793,"tenth":0.1,"huge":1e400,"neg_zero":-0.0')


def raw_handle(endpoint: str, event: dict, settings=None) -> tuple[int, bytes]:
    """The handler's answer with its body as bytes (json.loads would turn 1e400 into inf)."""
    from local import handlers

    event = json.loads(json.dumps(event))
    event["requestContext"]["requestId"] = f"req-{uuid.uuid4().hex[:8]}"
    context = LocalContext(endpoint, event["requestContext"]["requestId"])
    if settings is None:
        response = handlers.load(endpoint)(event, context)
    else:
        response = Pipeline(catalog.get(endpoint), settings).handle(event, context)
    return response["statusCode"], response["body"].encode()


def with_key(sample: dict, headers: dict, path: str | None = None) -> dict:
    sample = {**sample, "headers": {**sample["headers"], **headers},
              "multiValueHeaders": {**(sample.get("multiValueHeaders") or {}), **{n: [v] for n, v in headers.items()}}}
    if path:
        sample["path"] = path
    return sample


# --- 1. the stored bytes, exactly ------------------------------------------------------------------


def test_logs_read_back_and_events_list_return_the_stored_numbers_exactly(aws_endpoint, new_key, http_event):
    # Given the exact-numbers sample stored in a fresh dataset of a fresh tenant
    key, tenant = new_key()
    dataset = f"exact-{uuid.uuid4().hex[:8]}"
    sample = load_event("logs_events", "valid_exact_numbers")
    send = http_event("logs_events", sample["body"].encode(), {"x-api-key": key}, f"/v1/{dataset}")
    assert raw_handle("logs_events", send)[0] == 202
    # When it is read back by id
    read = http_event("read_logs_event", b"", {"x-api-key": key}, f"/v1/{dataset}/events/numbers-1")
    status, body = raw_handle("read_logs_event", read)
    # Then the answer embeds the stored bytes verbatim: every digit, and 1e400 as sent
    assert status == 200, body
    assert EXACT.encode() in body
    # And the operator's listing prints them too, for the whole family and for the dataset
    runner = CliRunner()
    for extra in ([], ["--stream", dataset]):
        result = runner.invoke(main, ["events", "list", "--tenant", tenant, "--family", "logs", "--json", *extra,
                                      "--endpoint-url", aws_endpoint], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        [line] = result.output.splitlines()
        assert EXACT in line and json.loads(line)["id"] == "id:numbers-1"
    table = runner.invoke(main, ["events", "list", "--tenant", tenant, "--family", "logs", "--endpoint-url",
                                 aws_endpoint], catch_exceptions=False)
    assert table.exit_code == 0 and "numbers-1" in table.output
