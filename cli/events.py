"""``kiosk events ...``: what is in the outbox and how far each event got."""

from __future__ import annotations

import json

import click

from cli.main import CliContext, pass_cli
from terminal.store.outbox import STATES, Outbox


def _open(ctx: CliContext) -> Outbox:
    config = ctx.config
    return Outbox.open(config.database_path, config.terminal.id, config.terminal.site)


@click.group()
def events() -> None:
    """Inspect the check-ins stored on this terminal."""


@events.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only events in this delivery state.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (oldest first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def list_events(ctx: CliContext, state: str | None, limit: int | None, as_json: bool) -> None:
    """List events oldest first with their delivery state."""
    outbox = _open(ctx)
    try:
        for row in outbox.rows(state=state, limit=limit):
            event = row.event
            if as_json:
                record = event.model_dump(mode="json")
                record.update(state=row.state, attempts=row.attempts, acked_at=row.acked_at)
                click.echo(json.dumps(record, ensure_ascii=False))
            else:
                distance = "" if event.distance is None else f"{event.distance:.3f}"
                click.echo(
                    f"{event.seq:>7} {row.state:<7} "
                    f"{event.captured_at.isoformat(timespec='seconds')} "
                    f"{event.person_id} {event.method.value} {distance} {event.event_id}"
                )
    finally:
        outbox.close()


@events.command("count")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@pass_cli
def count_events(ctx: CliContext, as_json: bool) -> None:
    """Count events in each delivery state."""
    outbox = _open(ctx)
    try:
        counts = outbox.counts()
    finally:
        outbox.close()
    counts_total = {**counts, "total": sum(counts.values())}
    if as_json:
        click.echo(json.dumps(counts_total))
    else:
        click.echo(" ".join(f"{state}={count}" for state, count in counts_total.items()))
