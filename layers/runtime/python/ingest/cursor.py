"""Signed query cursors: opaque to clients, tamper-proof, bound to one tenant and one route.

A cursor is `base64url(state JSON ‖ HMAC-SHA256)`, the MAC keyed with the deployed cursor secret
(ingest.store.Store.cursor_secret) over a version tag, the route, the tenant and the state. So a
cursor with any byte changed, one made up, one signed under another secret, or one another tenant
was given does not open: the caller answers 400. The state is signed, not encrypted: it holds the
query's criteria and the position of the last event of the page (its event time and key within the
tenant's own partitions), nothing of any other tenant and no secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

import orjson

VERSION = b"ingest-cursor-v1"
MAC_BYTES = 32
# Far more than any real cursor (a few hundred characters); a longer one is refused unread.
MAX_CURSOR_CHARS = 2048


class CursorInvalid(ValueError):
    """The cursor does not open: malformed, changed, or not made for this tenant and route."""


class CursorCodec:
    __slots__ = ("_key", "_context")

    def __init__(self, secret: bytes, *, tenant: str, route: str) -> None:
        if len(secret) < 32:
            raise ValueError("a cursor secret has at least 32 bytes")
        self._key = secret
        self._context = b"\0".join((VERSION, route.encode(), tenant.encode("utf-8", "surrogatepass"))) + b"\0"

    def _mac(self, state: bytes) -> bytes:
        return hmac.new(self._key, self._context + state, hashlib.sha256).digest()

    def seal(self, state: dict[str, Any]) -> str:
        body = orjson.dumps(state)
        return base64.urlsafe_b64encode(body + self._mac(body)).decode().rstrip("=")

    def open(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_CURSOR_CHARS:
            raise CursorInvalid(f"the cursor must be 1-{MAX_CURSOR_CHARS} characters")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise CursorInvalid("the cursor is not one this service issued") from exc
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if len(raw) <= MAC_BYTES or not hmac.compare_digest(mac, self._mac(body)):
            raise CursorInvalid("the cursor is not one this service issued for this API token")
        # Canonical form only: a re-padded or re-encoded spelling of a valid cursor is not the cursor.
        if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
            raise CursorInvalid("the cursor is not one this service issued")
        state = orjson.loads(body)  # signed by us: our own JSON
        if not isinstance(state, dict):
            raise CursorInvalid("the cursor is not one this service issued")
        return state
