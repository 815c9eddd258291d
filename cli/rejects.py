"""`python -m cli rejects ...`: list, show, export and replay rejected requests and events.

Rejects live in the rejects bucket (ingest.rejects); a replay goes through the very pipeline a live
request takes (ingest.replay). Typical fix-and-replay:

    python -m cli rejects list --tenant acme --error-text "fixed dimension"
    python -m cli rejects export --tenant acme --error-text "fixed dimension" > fix.ndjson
    $EDITOR fix.ndjson                      # correct the "event" of each line
    python -m cli rejects replay --from fix.ndjson --dry-run
    python -m cli rejects replay --from fix.ndjson

Exit status: 0 when everything asked for was stored (or skipped as already replayed), 1 when
something was rejected again, missing or failed, 2 for bad input (nothing replayed).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.aws import Target, target_options
from ingest.layout import REJECTS, REPLAYED
from ingest.rejects import Reject, RejectNotFound, parse_moment
from ingest.replay import Replayer, ReplayError, ReplayResult, group_lines, read_ndjson

_RESOURCES = ("events_table", "keys_table", "rejects_bucket")


def _moment(_ctx, _param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_moment(value, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def selection_options(command):
    """The filters `list`, `export` and `replay` share."""
    options = [
        click.option("--tenant", help="Only this tenant's rejects."),
        click.option("--endpoint", help="Only this endpoint's rejects (its route name, as its folder under functions/)."),
        click.option("--since", callback=_moment, help="Received at or after: 2024-03-10T23:00:00Z, 2024-03-10, 24h, 7d."),
        click.option("--until", callback=_moment, help="Received at or before (same forms as --since)."),
        click.option("--error-text", help="Only rejects with an error containing this text (case-insensitive)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _replayer(target: Target) -> Replayer:
    return Replayer(target.store(), target.settings)


def _select(replayer: Replayer, ids: tuple[str, ...], *, archived: bool = False, **filters) -> list[Reject]:
    if ids:
        found = []
        for reference in ids:
            try:
                found.append(replayer.rejects.find(reference, tenant=filters.get("tenant")))
            except RejectNotFound as exc:
                raise click.ClickException(f"no reject {reference!r} (neither in rejects/ nor replayed/)") from exc
        return found
    return replayer.rejects.select(area=REPLAYED if archived else REJECTS, **filters)


def _table(rows: list[dict]) -> str:
    columns = (("id", "ID"), ("tenant", "TENANT"), ("endpoint", "ENDPOINT"), ("received_at", "RECEIVED"),
               ("errors", "ERRORS"), ("first_error", "FIRST ERROR"))
    cells = [[label for _, label in columns]]
    for row in rows:
        cells.append([str(row.get(name) if row.get(name) is not None else "-") for name, _ in columns])
    widths = [min(70, max(len(line[i]) for line in cells)) for i in range(len(columns))]
    return "\n".join("  ".join(cell[:width].ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells)


@click.group()
def rejects() -> None:
    """Rejected requests and events, kept raw in S3: find them, fix them, replay them."""


@rejects.command("list")
@target_options(*_RESOURCES)
@selection_options
@click.option("--replayed", "archived", is_flag=True, help="List replayed rejects (replayed/) instead.")
@click.option("--limit", type=click.IntRange(1), help="At most this many (oldest first).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def list_rejects(target: Target, archived: bool, limit: int | None, as_json: bool, **filters) -> None:
    """List rejects, oldest first."""
    found = _replayer(target).rejects.select(area=REPLAYED if archived else REJECTS, limit=limit, **filters)
    rows = [reject.summary() for reject in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(_table(rows) if rows else "No rejects.")


@rejects.command()
@target_options(*_RESOURCES)
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
def show(target: Target, reference: str, as_json: bool) -> None:
    """Show one reject: REFERENCE is its request id (X-Request-Id) or its S3 key."""
    replayer = _replayer(target)
    try:
        reject = replayer.rejects.find(reference)
    except RejectNotFound as exc:
        raise click.ClickException(f"no reject {reference!r} (neither in rejects/ nor replayed/)") from exc
    try:
        lines = replayer.export(reject)
    except ReplayError as exc:
        lines, problem = [], str(exc)
    else:
        problem = None
    document = {"key": reject.key.json_key, "meta": reject.meta, "events": lines}
    if as_json:
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    meta = reject.meta
    click.echo(f"Reject {reject.request_id}  ({'replayed' if reject.key.area == REPLAYED else 'live'})")
    for label, value in (("key", reject.key.json_key), ("tenant", reject.tenant), ("endpoint", reject.endpoint),
                         ("received", reject.received_at), ("request", f"{meta.get('method')} {meta.get('path')}"),
                         ("headers", json.dumps(meta.get("headers") or {})),
                         ("kept", "the whole request body" if reject.whole_request else "the rejected events only")):
        click.echo(f"  {label:<9} {value}")
    click.echo("  errors:")
    for error in reject.errors:
        where = f"event {error.get('index')}" if error.get("index") is not None else "request"
        click.echo(f"    - [{where}] {error.get('path') or '(body)'}: {error.get('message')}")
    if meta.get("replay"):
        click.echo(f"  replayed  {json.dumps(meta['replay'])}")
    if meta.get("replay_of"):
        click.echo(f"  replay of {meta['replay_of']}")
    if problem:
        click.echo(f"  ({problem})")
    for line in lines:
        shown = line.get("raw", line.get("event", line.get("body", line.get("body_base64"))))
        text = json.dumps(shown, ensure_ascii=False) if not isinstance(shown, str) else shown
        label = f"event {line['index']}" if line.get("index") is not None else "body"
        click.echo(f"  {label}: {text[:2000]}{' …' if len(text) > 2000 else ''}")


@rejects.command()
@target_options(*_RESOURCES)
@click.argument("ids", nargs=-1)
@selection_options
@click.option("--replayed", "archived", is_flag=True, help="Export replayed rejects (replayed/) instead.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
def export(target: Target, ids: tuple[str, ...], archived: bool, output: str | None, **filters) -> None:
    """Export rejects as NDJSON (one line per event) for editing and `replay --from`.

    IDS are request ids or S3 keys; without them, the filters select (all live rejects if none)."""
    replayer = _replayer(target)
    found = _select(replayer, ids, archived=archived, **filters)
    out = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115 (stdout is not closed)
    count = 0
    try:
        for reject in found:
            try:
                lines = replayer.export(reject)
            except ReplayError as exc:
                click.echo(f"skipped {reject.request_id}: {exc}", err=True)
                continue
            for line in lines:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if output:
            out.close()
    click.echo(f"Exported {count} line(s) from {len(found)} reject(s).", err=True)


def _report(result: ReplayResult) -> str:
    marks = {"stored": "stored", "skipped": "skipped", "would-store": "would store", "would-reject": "WOULD REJECT",
             "rejected": "REJECTED AGAIN", "missing": "MISSING", "failed": "FAILED"}
    line = f"{marks.get(result.status, result.status):<14} {result.request_id} ({result.endpoint}): {result.message}"
    for error in result.errors[:10]:
        where = f"[{error.get('index')}] " if error.get("index") is not None else ""
        line += f"\n    {where}{error.get('path') or '(body)'}: {error.get('message')}"
    if result.new_reject:
        line += f"\n    new reject: {result.new_reject}"
    return line


@rejects.command()
@target_options(*_RESOURCES)
@click.argument("ids", nargs=-1)
@selection_options
@click.option("--from", "source", type=click.Path(exists=True, dir_okay=False), help="Replay edited NDJSON lines.")
@click.option("--all", "everything", is_flag=True, help="Replay every live reject the filters select (or all).")
@click.option("--dry-run", is_flag=True, help="Validate only: say what would be stored or rejected; write nothing.")
@click.option("--force", is_flag=True, help="Replay rejects already replayed too (still stored once).")
@click.option("--json", "as_json", is_flag=True, help="One JSON result per reject on stdout.")
def replay(target: Target, ids: tuple[str, ...], source: str | None, everything: bool, dry_run: bool, force: bool,
           as_json: bool, **filters) -> None:
    """Replay rejects through the ingest pipeline: as they are (IDS, or filters with --all), or
    edited (--from FILE written by `rejects export`)."""
    replayer = _replayer(target)
    if source:
        if ids or everything or any(filters.values()):
            raise click.UsageError("--from replays exactly the file's lines; give no ids, filters or --all with it")
        try:
            groups = group_lines(read_ndjson(Path(source).read_text(encoding="utf-8"), source))
        except (ReplayError, UnicodeDecodeError) as exc:
            click.echo(f"Nothing replayed:\n{exc}", err=True)
            sys.exit(2)
        work = [(reference, lines) for reference, lines in groups.items()]
        origin = f"file:{Path(source).name}"
    else:
        if not ids and not everything:
            raise click.UsageError("name rejects to replay (ids), or select them with filters and --all, or --from FILE")
        work = [(reject.key.json_key, None) for reject in _select(replayer, ids, **filters)]
        origin = "as-is"
    results: list[ReplayResult] = []
    with click.progressbar(work, label="Replaying" if not dry_run else "Checking", file=sys.stderr,
                           item_show_func=lambda item: item[0].rsplit("/", 1)[-1] if item else "") as bar:
        for reference, lines in bar:
            results.append(replayer.replay(reference, lines, dry_run=dry_run, force=force, source=origin))
    for result in results:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False) if as_json else _report(result))
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "nothing to replay"
    click.echo(f"{'Dry run: ' if dry_run else ''}{len(results)} reject(s): {summary}.", err=True)
    if any(not result.ok for result in results):
        sys.exit(1)
