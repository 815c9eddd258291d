"""Field types shared by the family models."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

# RFC 3339 date-time: a date, a time and a zone. pydantic alone would also take unix seconds,
# dates without times and strings without a zone.
# re.ASCII: `\d` is 0-9 only, never another script's digits (which int() would take).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def _rfc3339_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 date-time string, such as 2024-03-10T23:00:00Z")
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with a time zone, such as 2024-03-10T23:00:00Z")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC: a client's mistake
        raise ValueError(f"{value.isoformat()} is outside the years 0001-9999 once converted to UTC") from exc


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_to_utc)]

# ISO 8601 extended date-time where the zone is optional (no zone means UTC) and any offset is
# honoured, as the usage-events API documents. Seconds and fraction may be left out (reduced
# precision); `,` is ISO's other decimal sign; `±hh`, `±hh:mm` and `±hhmm` offsets are taken.
_ISO8601 = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<offset_hours>\d{2})(?::?(?P<offset_minutes>\d{2}))?)?",
    re.ASCII,  # 0-9 only: int() would read another script's digits ("٢٠٢٤") as a year
)
_ISO8601_EXAMPLE = "2024-03-01T12:00:00Z"


def _iso8601_to_utc(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date-time string, such as {_ISO8601_EXAMPLE}")
    match = _ISO8601.fullmatch(value)
    if not match:
        raise ValueError(
            f"{value!r} is not an ISO 8601 extended date-time, such as {_ISO8601_EXAMPLE} "
            "(no zone means UTC; offsets such as +08:00 are honoured)"
        )
    part = match.groupdict()
    # Fractions finer than a microsecond are truncated: datetime holds no more.
    micros = int((part["fraction"] or "0")[:6].ljust(6, "0"))
    zone = UTC
    if part["sign"]:
        hours, minutes = int(part["offset_hours"]), int(part["offset_minutes"] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} is not a valid date-time: its UTC offset is out of range")
        offset = timedelta(hours=hours, minutes=minutes)
        zone = timezone(-offset if part["sign"] == "-" else offset)
    try:
        moment = datetime(
            int(part["year"]), int(part["month"]), int(part["day"]), int(part["hour"]), int(part["minute"]),
            int(part["second"] or 0), micros, tzinfo=zone,
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from exc


# Always an aware datetime in UTC, so it serializes as `...Z` whatever offset it arrived with.
Iso8601 = Annotated[AwareDatetime, BeforeValidator(_iso8601_to_utc)]


def epoch_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)
