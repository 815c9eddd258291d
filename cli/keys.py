"""`python -m cli keys ...`: create, list, revoke, rotate and update API keys.

A key is shown once, at creation (or rotation); only its SHA-256 hash is stored. The commands write
the keys table directly, so a new, revoked or rotated key takes effect on the very next request:
the handlers read the key record on every request (consistent read). Deployed, the edge authorizer
may keep forwarding a revoked key's requests for its cache TTL, and the handler refuses them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import click

from cli.aws import Target, target_options
from ingest import catalog
from ingest.auth import (
    DEFAULT_RATE_LIMIT,
    MAX_RATE_LIMIT,
    PREFIX_PATTERN,
    generate_key,
    is_active,
    iso,
    key_record,
    key_status,
    parse_scopes,
)
from ingest.store import ConditionFailed, KeyExists, NoSuchKey, Store

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
DEFAULT_OVERLAP = "24h"


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `7d`, `1d12h`, or `0`."""
    text = text.strip().lower()
    if text == "0":
        return timedelta(0)
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a duration such as 90s, 30m, 24h, 7d or 1d12h")
    return timedelta(seconds=sum(int(number) * _UNITS[unit] for number, unit in parts))


class KeyAdminError(Exception):
    """A request the key store cannot honour as asked (the message says why)."""


class KeyAdmin:
    """What the commands do, apart from parsing and printing (tests drive it with their own clock)."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock

    def create(
        self,
        tenant: str,
        scopes: Iterable[str],
        name: str = "",
        rate_limit: int = DEFAULT_RATE_LIMIT,
        expires_at: datetime | None = None,
        **extra: str,
    ) -> tuple[str, dict]:
        """A new key and its stored record. The key is returned once and never stored."""
        for _ in range(5):  # 36^8 prefixes: a collision is unlikely, and never overwrites a key
            key = generate_key()
            record = key_record(
                key, tenant, name, self.clock(), scopes=scopes, rate_limit=rate_limit, expires_at=expires_at
            )
            record.update(extra)
            try:
                self.store.put_key(record, only_new=True)
            except KeyExists:
                continue
            return key, record
        raise KeyAdminError("could not find an unused key prefix; try again")

    def list(self, tenant: str | None = None) -> list[dict]:
        records = [record for record in self.store.list_keys() if tenant is None or record["tenant"] == tenant]
        return sorted(records, key=lambda record: (record["tenant"], record.get("created_at", ""), record["prefix"]))

    def revoke(self, prefix: str) -> tuple[dict, bool]:
        """(record, newly revoked). Revoking twice keeps the first revocation time."""
        try:
            return self.store.update_key(prefix, {"revoked_at": iso(self.clock())}, only_if_absent="revoked_at"), True
        except ConditionFailed as already:
            return already.record, False

    def rotate(self, prefix: str, overlap: timedelta) -> tuple[str, dict, dict]:
        """A new key with the old one's tenant, name, scopes, limit and expiry; the old key keeps
        working for `overlap`, then expires. Returns (new key, new record, old record)."""
        now = self.clock()
        old = self.store.get_key(prefix)
        if old is None:
            raise NoSuchKey(prefix)
        if not is_active(old, now):
            raise KeyAdminError(f"key {prefix} is {key_status(old, now)}; create a new key instead")
        old_expiry = datetime.fromisoformat(old["expires_at"]) if old.get("expires_at") else None
        key, record = self.create(
            old["tenant"],
            old.get("scopes") or ("*",),
            old.get("name", ""),
            int(old.get("rate_limit") or DEFAULT_RATE_LIMIT),
            old_expiry,
            rotated_from=prefix,
        )
        overlap_end = now + overlap
        changes = {
            "expires_at": iso(min(overlap_end, old_expiry) if old_expiry else overlap_end),
            "rotated_to": record["prefix"],
        }
        return key, record, self.store.update_key(prefix, changes)

    def update(self, prefix: str, *, rate_limit: int | None = None, name: str | None = None) -> dict:
        changes: dict = {}
        if rate_limit is not None:
            changes["rate_limit"] = rate_limit
        if name is not None:
            changes["name"] = name
        if not changes:
            raise KeyAdminError("nothing to change: give --rate-limit and/or --name")
        return self.store.update_key(prefix, changes)


# --- presentation -------------------------------------------------------------------------------


def public(record: dict, now: datetime) -> dict:
    """What the commands show of a record: everything but the hash, plus its status now."""
    shown = {name: value for name, value in record.items() if name != "key_hash"}
    shown["status"] = key_status(record, now)
    return shown


_FIELDS = (
    ("prefix", "prefix"),
    ("tenant", "tenant"),
    ("name", "name"),
    ("scopes", "scopes"),
    ("rate_limit", "rate limit"),
    ("created_at", "created"),
    ("expires_at", "expires"),
    ("revoked_at", "revoked"),
    ("rotated_from", "rotated from"),
    ("rotated_to", "rotated to"),
    ("status", "status"),
)


def _text(name: str, value) -> str:
    if name == "scopes":
        return ", ".join(value)
    if name == "rate_limit":
        return f"{value} requests/minute"
    return str(value)


def describe(record: dict) -> str:
    width = max(len(label) for _, label in _FIELDS)
    defaults = {"expires_at": "never", "name": "-"}
    lines = []
    for name, label in _FIELDS:
        value = record.get(name) or defaults.get(name)
        if value:
            lines.append(f"  {label:<{width}}  {_text(name, value)}")
    return "\n".join(lines)


def table(records: list[dict]) -> str:
    columns = (
        ("prefix", "PREFIX"),
        ("tenant", "TENANT"),
        ("name", "NAME"),
        ("scopes", "SCOPES"),
        ("rate_limit", "LIMIT/MIN"),
        ("created_at", "CREATED"),
        ("expires_at", "EXPIRES"),
        ("status", "STATUS"),
    )
    rows = [[label for _, label in columns]]
    for record in records:
        rows.append(
            [
                ", ".join(record.get("scopes") or ())
                if name == "scopes"
                else str(record.get(name) or ("never" if name == "expires_at" else "-"))
                for name, _ in columns
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def emit(as_json: bool, document, text: str) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True) if as_json else text)


def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")(command)


def prefix_argument(command: Callable) -> Callable:
    def check(_ctx, _param, value: str) -> str:
        if "." in value:
            raise click.BadParameter("give the key's 8-character prefix, never the whole key")
        if not PREFIX_PATTERN.fullmatch(value):
            raise click.BadParameter("a key prefix is 8 letters or digits, as `keys list` shows it")
        return value

    return click.argument("prefix", callback=check)(command)


def _admin(target: Target) -> KeyAdmin:
    return KeyAdmin(target.store())


@contextmanager
def _answers(prefix: str | None = None) -> Iterator[None]:
    """Turn what the store says into a one-line error and exit status 1, not a traceback."""
    try:
        yield
    except NoSuchKey as exc:
        raise click.ClickException(f"no key with prefix {prefix}") from exc
    except KeyAdminError as exc:
        raise click.ClickException(str(exc)) from exc


def _scopes(_ctx, _param, values: tuple[str, ...]) -> tuple[str, ...]:
    try:
        return tuple(str(scope) for scope in parse_scopes(values))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _duration(_ctx, _param, value: str | None) -> timedelta | None:
    try:
        return None if value is None else parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


# --- commands -----------------------------------------------------------------------------------

RATE_LIMIT = click.IntRange(1, MAX_RATE_LIMIT)


@click.group()
def keys() -> None:
    """API keys: `<prefix>.<secret>`, stored as a SHA-256 hash, one tenant each, scoped and rate limited."""


@keys.command()
@target_options("keys_table")
@click.option("--tenant", required=True, help="Tenant the key's events belong to (a-z, 0-9, _ and -).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    callback=_scopes,
    # The registered families, read from ingest.registry (no family is imported for the help text).
    help=f"Repeatable. A family ({', '.join(catalog.family_names())}), * for all, or <family>:<name> / "
    "<family>:<prefix>* for a family whose routes name a resource (e.g. a dataset).",
)
@click.option("--name", default="", help="What the key is for (shown in `keys list`).")
@click.option(
    "--rate-limit", type=RATE_LIMIT, default=DEFAULT_RATE_LIMIT, show_default=True, help="Requests per minute."
)
@click.option("--expires-in", callback=_duration, help="Expire after this long (e.g. 90d); default never.")
@json_option
def create(target: Target, tenant: str, scopes, name: str, rate_limit: int, expires_in, as_json: bool) -> None:
    """Create a key. It is printed once: store it now."""
    admin = _admin(target)
    expires_at = admin.clock() + expires_in if expires_in is not None else None
    try:
        with _answers():
            key, record = admin.create(tenant, scopes, name, rate_limit, expires_at)
    except ValueError as exc:  # the tenant name: it becomes part of every item key
        raise click.BadParameter(str(exc), param_hint="--tenant") from exc
    shown = public(record, admin.clock())
    emit(
        as_json,
        {"key": key, **shown},
        f"Created an API key for tenant {tenant!r}. It is shown only this once; store it now:\n\n    {key}\n\n"
        + describe(shown),
    )


@keys.command("list")
@target_options("keys_table")
@click.option("--tenant", help="Only this tenant's keys.")
@json_option
def list_keys(target: Target, tenant: str | None, as_json: bool) -> None:
    """List keys (never their secrets)."""
    admin = _admin(target)
    now = admin.clock()
    records = [public(record, now) for record in admin.list(tenant)]
    emit(as_json, records, table(records) if records else "No keys.")


@keys.command()
@target_options("keys_table")
@prefix_argument
@json_option
def revoke(target: Target, prefix: str, as_json: bool) -> None:
    """Revoke a key at once (the handlers refuse it from the next request on)."""
    admin = _admin(target)
    with _answers(prefix):
        record, newly = admin.revoke(prefix)
    shown = public(record, admin.clock())
    what = "Revoked" if newly else "Already revoked"
    emit(as_json, {**shown, "newly_revoked": newly}, f"{what} key {prefix}:\n" + describe(shown))


@keys.command()
@target_options("keys_table")
@prefix_argument
@click.option(
    "--overlap",
    default=DEFAULT_OVERLAP,
    show_default=True,
    callback=_duration,
    help="How long the old key keeps working beside the new one (e.g. 1h, 7d, 0).",
)
@json_option
def rotate(target: Target, prefix: str, overlap: timedelta, as_json: bool) -> None:
    """Replace a key: a new key now, the old one expires after the overlap."""
    admin = _admin(target)
    with _answers(prefix):
        key, record, old = admin.rotate(prefix, overlap)
    now = admin.clock()
    new_shown, old_shown = public(record, now), public(old, now)
    emit(
        as_json,
        {"key": key, **new_shown, "old": old_shown},
        f"Rotated {prefix}. The new key is shown only this once; store it now:\n\n    {key}\n\n"
        + describe(new_shown)
        + f"\n\nThe old key {prefix} keeps working until {old_shown['expires_at']}.",
    )


@keys.command()
@target_options("keys_table")
@prefix_argument
@click.option("--rate-limit", type=RATE_LIMIT, help="Requests per minute.")
@click.option("--name", help="What the key is for.")
@json_option
def update(target: Target, prefix: str, rate_limit: int | None, name: str | None, as_json: bool) -> None:
    """Change a key's rate limit or name (takes effect on its next request)."""
    admin = _admin(target)
    with _answers(prefix):
        record = admin.update(prefix, rate_limit=rate_limit, name=name)
    shown = public(record, admin.clock())
    emit(as_json, shown, f"Updated key {prefix}:\n" + describe(shown))
