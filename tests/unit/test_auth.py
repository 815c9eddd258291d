"""API keys: documented shape, hash-only storage, constant-time comparison, one answer for all failures."""

import hashlib

import pytest

from ingest.auth import Authenticator, generate_key, hash_key, key_record, presented_key, split_key
from ingest.catalog import AuthScheme
from ingest.errors import Unauthorized
from ingest.request import Request

EXAMPLE = "EXMPLKEY.SGVsbG8gd29ybGQgZnJvbSBEYXNoZGl2ZSEgKGJhc2U2NCk="  # seed 000's example


def req(headers: dict[str, list[str]]) -> Request:
    return Request.from_apigw({"multiValueHeaders": headers, "requestContext": {"requestId": "r"}})


class FakeKeys:
    """Only the lookup the authenticator needs; records how often it was asked."""

    def __init__(self, records: dict[str, dict]):
        self.records = records
        self.lookups: list[str] = []

    def get_key(self, prefix):
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
        (AuthScheme.BEARER, {"authorization": ["Bearer K"]}),
        (AuthScheme.BEARER, {"Authorization": ["bearer K"]}),
        (AuthScheme.API_TOKEN, {"AUTHORIZATION": ["Api-Token K"]}),
        (AuthScheme.API_TOKEN, {"authorization": ["api-token K"]}),
        (AuthScheme.X_API_KEY, {"X-Api-Key": ["K"]}),
    ],
)
def test_each_family_header_is_read_case_insensitively(scheme, headers):
    assert presented_key(req(headers), scheme) == "K"


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (AuthScheme.BEARER, {}),
        (AuthScheme.BEARER, {"authorization": ["Basic K"]}),
        (AuthScheme.BEARER, {"x-api-key": ["K"]}),  # another family's header
        (AuthScheme.X_API_KEY, {"x-api-key": ["K", "K"]}),  # two credentials
        (AuthScheme.API_TOKEN, {"authorization": ["Bearer K"]}),
    ],
)
def test_missing_wrong_or_repeated_headers_are_401(scheme, headers):
    with pytest.raises(Unauthorized):
        presented_key(req(headers), scheme)


def test_authenticate_accepts_the_stored_key_and_rejects_a_wrong_secret_the_same_way():
    key = generate_key()
    keys = FakeKeys({split_key(key): key_record(key, "acme")})
    auth = Authenticator(keys)
    principal = auth.authenticate(req({"authorization": [f"Bearer {key}"]}), AuthScheme.BEARER)
    assert principal.tenant == "acme"

    wrong_secret = key[:9] + ("A" if key[9] != "A" else "B") + key[10:]
    unknown_prefix = "ZZZZZZZZ" + key[8:]
    messages = set()
    for candidate in (wrong_secret, unknown_prefix):
        with pytest.raises(Unauthorized) as caught:
            auth.authenticate(req({"authorization": [f"Bearer {candidate}"]}), AuthScheme.BEARER)
        messages.add(caught.value.message)
        assert candidate not in caught.value.message
    assert len(messages) == 1  # nothing tells whether the prefix exists
    assert keys.lookups == [split_key(key)] * 2 + ["ZZZZZZZZ"]  # both paths do the same lookup


def test_revoked_and_expired_keys_are_401():
    key = generate_key()
    for extra in ({"revoked_at": "2024-01-01T00:00:00+00:00"}, {"expires_at": "2000-01-01T00:00:00+00:00"}):
        auth = Authenticator(FakeKeys({split_key(key): {**key_record(key, "acme"), **extra}}))
        with pytest.raises(Unauthorized):
            auth.authenticate(req({"authorization": [f"Bearer {key}"]}), AuthScheme.BEARER)


def test_hash_is_sha256_hex():
    assert hash_key("a") == hashlib.sha256(b"a").hexdigest()


def test_tenant_names_are_restricted_because_they_become_key_parts():
    with pytest.raises(ValueError):
        key_record(generate_key(), "../etc")
