"""``kiosk report shifts|sessions|delivery``: reports from the reference receiver's database.

Each command reads the events from ``--db`` (``kiosk receive --db``) and the schedule from
``--schedule``, and writes any of ``--csv``, ``--xlsx``, ``--png`` and ``--json`` (JSON on
standard output); with none of them it prints a text table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from central.receiver.store import ReceiverStore
from central.reports.export import (
    DayCounts,
    Sheet,
    daily_chart,
    participation_chart,
    write_csv,
    write_xlsx,
)
from central.reports.inputs import load_events, parse_day
from central.reports.sessions import SessionReport, session_report, session_report_range
from central.reports.shifts import ShiftReport, shift_report, shift_report_range
from central.reports.text import records, session_text, shift_text
from common.errors import KioskError
from common.schedule_file import load_schedule

OUT_FILE = click.Path(path_type=Path, dir_okay=False)

_COMMON = (
    click.option(
        "--db",
        "db_path",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="SQLite file of the receiver (kiosk receive --db).",
    ),
    click.option(
        "--schedule",
        "schedule_path",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Schedule JSON (schedule.v1.json).",
    ),
    click.option("--csv", "csv_path", type=OUT_FILE, help="Write the table as CSV (UTF-8, BOM)."),
    click.option("--xlsx", "xlsx_path", type=OUT_FILE, help="Write an XLSX workbook."),
    click.option("--png", "png_path", type=OUT_FILE, help="Write a PNG chart."),
    click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
)


def _common_options(command: Any) -> Any:
    for option in reversed(_COMMON):
        command = option(command)
    return command


@click.group("report")
def report() -> None:
    """Shift and training-session attendance, and delivery per terminal, from the receiver's
    database."""


def _wrote(path: Path, what: str) -> None:
    click.echo(f"wrote {path} ({what})", err=True)


def day_counts(shifts: ShiftReport) -> list[DayCounts]:
    """Per day, each judged person-shift in one category, for the daily chart."""
    counts: dict[Any, list[int]] = {}
    category = {"present": 0, "no_verdict_clock": 0, "late": 1, "late_and_early_leave": 1}
    category |= {"early_leave": 2, "absent": 3}
    for day in shifts.days:
        row = counts.setdefault(day.occurrence.day, [0, 0, 0, 0])
        if day.status in category:  # "open": still running, not judged yet
            row[category[day.status]] += 1
    return [DayCounts(day, *counts[day]) for day in sorted(counts)]


@report.command("shifts")
@_common_options
@click.option("--from", "start_text", required=True, metavar="YYYY-MM-DD", help="First day.")
@click.option("--to", "end_text", required=True, metavar="YYYY-MM-DD", help="Last day (included).")
def shifts(
    db_path: Path,
    schedule_path: Path,
    csv_path: Path | None,
    xlsx_path: Path | None,
    png_path: Path | None,
    as_json: bool,
    start_text: str,
    end_text: str,
) -> None:
    """Daily shift attendance per person: late, early leave, absence and monthly flags."""
    start, end = parse_day(start_text, "--from"), parse_day(end_text, "--to")
    if end < start:
        raise KioskError(f"--to {end_text} is before --from {start_text}")
    schedule = load_schedule(schedule_path)
    events = load_events(db_path, *shift_report_range(schedule, start, end))
    result = shift_report(events, schedule, start, end, now=datetime.now(UTC))
    columns, rows = result.to_table()
    if csv_path:
        write_csv(csv_path, columns, rows)
        _wrote(csv_path, f"{len(rows)} rows")
    if xlsx_path:
        write_xlsx(
            xlsx_path,
            [
                Sheet("Shifts", columns, rows),
                Sheet("Daily", *result.daily_table()),
                Sheet("Monthly flags", *result.flags_table()),
                Sheet("Unscheduled", *result.unscheduled_table()),
            ],
        )
        _wrote(xlsx_path, f"{len(rows)} rows")
    if png_path:
        daily_chart(png_path, day_counts(result), f"Shift attendance {start} to {end}")
        _wrote(png_path, "daily chart")
    if as_json:
        document = {
            "report": "shifts",
            "from": start.isoformat(),
            "to": end.isoformat(),
            "timezone": schedule.timezone,
            "rows": records(columns, rows),
            "daily": records(*result.daily_table()),
            "flagged": records(*result.flags_table()),
            "unscheduled": records(*result.unscheduled_table()),
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    if not (csv_path or xlsx_path or png_path or as_json):
        click.echo(shift_text(result))


def _session_png(path: Path, result: SessionReport) -> None:
    threshold = result.schedule.rules.participation_threshold
    for entry in result.sessions:
        target = path
        if len(result.sessions) > 1:
            target = path.with_name(f"{path.stem}-{entry.session.session_id}{path.suffix}")
        people = [
            (a.person_id if a.expected else f"{a.person_id} (not expected)", a.participation)
            for a in entry.attendance
        ]
        title = f"{entry.session.title} ({entry.session.session_id})"
        participation_chart(target, title, people, threshold)
        _wrote(target, f"participation chart of {entry.session.session_id}")


@report.command("sessions")
@_common_options
@click.option(
    "--session", "session_ids", multiple=True, metavar="ID", help="Only this session (repeat)."
)
def sessions(
    db_path: Path,
    schedule_path: Path,
    csv_path: Path | None,
    xlsx_path: Path | None,
    png_path: Path | None,
    as_json: bool,
    session_ids: Sequence[str],
) -> None:
    """Training-session attendance: minutes present, participation, exits, class hours.

    With --png and several sessions, one chart per session: FILE-<session id>.png.
    """
    schedule = load_schedule(schedule_path)
    wanted = list(session_ids) or None
    try:
        window = session_report_range(schedule, wanted)
    except ValueError as exc:
        raise KioskError(f"{schedule_path}: {exc}") from None
    events = load_events(db_path, *window)
    result = session_report(events, schedule, wanted)
    columns, rows = result.to_table()
    if csv_path:
        write_csv(csv_path, columns, rows)
        _wrote(csv_path, f"{len(rows)} rows")
    if xlsx_path:
        write_xlsx(
            xlsx_path,
            [Sheet("Attendance", columns, rows), Sheet("Sessions", *result.summary_table())],
        )
        _wrote(xlsx_path, f"{len(rows)} rows")
    if png_path:
        _session_png(png_path, result)
    if as_json:
        document = {
            "report": "sessions",
            "timezone": schedule.timezone,
            "sessions": records(*result.summary_table()),
            "rows": records(columns, rows),
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    if not (csv_path or xlsx_path or png_path or as_json):
        click.echo(session_text(result))


@report.command("delivery")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file of the receiver (kiosk receive --db).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per terminal.")
def delivery(db_path: Path, as_json: bool) -> None:
    """Per terminal: events stored, highest seq, seqs missing (events lost or still on the
    way), duplicates, seqs reused (the terminal lost its database), conflicts and refusals."""
    if not db_path.is_file():
        raise KioskError(f"{db_path}: no such receiver database (kiosk receive --db)")
    store = ReceiverStore(db_path)
    try:
        summaries = store.terminals()
    finally:
        store.close()
    if as_json:
        for summary in summaries:
            click.echo(json.dumps(dataclasses.asdict(summary)))
        return
    click.echo(
        "terminal\tevents\thighest_seq\tmissing\tduplicates\treused_seqs\tconflicts\trejects"
    )
    for s in summaries:
        click.echo(
            f"{s.terminal_id}\t{s.events}\t{s.highest_seq}\t{s.missing}\t{s.duplicates}"
            f"\t{s.reused_seqs}\t{s.conflicts}\t{s.rejects}"
        )
    if not summaries:
        click.echo("no terminal has delivered anything yet", err=True)
