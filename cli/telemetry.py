"""`python -m cli telemetry list`: what a tenant's SDKs reported about their own health.

Telemetry routes (`Route.telemetry_stream` in the catalog, e.g. the usage SDK's lifecycle, extraction
issues and metrics reports) keep each report as one item of the route's stream, for the route's
short retention. This reads those streams by received time, newest last. `--keyless` reads the
reports sent without a key (a refused key's report), which belong to no tenant; what they kept of
a key is its SHA-256 (the keys table's hash: `keys list --json` shows which key it was) and prefix.
"""

from __future__ import annotations

from datetime import datetime

import click
import orjson

from cli.aws import Target, target_options
from cli.rejects import _moment
from ingest import catalog, layout
from ingest.layout import StoredEvent
from ingest.readback import EventReader, to_epoch_ms
from ingest.spec import Route
from ingest.store import Deadline

LISTING_BUDGET_SECONDS = 600


def telemetry_routes() -> list[Route]:
    return [route for route in catalog.ENDPOINTS if route.telemetry_stream]


def report_name(route: Route) -> str:
    """How the operator names a report: its stream without the `telemetry.` prefix (`lifecycle`)."""
    return route.telemetry_stream.split(".", 1)[-1]


def _table(rows: list[tuple[Route, StoredEvent]]) -> str:
    lines = [["RECEIVED", "REPORT", "USER AGENT", "REPORT BODY"]]
    for route, event in rows:
        body = event.payload.decode("utf-8", "replace")
        lines.append([event.received_at, report_name(route), event.attributes.get("user_agent", ""),
                      body[:80] + ("…" if len(body) > 80 else "")])
    widths = [min(80, max(len(line[i]) for line in lines)) for i in range(len(lines[0]))]
    return "\n".join("  ".join(cell[:width].ljust(width) for cell, width in zip(line, widths)).rstrip()
                     for line in lines)


@click.group()
def telemetry() -> None:
    """SDK telemetry: the reports clients send about their own health."""


@telemetry.command("list")
@target_options("events_table")
@click.option("--tenant", help="The tenant whose SDKs' reports to list.")
@click.option("--keyless", is_flag=True, help="Instead: the reports sent without a key (they belong to no tenant).")
@click.option("--report", "reports", multiple=True, type=click.Choice(sorted({report_name(r) for r in telemetry_routes()})),
              help="Only this report (repeatable); default: every report of the chosen kind.")
@click.option("--since", callback=_moment, help="Received at or after: 2024-03-10T23:00:00Z, 2024-03-10, 24h, 7d.")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many (the newest).")
@click.option("--json", "as_json", is_flag=True, help="NDJSON on stdout: one stored report per line.")
def list_reports(target: Target, tenant: str | None, keyless: bool, reports: tuple[str, ...], since: datetime | None,
                 limit: int, as_json: bool) -> None:
    """List stored telemetry reports (oldest first of the newest --limit)."""
    if keyless == bool(tenant):
        raise click.UsageError("give exactly one of --tenant or --keyless")
    owner = layout.KEYLESS_TENANT if keyless else tenant
    routes = [route for route in telemetry_routes()
              if route.keyless == keyless and (not reports or report_name(route) in reports)]
    deadline = Deadline(LISTING_BUDGET_SECONDS)
    start_ms = to_epoch_ms(since) if since else None
    found: list[tuple[Route, StoredEvent]] = []
    for route in routes:
        reader = EventReader(target.store(), target.settings, owner, route.family)
        found.extend((route, event) for event in reader.between(route.telemetry_stream, deadline, start_ms))
    # A report's event time is when it was received: the newest `limit`, shown oldest first.
    found.sort(key=lambda pair: (pair[1].event_time_ms, pair[1].id))
    found = found[-limit:]
    if as_json:
        for route, event in found:
            click.echo(orjson.dumps({**event.as_dict(), "report": report_name(route)}).decode())
        return
    if not found:
        click.echo("No telemetry reports" + (" sent without a key." if keyless else f" for tenant {tenant!r}."))
        return
    click.echo(_table(found))
    click.echo(f"{len(found)} report(s){' (limit reached)' if len(found) >= limit else ''}.", err=True)
