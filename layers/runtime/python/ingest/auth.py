"""API keys: `<8-char prefix>.<48-char base64 payload>`, stored only as a SHA-256 hash.

A key is looked up by its prefix and its hash compared in constant time. An unknown prefix is
compared against a dummy hash, so the answer takes the same work whether or not the prefix exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.catalog import AuthScheme
from ingest.errors import Unauthorized
from ingest.request import Request

KEY_PATTERN = re.compile(r"([A-Za-z0-9]{8})\.([A-Za-z0-9+/]{46}[A-Za-z0-9+/=]{2})")
TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PREFIX_ALPHABET = string.ascii_uppercase + string.digits
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()

# One message for every failure: the answer must not tell which part of a key was wrong.
INVALID_KEY = "Invalid API key."


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    key_prefix: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def generate_key() -> str:
    """A new key from the CSPRNG: 8 readable characters, then 36 random bytes in base64."""
    prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(8))
    return f"{prefix}.{base64.b64encode(secrets.token_bytes(36)).decode('ascii')}"


def split_key(key: str) -> str:
    """Check the documented shape and return the prefix; raises Unauthorized otherwise."""
    match = KEY_PATTERN.fullmatch(key)
    if not match:
        raise Unauthorized(INVALID_KEY)
    try:
        base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unauthorized(INVALID_KEY) from exc
    return match.group(1)


def presented_key(request: Request, scheme: AuthScheme) -> str:
    """The key as the family presents it. Two auth headers, or a wrong scheme, are a 401."""
    header = "x-api-key" if scheme is AuthScheme.X_API_KEY else "authorization"
    values = request.header_values(header)
    if not values:
        raise Unauthorized("Missing API key.")
    if len(values) > 1:
        raise Unauthorized("More than one credential header was sent.")
    value = values[0]
    if scheme is AuthScheme.X_API_KEY:
        return value
    expected = "bearer" if scheme is AuthScheme.BEARER else "api-token"
    word, _, key = value.partition(" ")
    if word.lower() != expected:
        raise Unauthorized(INVALID_KEY)
    return key


class Authenticator:
    def __init__(self, keys) -> None:  # keys: ingest.store.Store (anything with get_key)
        self._keys = keys

    def authenticate(self, request: Request, scheme: AuthScheme, now: datetime | None = None) -> Principal:
        key = presented_key(request, scheme)
        prefix = split_key(key)
        record = self._keys.get_key(prefix)
        stored_hash = record["key_hash"] if record else _DUMMY_HASH
        matches = hmac.compare_digest(hash_key(key), stored_hash)
        if not (record and matches) or not _is_active(record, now or datetime.now(UTC)):
            raise Unauthorized(INVALID_KEY)
        return Principal(tenant=record["tenant"], key_prefix=prefix)


def _is_active(record: dict, now: datetime) -> bool:
    if record.get("revoked_at"):
        return False
    expires_at = record.get("expires_at")
    return not (expires_at and datetime.fromisoformat(expires_at) <= now)


def key_record(key: str, tenant: str, name: str = "", now: datetime | None = None) -> dict:
    """The stored form of a new key: everything but the secret."""
    if not TENANT_PATTERN.fullmatch(tenant):
        raise ValueError(f"tenant {tenant!r} must match {TENANT_PATTERN.pattern}")
    return {
        "prefix": split_key(key),
        "key_hash": hash_key(key),
        "tenant": tenant,
        "name": name,
        "created_at": (now or datetime.now(UTC)).isoformat(),
    }
