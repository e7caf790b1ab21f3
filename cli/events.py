"""``kiosk events ...``: what is in the outbox and how far each event got.

``events list`` prints a table for people: the local time of each check-in, the person's id
and name (from the people enrolled on this kiosk, by ``kiosk enroll`` or a roster), direction,
method, the schedule's verdict and the delivery state, under a header; the database it read
is named on stderr. ``--json`` prints each event as it is delivered to the central side (the
``checkin-event.v1.json`` message) plus its delivery state, one per line.

Schema versions: the wire's ``schema_version`` is the contract's major version, an integer,
and stays 1 while fields are only added. The docs' "schema 1.1" is the revision of the v1
schema that added ``direction``, ``schedule_ref``, ``verdict`` and ``verdict_minutes`` (all
optional): a 1.1 event still says ``"schema_version": 1``, and so does ``events list --json``,
which prints the event unchanged.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime

import click

from cli.main import CliContext, pass_cli
from models.messages import CheckInEvent
from terminal.store.gallery import Gallery
from terminal.store.outbox import STATES, Outbox, OutboxRow

COLUMNS = ("seq", "time", "person", "name", "direction", "method", "verdict", "state")
"""The table's columns (``time`` is local time, its zone in the header)."""

NOT_ENROLLED = "(not enrolled)"
"""The name shown for a person no longer enrolled on this kiosk."""


def _open(ctx: CliContext) -> Outbox | None:
    """The outbox, or None (said on stderr) when this kiosk has no database yet: a read must
    not create one."""
    config = ctx.config
    path = config.database_path
    if not path.exists():
        click.echo(f"no kiosk database at {path}: nothing was checked in here yet", err=True)
        return None
    return Outbox.open(path, config.terminal.id, config.terminal.site)


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table_lines(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header, a rule and the rows, each column as wide as its widest cell (by display
    width, so Chinese names line up)."""
    widths = [
        max(display_width(cell) for cell in column) for column in zip(columns, *rows, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (w - display_width(c)) for c, w in zip(cells, widths, strict=True)]
        return "  ".join(padded).rstrip()

    return [line(columns), "  ".join("-" * width for width in widths), *map(line, rows)]


def _verdict(event: CheckInEvent) -> str:
    if event.verdict is None:
        return "-"
    if event.verdict_minutes:
        return f"{event.verdict.value} {event.verdict_minutes} min"
    return event.verdict.value


def table_row(row: OutboxRow, names: dict[str, str]) -> list[str]:
    """One event as the cells of :data:`COLUMNS`."""
    event = row.event
    local = event.captured_at.astimezone()
    return [
        str(event.seq),
        local.strftime("%Y-%m-%d %H:%M:%S"),
        event.person_id,
        names.get(event.person_id, NOT_ENROLLED),
        event.direction.value if event.direction is not None else "-",
        event.method.value,
        _verdict(event),
        row.state,
    ]


def json_record(row: OutboxRow) -> dict[str, object]:
    """The event as delivered (``schema_version`` 1, see the module) with its delivery state."""
    record: dict[str, object] = row.event.model_dump(mode="json")
    record.update(state=row.state, attempts=row.attempts, acked_at=row.acked_at)
    return record


@click.group()
def events() -> None:
    """Inspect the check-ins stored on this terminal."""


@events.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only events in this delivery state.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (oldest first).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line: the event as delivered (checkin-event.v1.json, whose"
    ' "schema_version" stays 1 with the 1.1 fields) and its state, attempts and acked_at.',
)
@pass_cli
def list_events(ctx: CliContext, state: str | None, limit: int | None, as_json: bool) -> None:
    """List events oldest first: a table of the local time, person id and name, direction
    (in/out), method, verdict and delivery state (pending: not yet sent; sent: waiting for the
    central acknowledgement; acked: stored centrally)."""
    outbox = _open(ctx)
    if outbox is None:
        return
    try:
        rows = outbox.rows(state=state, limit=limit)
        names = {} if as_json else Gallery(outbox.db).names()
    finally:
        outbox.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(json_record(row), ensure_ascii=False))
        return
    zone = datetime.now().astimezone().strftime("%Z")
    columns = [f"time ({zone})" if name == "time" else name for name in COLUMNS]
    if rows:
        click.echo("\n".join(table_lines(columns, [table_row(row, names) for row in rows])))
    which = f" {state}" if state else ""
    count = f"{len(rows)}{which} event" + ("" if len(rows) == 1 else "s")
    click.echo(f"{count} in {ctx.config.database_path}", err=True)


@events.command("count")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@pass_cli
def count_events(ctx: CliContext, as_json: bool) -> None:
    """Count events in each delivery state."""
    outbox = _open(ctx)
    if outbox is None:
        counts = dict.fromkeys(STATES, 0)
    else:
        try:
            counts = outbox.counts()
        finally:
            outbox.close()
    counts_total = {**counts, "total": sum(counts.values())}
    if as_json:
        click.echo(json.dumps(counts_total))
    else:
        click.echo(" ".join(f"{state}={count}" for state, count in counts_total.items()))
