"""A key never shows up in logs, metrics, S3 rejects or answers, whatever the request did."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from cli.keys import KeyAdmin
from ingest.authorizer import EdgeAuthorizer
from ingest.observability import logger
from tests.conftest import EVENTS
from tests.integration.keys_support import credential, keyed_sample, one_endpoint_per_family, with_headers
from tests.integration.test_authorizer import authorizer_event


def invalid_sample(endpoint) -> dict | None:
    samples = sorted((EVENTS / endpoint.name).glob("invalid_*.json"))
    return json.loads(samples[0].read_text()) if samples else None


def secrets_of(key: str) -> tuple[str, ...]:
    """The whole key and its secret part: neither may appear anywhere (the prefix may)."""
    return key, key.split(".", 1)[1]


@pytest.fixture
def log_lines(monkeypatch):
    """Everything on (metrics flushed as EMF to stdout, DEBUG logs); yields the formatted log lines."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(logger.registered_formatter)  # the very JSON lines Lambda would ship
    std_logger = logging.getLogger(logger.name)
    level = std_logger.level
    std_logger.addHandler(handler)
    std_logger.setLevel(logging.DEBUG)
    yield lines
    std_logger.removeHandler(handler)
    std_logger.setLevel(level)


def test_after_every_kind_of_request_the_key_is_nowhere(log_lines, capfd, caplog, store, settings, invoke):
    admin = KeyAdmin(store)
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    key, _ = admin.create(tenant, ["*"], rate_limit=1_000)
    limited, _ = admin.create(tenant, ["*"], rate_limit=1)
    out_of_scope, _ = admin.create(tenant, ["logs:zz-none-*"])  # no route any sample uses
    keys = (key, limited, out_of_scope)
    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    answers = []
    edge = EdgeAuthorizer(settings, store)
    for endpoint in one_endpoint_per_family():
        [(header, value)] = credential(endpoint, key).items()
        requests = [
            keyed_sample(endpoint, key),  # accepted
            keyed_sample(endpoint, wrong_secret),  # 401
            keyed_sample(endpoint, limited),  # limit 1/min for all families: 429 from here on
            keyed_sample(endpoint, limited),
            with_headers(keyed_sample(endpoint, key), {header: [value, value]}),  # two credential headers: 401
            keyed_sample(endpoint, out_of_scope),  # 403
        ]
        if invalid_sample(endpoint):
            requests.append(with_headers(invalid_sample(endpoint), credential(endpoint, key)))  # rejected to S3
        for event in requests:
            answers.append(invoke(endpoint.name, event))
        for candidate in (key, wrong_secret):
            answers.append(edge.authorize(authorizer_event(endpoint, credential(endpoint, candidate))))

    statuses = {answer[0] for answer in answers if isinstance(answer, tuple)}
    assert {401, 403, 429} <= statuses and any(200 <= s < 300 for s in statuses)

    captured = capfd.readouterr()
    records = json.dumps([record.__dict__ for record in caplog.records], default=str)
    logged = captured.out + captured.err + log_lines.getvalue() + records
    assert '"_aws"' in logged, "metrics were not flushed, so this test would not see them"
    assert tenant in logged  # the request log was captured
    rejects = store.s3.list_objects_v2(Bucket=settings.rejects_bucket, Prefix=f"rejects/tenant={tenant}/").get(
        "Contents", []
    )
    assert rejects, "no reject was kept, so this test would not see one"
    stored = b"".join(
        store.s3.get_object(Bucket=settings.rejects_bucket, Key=obj["Key"])["Body"].read() for obj in rejects
    ).decode("utf-8", "replace")
    rendered = json.dumps(answers)
    for secret in (*secrets_of(key), *secrets_of(limited), *secrets_of(out_of_scope), *secrets_of(wrong_secret)):
        assert secret not in logged
        assert secret not in stored
        assert secret not in rendered
    for candidate in keys:
        assert candidate[:8] in logged  # the readable prefix is what operators see instead
