"""Write the sample API Gateway events of `logs_events` and `logs_namespace_events` under events/ (re-run after edits).

Seed 003's curl example as the shell sends it, the body the real edge logger sends, partial
acceptance, and one file per rejection reason. Names say the answer: valid_* 202, partial_* and
invalid_* 400, too_large_* 413, missing_*/wrong_* 401, method_* 405.
Usage: python -m events.make_logs
"""

from __future__ import annotations

import gzip
import json

from events.make_events import HERE
from ingest import catalog
from local import apigw
from local.emulator import SAMPLE_KEY

ENDPOINT = "logs_events"
NAMESPACE_ENDPOINT = "logs_namespace_events"
MAX_EVENT_BYTES = 256 * 1024

# Seed 003's curl example: the body exactly as the shell hands it to curl. The page's single quotes
# around 'something' end and reopen the shell's quoting, so the word arrives unquoted.
SEED_CURL_BODY = b"""[
        {
          "message": "This is an example log event",
          "error": "TypeError: Cannot read property something of undefined",
          "requestId": "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1",
          "namespace": "https://api.domain.com/resource/{id}"
        },
        {
          "message": "This is another example log event",
          "requestId": "6092d6f0-3bfa-4d62-9d0b-5bc7ae6518a1",
          "data": {"userId": "01HBRCB38K2K4V5SDR7YC1D0ZB"},
          "duration": 127
        }
      ]"""

# What @baselime/edge-logger 0.4.2 posts: one object per log line, `timestamp` in epoch ms from a
# monotonic clock, one requestId for every line of the logger; service/namespace unset -> "undefined".
EDGE_LOGGER_BODY = [
    {"message": "Hello, World!", "level": "info", "timestamp": 1_700_000_000_000,
     "requestId": "3b1f7c52-8d0e-4f7a-9a61-2f4f3d5b9c10", "foo": "bar"},
    {"message": "cache miss", "level": "warning", "timestamp": 1_700_000_000_001,
     "requestId": "3b1f7c52-8d0e-4f7a-9a61-2f4f3d5b9c10", "payload": {"key": "user:42"}},
]

# Numbers and text that a careless parser changes: integers beyond 64 bits, a double's shortest
# form, a number beyond a double, negative zero, astral-plane Unicode, escapes.
EXACT_NUMBERS_BODY = (
    b'[{"id": "numbers-1", "big": 123456789012345678901234567890, "u64": 18446744073709551615, '
    b'"i64": -9223372036854775808, "below_i64": -9223372036854775809, "pi": 3.141592653589793, '
    b'"tenth": 0.1, "huge": 1e400, "neg_zero": -0.0, "text": "\\u00e9t\\u00e9 \xf0\x9f\x9a\x80 \\"q\\" \\\\", '
    b'"nested": {"a": [1, [2, [3, {"b": null}]]]}}]'
)


def event_of_size(size: int, **fields) -> dict:
    """An event whose compact JSON is exactly `size` bytes."""
    event = {**fields, "message": ""}
    event["message"] = "a" * (size - len(json.dumps(event, separators=(",", ":"))))
    assert len(json.dumps(event, separators=(",", ":"))) == size
    return event


def _builders(default_path: str):
    """What every sample list is written with: (js, key, as_json, post), `post` to `default_path`."""
    js = lambda doc: json.dumps(doc, indent=2).encode()  # noqa: E731
    key = {"x-api-key": SAMPLE_KEY}
    as_json = {**key, "Content-Type": "application/json"}
    post = lambda body, headers=as_json, path=default_path: ("POST", path, body, headers)  # noqa: E731
    return js, key, as_json, post


def logs_samples() -> dict[str, tuple[str, str, bytes, dict]]:
    """name -> (method, path, body, headers)"""
    js, key, as_json, post = _builders("/v1/logs")
    return {
        "valid_seed_curl_example": post(SEED_CURL_BODY, {**as_json, "x-service": "my-service"}),
        "valid_edge_logger_batch": post(
            js(EDGE_LOGGER_BODY), {**as_json, "x-service": "undefined", "x-namespace": "undefined"}, "/v1/edge-logger"
        ),
        "valid_text_plain": post(js([{"message": "sent as text/plain"}]), {**key, "Content-Type": "text/plain"}),
        "valid_gzip": post(gzip.compress(SEED_CURL_BODY, mtime=0), {**as_json, "Content-Encoding": "gzip", "x-service": "gz"}),
        "valid_exact_numbers": post(EXACT_NUMBERS_BODY),
        "valid_duplicate_keys_last_wins": post(b'[{"id": "dup-keys-1", "level": "info", "level": "error"}]'),
        "valid_same_id_twice_keeps_first": post(js([{"id": "same-1", "n": 1}, {"id": "same-1", "n": 2}])),
        "valid_event_exactly_256_kib": post(js([event_of_size(MAX_EVENT_BYTES, id="exactly-256-kib")])),
        "partial_three_good_two_bad": post(
            js([{"message": "good 0"}, "bad 1: a string", {"message": "good 2"}, [3, "an array"], {"message": "good 4"}])
        ),
        "invalid_event_over_256_kib": post(js([event_of_size(MAX_EVENT_BYTES + 1, id="over-256-kib")])),
        "invalid_events_not_objects": post(js([1, "two", None, True, [5]])),
        "invalid_not_an_array": post(js({"message": "an object, not an array of them"})),
        "invalid_empty_body": post(b""),
        "invalid_empty_array": post(b"[]"),
        "invalid_malformed_json": post(b'[\n  {"message": "trailing comma"},\n]'),
        "invalid_deep_nesting": post(b"[" + b'{"a":' * 1100 + b"1" + b"}" * 1100 + b"]"),
        "invalid_utf8": post(b'[{"message": "caf\xe9"}]'),
        "invalid_number_as_key": post(b"[{123456789012345678901234: 1}]"),
        "invalid_dataset_dot_dot": post(js([{"message": "x"}]), path="/v1/.."),
        "invalid_dataset_encoded_slash": post(js([{"message": "x"}]), path="/v1/logs%2F..%2Fother"),
        "invalid_dataset_unicode_lookalike": post(js([{"message": "x"}]), path="/v1/l%D0%BEgs"),
        "invalid_dataset_too_long": post(js([{"message": "x"}]), path="/v1/" + "d" * 129),
        "too_large_gzip_inflated": post(
            gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]", mtime=0), {**as_json, "Content-Encoding": "gzip"}
        ),
        "missing_key": post(SEED_CURL_BODY, {"Content-Type": "application/json"}),
        "wrong_key": post(SEED_CURL_BODY, {"x-api-key": "NOTAKEY1." + "A" * 48}),
        "method_get_not_allowed": ("GET", "/v1/logs", b"", key),
    }


def namespace_samples() -> dict[str, tuple[str, str, bytes, dict]]:
    """POST /v1/<dataset>/<namespace>: the same rules, the namespace from the path (it wins over x-namespace)."""
    js, key, as_json, post = _builders("/v1/logs-ns/checkout")
    return {
        "valid_seed_curl_example": post(SEED_CURL_BODY, {**as_json, "x-service": "my-service"}),
        "valid_path_wins_over_header": post(js([{"message": "path names the namespace"}]),
                                            {**as_json, "x-namespace": "from-header"}),
        "valid_encoded_namespace": post(js([{"message": "a URL as namespace"}]),
                                        path="/v1/logs-ns/https%3A%2F%2Fapi.domain.com%2Fresource%2F%7Bid%7D"),
        "valid_undefined_in_path_falls_back_to_header": post(js([{"message": "unset in the URL"}]),
                                                             {**as_json, "x-namespace": "from-header"},
                                                             "/v1/logs-ns/undefined"),
        "valid_gzip": post(gzip.compress(SEED_CURL_BODY, mtime=0), {**as_json, "Content-Encoding": "gzip"}),
        "partial_three_good_two_bad": post(
            js([{"message": "good 0"}, "bad 1: a string", {"message": "good 2"}, [3, "an array"], {"message": "good 4"}])
        ),
        "invalid_not_an_array": post(js({"message": "an object, not an array of them"})),
        "invalid_namespace_too_long": post(js([{"message": "x"}]), path="/v1/logs-ns/" + "n" * 257),
        "invalid_namespace_control_character": post(js([{"message": "x"}]), path="/v1/logs-ns/a%0Ab"),
        "invalid_dataset_dot_dot": post(js([{"message": "x"}]), path="/v1/../ns"),
        "too_large_gzip_inflated": post(
            gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]", mtime=0), {**as_json, "Content-Encoding": "gzip"}
        ),
        "missing_key": post(SEED_CURL_BODY, {"Content-Type": "application/json"}),
        "wrong_key": post(SEED_CURL_BODY, {"x-api-key": "NOTAKEY1." + "A" * 48}),
        "method_get_not_allowed": ("GET", "/v1/logs-ns/checkout", b"", key),
        "method_delete_not_allowed": ("DELETE", "/v1/logs-ns/checkout", b"", key),
    }


def write(samples: dict[str, tuple[str, str, bytes, dict]], endpoint_name: str = ENDPOINT) -> None:
    """Like events.make_events.write, for a route with a path parameter and refused methods."""
    endpoint = catalog.get(endpoint_name)
    folder = HERE / endpoint_name
    folder.mkdir(exist_ok=True)
    for name, (method, path, body, headers) in samples.items():
        matched = apigw.match(method, path)
        assert matched and matched[0] is endpoint, f"{name}: {method} {path} does not reach {endpoint_name}"
        try:
            body.decode("utf-8")
            binary = "Content-Encoding" in headers
        except UnicodeDecodeError:
            binary = True  # not text: only base64 can carry it in the JSON event
        event = apigw.to_event(endpoint, matched[1], method, path, list(headers.items()), body, "203.0.113.10",
                               base64_body=binary)
        event["requestContext"]["requestId"] = f"sample-{endpoint_name}-{name}"
        event["requestContext"]["requestTimeEpoch"] = 1_700_000_000_000
        (folder / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def main() -> None:
    write(logs_samples())
    write(namespace_samples(), NAMESPACE_ENDPOINT)


if __name__ == "__main__":
    main()
