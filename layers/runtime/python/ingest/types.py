"""Field types shared by the family models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

# RFC 3339 date-time: a date, a time and a zone. pydantic alone would also take unix seconds,
# dates without times and strings without a zone.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _rfc3339_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string, such as 2024-03-10T23:00:00Z")
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with a time zone, such as 2024-03-10T23:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_to_utc)]


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)
