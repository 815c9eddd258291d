"""`python -m cli events list`: what was ingested, read back from the events table.

With --stream (DataHub provider, usage service, log dataset, ops event type) the listing is a
Query of the event-time index, shard by shard; without it, a Scan of the tenant's items (an
operator's command, fine for a look around, slow on a big table).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
import orjson

from cli.aws import Target, target_options
from cli.rejects import _moment
from ingest import catalog
from ingest.layout import StoredEvent
from ingest.readback import EventReader, to_epoch_ms
from ingest.store import Deadline

# Long enough for a large listing; the CLI is not bound by API Gateway's 29 s.
LISTING_BUDGET_SECONDS = 600


def _table(events: list[StoredEvent]) -> str:
    rows = [["EVENT TIME", "STREAM", "ID", "RECEIVED", "REQUEST", "EVENT"]]
    for event in events:
        payload = event.payload.decode("utf-8", "replace")  # the stored bytes, as they are
        rows.append([event.event_time, event.stream, event.id, event.received_at, event.request_id,
                     payload[:60] + ("…" if len(payload) > 60 else "")])
    widths = [min(72, max(len(row[i]) for row in rows)) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell[:width].ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


@click.group()
def events() -> None:
    """Stored events: read back what was ingested, tenant by tenant."""


@events.command("list")
@target_options("events_table")
@click.option("--tenant", required=True, help="The tenant whose events to list.")
@click.option("--family", required=True, type=click.Choice(catalog.family_names()), help="Which family's events.")
@click.option("--stream", "--dataset", "--provider", "stream",
              help="The family's stream: what it partitions its events by (a provider, a service, a dataset, "
              "an event type; `events list` without it shows them).")
@click.option("--since", callback=_moment, help="Event time at or after: 2024-03-10T23:00:00Z, 2024-03-10, 24h, 7d.")
@click.option("--until", callback=_moment, help="Event time at or before (same forms as --since).")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True, help="At most this many events.")
@click.option("--json", "as_json", is_flag=True, help="NDJSON on stdout: one stored event per line.")
def list_events(target: Target, tenant: str, family: str, stream: str | None, since: datetime | None,
                until: datetime | None, limit: int, as_json: bool) -> None:
    """List stored events by event time (oldest first)."""
    if since and until and until < since:
        raise click.BadParameter("--until is before --since", param_hint="--until")
    reader = EventReader(target.store(), target.settings, tenant, family)
    start_ms = to_epoch_ms(since) if since else None
    end_ms = to_epoch_ms(until) if until else None
    deadline = Deadline(LISTING_BUDGET_SECONDS)
    if stream:
        found = list(reader.between(stream, deadline, start_ms, end_ms, limit=limit))
    else:
        found = []
        for event in reader.scan(deadline, None, start_ms, end_ms):
            found.append(event)
            if len(found) >= limit:
                break
    found.sort(key=lambda event: (event.event_time_ms, event.stream, event.id))
    found = found[:limit]  # with shards, each shard gave up to `limit`: the oldest overall are kept
    if as_json:
        for event in found:
            # orjson embeds the stored bytes verbatim: a number like 1e400 prints as it was sent
            click.echo(orjson.dumps(event.as_dict()).decode())
        return
    if not found:
        click.echo(f"No {family} events for tenant {tenant!r}" + (f" in {stream!r}" if stream else "") + ".")
        return
    click.echo(_table(found))
    shown_at = datetime.now(UTC).strftime("%H:%M:%S")
    click.echo(f"{len(found)} event(s){' (limit reached)' if len(found) >= limit else ''}, read at {shown_at} UTC.",
               err=True)
