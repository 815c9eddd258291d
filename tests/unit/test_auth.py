"""API keys: documented shape, hash-only storage, constant-time comparison, one answer for all failures."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ingest.auth import (
    DEFAULT_RATE_LIMIT,
    Authenticator,
    Principal,
    Scope,
    check_scope,
    generate_key,
    hash_key,
    is_active,
    key_record,
    parse_scopes,
    presented_key,
    principal_of,
    split_key,
)
from ingest import catalog
from ingest.catalog import ENDPOINTS
from ingest.spec import AuthScheme
from ingest.errors import Forbidden, Unauthorized
from ingest.request import Request

# The three ways the families present a key (their specs declare them; these tests need only the shapes).
BEARER = AuthScheme("bearer", "Authorization", "Bearer")
API_TOKEN = AuthScheme("api-token", "Authorization", "Api-Token")
X_API_KEY = AuthScheme("x-api-key", "X-API-Key")

EXAMPLE = "EXMPLKEY.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk="  # seed 000's example


def req(headers: dict[str, list[str]]) -> Request:
    return Request.from_apigw({"multiValueHeaders": headers, "requestContext": {"requestId": "r"}})


class FakeKeys:
    """Only the lookup the authenticator needs; records how often it was asked."""

    def __init__(self, records: dict[str, dict]):
        self.records = records
        self.lookups: list[str] = []

    def get_key(self, prefix, deadline=None):
        self.lookups.append(prefix)
        return self.records.get(prefix)


def test_generated_keys_have_the_documented_shape_and_are_unique():
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        prefix, payload = key.split(".")
        assert len(prefix) == 8 and prefix.isalnum() and len(payload) == 48
        assert split_key(key) == prefix


def test_seed_example_key_has_a_valid_shape():
    assert split_key(EXAMPLE) == "EXMPLKEY"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "SHORT.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk=",
        "EXMPLKEY SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk=",
        "EXMPLKEY.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk",  # 47 chars
        "EXMPLKEY.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk=  ",  # trailing spaces
        "EXMPLKEY.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2N=k=",  # not base64
        "EXMPLKEY.!!!!bG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk=",
    ],
)
def test_wrong_shapes_are_rejected(key):
    with pytest.raises(Unauthorized):
        split_key(key)


def test_only_the_hash_is_stored():
    key = generate_key()
    record = key_record(key, "acme")
    assert key not in str(record.values())
    assert record["key_hash"] == hashlib.sha256(key.encode()).hexdigest()


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (BEARER, {"authorization": ["Bearer K"]}),
        (BEARER, {"Authorization": ["bearer K"]}),
        (API_TOKEN, {"AUTHORIZATION": ["Api-Token K"]}),
        (API_TOKEN, {"authorization": ["api-token K"]}),
        (X_API_KEY, {"X-Api-Key": ["K"]}),
    ],
)
def test_each_family_header_is_read_case_insensitively(scheme, headers):
    assert presented_key(req(headers), scheme) == "K"


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (BEARER, {}),
        (BEARER, {"authorization": ["Basic K"]}),
        (BEARER, {"x-api-key": ["K"]}),  # another family's header
        (X_API_KEY, {"x-api-key": ["K", "K"]}),  # two credentials
        (API_TOKEN, {"authorization": ["Bearer K"]}),
    ],
)
def test_missing_wrong_or_repeated_headers_are_401(scheme, headers):
    with pytest.raises(Unauthorized):
        presented_key(req(headers), scheme)


def test_authenticate_accepts_the_stored_key_and_rejects_a_wrong_secret_the_same_way():
    key = generate_key()
    keys = FakeKeys({split_key(key): key_record(key, "acme")})
    auth = Authenticator(keys)
    principal = auth.authenticate(req({"authorization": [f"Bearer {key}"]}), BEARER)
    assert principal.tenant == "acme"

    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    unknown_prefix = "ZZZZZZZZ" + key[8:]
    messages = set()
    for candidate in (wrong_secret, unknown_prefix):
        with pytest.raises(Unauthorized) as caught:
            auth.authenticate(req({"authorization": [f"Bearer {candidate}"]}), BEARER)
        messages.add(caught.value.message)
        assert candidate not in caught.value.message
    assert len(messages) == 1  # nothing tells whether the prefix exists
    assert keys.lookups == [split_key(key)] * 2 + ["ZZZZZZZZ"]  # both paths do the same lookup


def test_revoked_and_expired_keys_are_401():
    key = generate_key()
    for extra in ({"revoked_at": "2024-01-01T00:00:00+00:00"}, {"expires_at": "2000-01-01T00:00:00+00:00"}):
        auth = Authenticator(FakeKeys({split_key(key): {**key_record(key, "acme"), **extra}}))
        with pytest.raises(Unauthorized):
            auth.authenticate(req({"authorization": [f"Bearer {key}"]}), BEARER)


def test_hash_is_sha256_hex():
    assert hash_key("a") == hashlib.sha256(b"a").hexdigest()


def test_tenant_names_are_restricted_because_they_become_key_parts():
    with pytest.raises(ValueError):
        key_record(generate_key(), "../etc")


# --- scopes, stored records, bad input, equal work -------------------------------------------------

def test_every_catalog_family_can_be_named_in_a_scope():
    # Public routes (the service's own documents) take no key, so no scope names them.
    assert {endpoint.family for endpoint in ENDPOINTS if not endpoint.public} <= set(catalog.family_names())


@pytest.mark.parametrize(
    ("text", "family", "resource"),
    [("datahub", "datahub", None), ("*", "*", None), ("logs:app", "logs", "app"), ("logs:app-*", "logs", "app-*"),
     ("logs:*", "logs", None), (" ops ", "ops", None)],
)
def test_scopes_parse(text, family, resource):
    assert Scope.parse(text) == Scope(family, resource)


@pytest.mark.parametrize(
    "text", ["", "billing", "datahub:Datadog", "logs:", "logs:a b", "logs:*x", "usage:s3", "logs:a*b"]
)
def test_bad_scopes_are_refused_with_a_reason(text):
    with pytest.raises(ValueError, match="scope|family"):
        Scope.parse(text)


def test_a_key_needs_a_scope_and_duplicates_collapse():
    with pytest.raises(ValueError):
        parse_scopes([])
    assert parse_scopes(["datahub", "datahub", "logs:a"]) == (Scope("datahub"), Scope("logs", "a"))


@pytest.mark.parametrize(
    ("scopes", "family", "dataset", "allowed"),
    [
        (["*"], "ops", None, True),
        (["*"], "logs", "anything", True),
        (["datahub"], "datahub", None, True),
        (["datahub"], "usage", None, False),
        (["logs"], "logs", "any", True),
        (["logs:app"], "logs", "app", True),
        (["logs:app"], "logs", "app2", False),
        (["logs:app-*"], "logs", "app-web", True),
        (["logs:app-*"], "logs", "app", False),
        (["logs:app-*"], "logs", "other", False),
        (["logs:app-*", "datahub"], "datahub", None, True),
        (["logs:app-*"], "datahub", None, False),
    ],
)
def test_scope_check(scopes, family, dataset, allowed):
    principal = Principal("acme", "ABCDEFGH", scopes=parse_scopes(scopes))
    parameters = {"dataset": dataset} if dataset else {}
    if allowed:
        check_scope(principal, family, catalog.spec(family).scope_resource, parameters)
    else:
        with pytest.raises(Forbidden) as caught:
            check_scope(principal, family, catalog.spec(family).scope_resource, parameters)
        assert caught.value.status == 403
        # Names what was refused: the dataset when the family itself is in scope, else the family.
        refused = repr(dataset) if dataset and any(s.startswith(family) for s in scopes) else family
        assert refused in caught.value.message


def test_a_logs_key_limited_to_datasets_is_forbidden_on_a_logs_route_without_one():
    principal = Principal("acme", "ABCDEFGH", scopes=parse_scopes(["logs:app"]))
    with pytest.raises(Forbidden):
        check_scope(principal, "logs", "dataset", {})


def test_record_carries_tenant_name_scopes_times_and_limit_but_never_the_key():
    key = generate_key()
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = key_record(key, "acme", "ci", now, scopes=["datahub", "logs:app-*"], rate_limit=50,
                        expires_at=now + timedelta(days=1))
    assert record == {
        "prefix": key[:8],
        "key_hash": hash_key(key),
        "tenant": "acme",
        "name": "ci",
        "scopes": ["datahub", "logs:app-*"],
        "rate_limit": 50,
        "created_at": "2025-01-02T03:04:05+00:00",
        "expires_at": "2025-01-03T03:04:05+00:00",
    }
    assert key not in repr(record) and key[9:] not in repr(record)
    principal = principal_of(record)
    assert principal == Principal("acme", key[:8], (Scope("datahub"), Scope("logs", "app-*")), 50)


def test_records_from_before_scopes_and_limits_keep_working_unrestricted():
    principal = principal_of({"prefix": "OLDKEY01", "tenant": "acme", "key_hash": "x"})
    assert principal.scopes == (Scope("*"),) and principal.rate_limit == DEFAULT_RATE_LIMIT


@pytest.mark.parametrize("rate_limit", [0, -1, 1_000_001])
def test_rate_limit_must_be_sane(rate_limit):
    with pytest.raises(ValueError):
        key_record(generate_key(), "acme", rate_limit=rate_limit)


def test_expiry_is_exclusive_at_the_instant():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    record = {"expires_at": now.isoformat()}
    assert is_active(record, now - timedelta(seconds=1)) and not is_active(record, now)


VALID = generate_key()


@pytest.mark.parametrize(
    ("name", "scheme", "headers"),
    [
        ("wrong shape", BEARER, {"Authorization": ["Bearer SHORT.abc"]}),
        ("non-base64 payload", BEARER, {"Authorization": [f"Bearer {VALID[:9]}{'!' * 48}"]}),
        ("empty header", BEARER, {"Authorization": [""]}),
        ("empty x-api-key", X_API_KEY, {"X-API-Key": [""]}),
        ("scheme only", API_TOKEN, {"Authorization": ["Api-Token"]}),
        ("two headers", BEARER, {"Authorization": [f"Bearer {VALID}", f"Bearer {VALID}"]}),
        ("two headers, two spellings", X_API_KEY, {"X-API-Key": [VALID], "x-api-key": [VALID]}),
        ("trailing spaces", BEARER, {"Authorization": [f"Bearer {VALID}  "]}),
        ("trailing spaces x-api-key", X_API_KEY, {"x-api-key": [f"{VALID} "]}),
        ("two spaces after the scheme", API_TOKEN, {"Authorization": [f"Api-Token  {VALID}"]}),
        ("another family's header", BEARER, {"X-API-Key": [VALID]}),
        ("another family's scheme", API_TOKEN, {"Authorization": [f"Bearer {VALID}"]}),
        ("x-api-key given an Authorization", X_API_KEY, {"Authorization": [f"Bearer {VALID}"]}),
    ],
)
def test_bad_input_is_a_clean_401_that_never_echoes_the_key(name, scheme, headers):
    keys = FakeKeys({split_key(VALID): key_record(VALID, "acme")})
    with pytest.raises(Unauthorized) as caught:
        Authenticator(keys).authenticate(req(headers), scheme)
    assert caught.value.status == 401
    assert VALID not in caught.value.message and VALID[9:] not in caught.value.message


def test_unknown_prefix_and_wrong_secret_do_the_same_work(monkeypatch):
    """Not a timing measurement: the same calls, with arguments of the same size, in the same order."""
    import ingest.auth as auth_module

    key = generate_key()
    keys = FakeKeys({split_key(key): key_record(key, "acme")})
    calls: list[tuple] = []
    real_hash, real_compare = auth_module.hash_key, auth_module.hmac.compare_digest

    def recording_hash(value):
        calls.append(("hash", len(value)))
        return real_hash(value)

    def recording_compare(a, b):
        calls.append(("compare", len(a), len(b)))
        return real_compare(a, b)

    monkeypatch.setattr(auth_module, "hash_key", recording_hash)
    monkeypatch.setattr(auth_module.hmac, "compare_digest", recording_compare)
    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    unknown_prefix = "ZZZZZZZZ" + key[8:]
    traces = []
    for candidate in (wrong_secret, unknown_prefix):
        calls.clear()
        keys.lookups.clear()
        with pytest.raises(Unauthorized) as caught:
            Authenticator(keys).authenticate(req({"authorization": [f"Bearer {candidate}"]}), BEARER)
        traces.append((list(calls), len(keys.lookups), caught.value.message))
    assert traces[0] == traces[1] == ([("hash", 57), ("compare", 64, 64)], 1, "Invalid API key.")
