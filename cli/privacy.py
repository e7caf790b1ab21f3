"""``kiosk privacy log``: the face processing log of this kiosk, for the impact assessment.

Exports what :mod:`terminal.store.processing_log` recorded: consent recorded, templates made
and deleted, and face check-ins counted per person and day (never a face, never a template).
A removed person appears only by their ``person_ref`` (a keyed hash), not their id.
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from typing import Any

import click
import sqlite_utils

from cli.main import CliContext, pass_cli
from common.errors import StoreError
from terminal.doctor.database import open_read_only
from terminal.store.processing_log import EXPORT_COLUMNS, export_rows
from terminal.store.schema import register_person_ref

_DAY = click.DateTime(formats=["%Y-%m-%d"])


@click.group()
def privacy() -> None:
    """The face data this kiosk processed: its processing log."""


@privacy.command("log")
@click.option("--since", type=_DAY, help="From this day (UTC, YYYY-MM-DD) [the beginning].")
@click.option("--until", type=_DAY, help="Up to, not including, this day (UTC) [now].")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_cli
def log_command(ctx: CliContext, since: Any, until: Any, as_json: bool) -> None:
    """Print the processing log as CSV (UTF-8, a header row) or JSON lines, oldest first.

    Columns: at, action (consent_recorded, template_created, template_used, template_deleted),
    person_id (empty once removed), person_ref, templates, uses (face check-ins that day, for
    template_used), detail.
    """
    path = ctx.config.database_path
    if not path.exists():
        raise StoreError(f"{path}: no kiosk database, so no processing log")
    low = None if since is None else since.replace(tzinfo=UTC)
    high = None if until is None else until.replace(tzinfo=UTC)
    if low is not None and high is not None and high <= low:
        raise click.UsageError("--until must be after --since")
    conn = open_read_only(path)
    try:
        register_person_ref(conn)
        rows = list(export_rows(sqlite_utils.Database(conn), low, high))
    finally:
        conn.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps(dict(zip(EXPORT_COLUMNS, _values(row), strict=True)),
                                  ensure_ascii=False))  # fmt: skip
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(_values(row) for row in rows)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    click.echo(f"{len(rows)} rows from the processing log of {path} (exported {stamp})", err=True)


def _values(row: Any) -> tuple[Any, ...]:
    return (row.at, row.action, row.person_id, row.person_ref, row.templates, row.uses,
            row.detail)  # fmt: skip
