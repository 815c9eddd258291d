"""API keys, the tenant they belong to, and the scopes they are limited to.

A key is `<8-char prefix>.<48-char base64 payload>` (36 bytes from the CSPRNG), shown once and
stored only as a SHA-256 hash. It is looked up by its prefix and its hash compared in constant time.
An unknown prefix is compared against a dummy hash, so the answer takes the same work whether or not
the prefix exists. Every failure answers the same 401 message, and no message ever echoes the key.

Scopes limit a key to families (the names in `ingest.registry`, or `*` for all) and, for a family
whose spec names a scope resource (a path parameter, e.g. a log dataset in `/v1/{dataset}`), to
resource names or prefixes: `<family>:app` (exactly `app`), `<family>:app-*` (every name starting `app-`).

How a key is presented is each family's `AuthScheme` (`ingest.spec`): a header, and optionally a
word before the key (`Authorization: Bearer <key>`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest import catalog
from ingest.errors import Forbidden, Unauthorized
from ingest.request import Request
from ingest.spec import AuthScheme

KEY_PATTERN = re.compile(r"([A-Za-z0-9]{8})\.([A-Za-z0-9+/]{46}[A-Za-z0-9+/=]{2})")
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9]{8}")
TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
PREFIX_ALPHABET = string.ascii_uppercase + string.digits
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()

# One message for every failure: the answer must not tell which part of a key was wrong.
INVALID_KEY = "Invalid API key."

# Requests per minute per key unless the key says otherwise: the DataHub guide's figure.
DEFAULT_RATE_LIMIT = 1_000
MAX_RATE_LIMIT = 1_000_000

ALL = "*"
# A resource name, or a prefix of one followed by `*`.
_RESOURCE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,128}\*?|\*")


@dataclass(frozen=True, slots=True)
class Scope:
    family: str  # a registered family (ingest.registry), or ALL
    resource: str | None = None  # None: every resource; "name": exactly it; "pre*": every name starting "pre"

    @classmethod
    def parse(cls, text: str, *, check_resource: bool = True) -> Scope:
        """A scope, its family among the registered ones. Whether the family's routes name a resource
        is its spec's word (`FamilySpec.scope_resource`), which means importing the family: a request
        reading its own key's stored scopes (checked when the key was made) skips that
        (`check_resource=False`), so a Lambda never imports another family to read a key."""
        family, colon, resource = text.strip().partition(":")
        families = catalog.family_names()
        if family != ALL and family not in families:
            raise ValueError(
                f"scope {text!r}: unknown family {family!r}; expected one of {', '.join((ALL, *families))}"
            )
        if not colon:
            return cls(family)
        parameters = resource_parameters() if check_resource else {family: "resource"}
        if family not in parameters:
            named = ", ".join(f"{name}:<{parameter}>" for name, parameter in parameters.items())
            raise ValueError(f"scope {text!r}: only {named} scopes can name a resource")
        if not _RESOURCE_PATTERN.fullmatch(resource):
            raise ValueError(
                f"scope {text!r}: a {parameters[family]} is letters, digits, '.', '_' or '-', "
                "optionally ending in '*' to mean a prefix"
            )
        return cls(family, None if resource == ALL else resource)

    def __str__(self) -> str:
        return self.family if self.resource is None else f"{self.family}:{self.resource}"

    def covers(self, family: str, resource: str | None) -> bool:
        if self.family not in (ALL, family):
            return False
        if self.resource is None:
            return True
        if resource is None:
            return False
        if self.resource.endswith("*"):
            return resource.startswith(self.resource[:-1])
        return resource == self.resource


def resource_parameters() -> dict[str, str]:
    """family -> the path parameter its scopes may name (families whose spec declares one)."""
    return {spec.name: spec.scope_resource for spec in catalog.specs() if spec.scope_resource}


def parse_scopes(texts: Iterable[str], *, check_resource: bool = True) -> tuple[Scope, ...]:
    """Validated scopes, duplicates dropped, in the order given; at least one is required."""
    scopes = tuple(dict.fromkeys(Scope.parse(text, check_resource=check_resource) for text in texts))
    if not scopes:
        raise ValueError(f"a key needs at least one scope (a family, or {ALL!r} for every family)")
    return scopes


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant every stored item and reject belongs to, and what the key may do."""

    tenant: str
    key_prefix: str
    scopes: tuple[Scope, ...] = (Scope(ALL),)
    rate_limit: int = DEFAULT_RATE_LIMIT  # requests per minute


def check_scope(principal: Principal, family: str, parameter: str | None, path_parameters: Mapping[str, str]) -> None:
    """Raise Forbidden (403 in the family's dialect) when the key may not send this request.
    `parameter`: the path parameter the family's scopes may name (its spec's scope_resource)."""
    resource = path_parameters.get(parameter) if parameter else None
    if any(scope.covers(family, resource) for scope in principal.scopes):
        return
    if resource is not None and any(scope.family in (ALL, family) for scope in principal.scopes):
        raise Forbidden(f"This API key may not send to {parameter} {resource!r}.")
    raise Forbidden(f"This API key may not send {family} events.")


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


def credential_header(scheme: AuthScheme) -> str:
    """The header a family's clients send their key in (lower case: matched case-insensitively)."""
    return scheme.header_key


def presented_key(request: Request, scheme: AuthScheme) -> str:
    """The key as the family presents it. Two auth headers, or a wrong scheme word, are a 401."""
    values = request.header_values(scheme.header_key)
    if not values:
        raise Unauthorized("Missing API key.")
    if len(values) > 1:
        raise Unauthorized("More than one credential header was sent.")
    value = values[0]
    if scheme.word is None:
        return value
    word, _, key = value.partition(" ")
    if word.lower() != scheme.word.lower():
        raise Unauthorized(INVALID_KEY)
    return key


class Authenticator:
    def __init__(self, keys) -> None:  # keys: ingest.store.Store (anything with get_key)
        self._keys = keys

    def authenticate(self, request: Request, scheme: AuthScheme, now: datetime | None = None,
                     deadline=None) -> Principal:
        """`deadline` (ingest.store.Deadline): the request's budget, which the key lookup counts against."""
        key = presented_key(request, scheme)
        prefix = split_key(key)
        # From here on an unknown prefix and a wrong secret do exactly the same work: one lookup,
        # one hash, one constant-time comparison, and the same answer.
        record = self._keys.get_key(prefix, deadline)
        stored_hash = record["key_hash"] if record else _DUMMY_HASH
        matches = hmac.compare_digest(hash_key(key), stored_hash)
        if not (record and matches) or not is_active(record, now or datetime.now(UTC)):
            raise Unauthorized(INVALID_KEY)
        return principal_of(record)


def principal_of(record: Mapping) -> Principal:
    # Keys stored before scopes and limits existed carry neither: they keep working unrestricted.
    scopes = parse_scopes(record.get("scopes") or (ALL,), check_resource=False)  # checked when the key was made
    return Principal(
        tenant=record["tenant"],
        key_prefix=record["prefix"],
        scopes=scopes,
        rate_limit=int(record.get("rate_limit") or DEFAULT_RATE_LIMIT),
    )


def is_active(record: Mapping, now: datetime) -> bool:
    if record.get("revoked_at"):
        return False
    expires_at = record.get("expires_at")
    return not (expires_at and datetime.fromisoformat(expires_at) <= now)


def key_status(record: Mapping, now: datetime) -> str:
    """active, expired or revoked: what `keys list` shows."""
    if record.get("revoked_at"):
        return "revoked"
    return "active" if is_active(record, now) else "expired"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def key_record(
    key: str,
    tenant: str,
    name: str = "",
    now: datetime | None = None,
    *,
    scopes: Iterable[str] = (ALL,),
    rate_limit: int = DEFAULT_RATE_LIMIT,
    expires_at: datetime | None = None,
) -> dict:
    """The stored form of a new key: everything but the secret."""
    if not TENANT_PATTERN.fullmatch(tenant):
        raise ValueError(f"tenant {tenant!r} must match {TENANT_PATTERN.pattern}")
    if not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise ValueError(f"rate limit {rate_limit} must be between 1 and {MAX_RATE_LIMIT} requests per minute")
    record = {
        "prefix": split_key(key),
        "key_hash": hash_key(key),
        "tenant": tenant,
        "name": name,
        "scopes": [str(scope) for scope in parse_scopes(scopes)],
        "rate_limit": rate_limit,
        "created_at": iso(now or datetime.now(UTC)),
    }
    if expires_at is not None:
        record["expires_at"] = iso(expires_at)
    return record
