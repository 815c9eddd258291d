"""Typed errors of the pipeline. Each family's dialect maps them to HTTP in exactly one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with the request: which event (None for the request itself), where, what."""

    index: int | None
    path: str
    message: str

    def as_dict(self) -> dict:
        return {"index": self.index, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class IngestError(Exception):
    """Base of every error the pipeline answers on purpose."""

    status: int = 500
    retryable: bool = False

    def __init__(self, message: str, violations: tuple[Violation, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations


class BadRequest(IngestError):
    """The client's request is wrong; nothing is stored. Rendered as 400."""

    status = 400


class PayloadTooLarge(IngestError):
    status = 413


class NotFound(IngestError):
    """Nothing of the key's tenant matches what was asked for (read-back, delete). Rendered as 404."""

    status = 404


class Conflict(IngestError):
    """The request conflicts with what is stored (e.g. creating a resource that exists)."""

    status = 409


class MethodNotAllowed(IngestError):
    """A method the route refuses (Endpoint.refused_methods). Rendered as 405; `allowed` is for Allow."""

    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Unauthorized(IngestError):
    """Missing, malformed, unknown, revoked or expired key. Never says which, never echoes it."""

    status = 401


class Forbidden(IngestError):
    """A valid key used outside its scopes (family, or dataset). Rendered as 403."""

    status = 403


class TooManyRequests(IngestError):
    """The key used up its requests for the current window. Rendered as 429; the pipeline adds
    Retry-After and the RateLimit-* headers to whatever the family renders."""

    status = 429
    retryable = True

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(IngestError):
    """AWS did not answer (or not within the request's budget): 503 with Retry-After, retryable,
    and nothing was acknowledged."""

    status = 503
    retryable = True
    retry_after_seconds = 1


class InternalError(IngestError):
    """A bug or anything unforeseen: 500, retryable, nothing acknowledged."""

    status = 500
    retryable = True
