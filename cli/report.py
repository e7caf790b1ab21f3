"""``kiosk report shifts|sessions|programmes|month|delivery``: reports from the reference
receiver's database.

Each command reads the events from ``--db`` (``kiosk receive --db``), with the leave and
supervisors' corrections stored beside them (``kiosk leave``, ``kiosk corrections``), and the
schedule from ``--schedule``, and writes any of ``--csv``, ``--xlsx``, ``--png`` (shifts and
sessions) and ``--json`` (JSON on standard output); with none of them it prints a text table.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from central.reports.export import Sheet, participation_chart, write_csv, write_xlsx
from central.reports.inputs import open_store, parse_day, read_adjustments, streamed_events
from central.reports.month import month_days, month_summary
from central.reports.programmes import programme_report, programme_sessions
from central.reports.sessions import SessionReport, session_report_range, stream_session_report
from central.reports.shift_days import SHIFT_COLUMNS, ShiftRows
from central.reports.shift_output import ShiftOutputs, write_shift_report
from central.reports.shifts import shift_report_range
from central.reports.text import AlignedTable, programme_text, records, session_text
from cli.central_options import SCHEDULE_OPTION, database_option
from common.errors import KioskError
from common.schedule_file import load_schedule

OUT_FILE = click.Path(path_type=Path, dir_okay=False)

_COMMON = (
    database_option("The receiver's database (kiosk receive --db)."),
    SCHEDULE_OPTION,
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


def _write_tables(
    csv_path: Path | None,
    xlsx_path: Path | None,
    as_json: bool,
    sheets: Sequence[Sheet],
    document: dict[str, Any],
    counted: str,
) -> None:
    """The outputs a table report shares: its first sheet as ``--csv``, every sheet as
    ``--xlsx``, ``document`` as ``--json``; ``counted`` says what the files hold."""
    if csv_path:
        write_csv(csv_path, sheets[0].columns, sheets[0].rows)
        _wrote(csv_path, counted)
    if xlsx_path:
        write_xlsx(xlsx_path, sheets)
        _wrote(xlsx_path, counted)
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@report.command("shifts")
@_common_options
@click.option("--from", "start_text", required=True, metavar="YYYY-MM-DD", help="First day.")
@click.option("--to", "end_text", required=True, metavar="YYYY-MM-DD", help="Last day (included).")
def shifts(
    database: str,
    schedule_path: Path,
    csv_path: Path | None,
    xlsx_path: Path | None,
    png_path: Path | None,
    as_json: bool,
    start_text: str,
    end_text: str,
) -> None:
    """Daily shift attendance per person: late, early leave, absence and monthly flags.

    The check-ins are read in order, a chunk at a time, and each day's rows are written once
    the day is over: memory stays flat however long the range (XLSX holds its table)."""
    start, end = parse_day(start_text, "--from"), parse_day(end_text, "--to")
    if end < start:
        raise KioskError(f"--to {end_text} is before --from {start_text}")
    schedule = load_schedule(schedule_path)
    outputs = ShiftOutputs(csv_path, xlsx_path, png_path, as_json)
    out = sys.stdout
    window = shift_report_range(schedule, start, end)
    adjustments = read_adjustments(database, *window)
    with streamed_events(database, *window) as events:
        now = datetime.now(UTC)
        write_shift_report(events, schedule, start, end, now, outputs, out, _wrote, adjustments)
    out.flush()


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
    database: str,
    schedule_path: Path,
    csv_path: Path | None,
    xlsx_path: Path | None,
    png_path: Path | None,
    as_json: bool,
    session_ids: Sequence[str],
) -> None:
    """Training-session attendance: minutes present, participation, exits, lateness, leave,
    corrections, class hours, and the pairs of joint sessions.

    With --png and several sessions, one chart per session: FILE-<session id>.png. The XLSX
    workbook has a "Pairs" sheet when a session names pairs.
    """
    schedule = load_schedule(schedule_path)
    wanted = list(session_ids) or None
    try:
        window = session_report_range(schedule, wanted)
    except ValueError as exc:
        raise KioskError(f"{schedule_path}: {exc}") from None
    adjustments = read_adjustments(database, *window)
    with streamed_events(database, *window) as events:
        result = stream_session_report(events, schedule, wanted, adjustments)
    columns, rows = result.to_table()
    pairs = result.pairs_table()
    sheets = [Sheet("Attendance", columns, rows), Sheet("Sessions", *result.summary_table())]
    if pairs[1]:
        sheets.append(Sheet("Pairs", *pairs))
    document = {
        "report": "sessions",
        "timezone": schedule.timezone,
        "sessions": records(*result.summary_table()),
        "rows": records(columns, rows),
        "pairs": records(*pairs),
    }
    _write_tables(csv_path, xlsx_path, as_json, sheets, document, f"{len(rows)} rows")
    if png_path:
        _session_png(png_path, result)
    if not (csv_path or xlsx_path or png_path or as_json):
        click.echo(session_text(result))


@report.command("programmes")
@database_option("The receiver's database (kiosk receive --db).")
@SCHEDULE_OPTION
@click.option(
    "--programme", "programme_ids", multiple=True, metavar="ID", help="Only this programme."
)
@click.option("--csv", "csv_path", type=OUT_FILE, help="Write the table as CSV (UTF-8, BOM).")
@click.option("--xlsx", "xlsx_path", type=OUT_FILE, help="Write an XLSX workbook.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def programmes(
    database: str,
    schedule_path: Path,
    programme_ids: Sequence[str],
    csv_path: Path | None,
    xlsx_path: Path | None,
    as_json: bool,
) -> None:
    """Training programmes per person: sessions attended, missed, on leave and unverified,
    class hours credited, lates, and the qualification lost at the programme's lateness
    limit (default 2 lates).

    Reads the check-ins, leave and corrections of every session of the programmes (all of the
    schedule's when no --programme is given).
    """
    schedule = load_schedule(schedule_path)
    wanted = list(programme_ids) or None
    try:
        session_ids = programme_sessions(schedule, wanted)
        window = session_report_range(schedule, session_ids)
    except ValueError as exc:
        raise KioskError(f"{schedule_path}: {exc}") from None
    adjustments = read_adjustments(database, *window)
    with streamed_events(database, *window) as events:
        sessions_result = stream_session_report(events, schedule, session_ids, adjustments)
    result = programme_report(sessions_result, schedule, wanted)
    columns, rows = result.to_table()
    sheets = [Sheet("Programmes", columns, rows), Sheet("Sessions", *sessions_result.to_table())]
    document = {
        "report": "programmes",
        "timezone": schedule.timezone,
        "rows": records(columns, rows),
        "sessions": records(*sessions_result.summary_table()),
    }
    _write_tables(csv_path, xlsx_path, as_json, sheets, document, f"{len(rows)} rows")
    if not (csv_path or xlsx_path or as_json):
        click.echo(programme_text(result))


@report.command("delivery")
@database_option("The receiver's database (kiosk receive --db).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per terminal.")
def delivery(database: str, as_json: bool) -> None:
    """Per terminal: events stored, highest seq, seqs missing (events lost or still on the
    way), duplicates, seqs reused (the terminal lost its database), conflicts and refusals."""
    store = open_store(database)
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


MONTH_TEXT_COLUMNS = (
    "month", "person_id", "scheduled_days", "worked_days", "leave_days", "absence_days",
    "lates", "early_leaves", "bonus_stopped", "hours_worked", "unverified_days",
)  # fmt: skip
"""The month summary's columns in the text table (the files carry all)."""


@report.command("month")
@database_option("The receiver's database (kiosk receive --db).")
@SCHEDULE_OPTION
@click.option("--month", "month", required=True, metavar="YYYY-MM", help="The calendar month.")
@click.option("--csv", "csv_path", type=OUT_FILE, help="Write the summary as CSV (UTF-8, BOM).")
@click.option("--xlsx", "xlsx_path", type=OUT_FILE, help="Write a workbook: summary, days, legend.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def month(
    database: str,
    schedule_path: Path,
    month: str,
    csv_path: Path | None,
    xlsx_path: Path | None,
    as_json: bool,
) -> None:
    """The month summary for payroll, one row per person: days scheduled and worked, leave
    days by kind, half- and full-day absences, lates and early leaves, the bonus flag, hours.

    Leave and supervisors' corrections (kiosk leave, kiosk corrections) are applied."""
    try:
        first, last = month_days(month)
    except ValueError as exc:
        raise KioskError(f"--month {exc}") from None
    schedule = load_schedule(schedule_path)
    window = shift_report_range(schedule, first, last)
    adjustments = read_adjustments(database, *window)
    render = ShiftRows(schedule.zone)
    day_rows: list[list[object]] = []
    keep = (lambda d: day_rows.append(render.row(d))) if xlsx_path else None
    with streamed_events(database, *window) as events:
        summary = month_summary(events, schedule, month, datetime.now(UTC), adjustments, keep)
    columns, rows = summary.to_table()
    sheets = [
        Sheet(f"Month {month}", columns, rows),
        Sheet("Days", SHIFT_COLUMNS, day_rows),
        Sheet("Columns", *summary.legend_table()),
    ]
    document = {
        "report": "month",
        "month": month,
        "timezone": schedule.timezone,
        "rows": records(columns, rows),
    }
    _write_tables(csv_path, xlsx_path, as_json, sheets, document, f"{len(rows)} people")
    if not (csv_path or xlsx_path or as_json):
        table = AlignedTable(MONTH_TEXT_COLUMNS)
        shown = [columns.index(name) for name in MONTH_TEXT_COLUMNS]
        for row in rows:
            table.add([row[i] for i in shown])
        click.echo(f"Month summary {month} ({schedule.timezone}); all columns: --csv or --xlsx")
        click.echo("")
        for line in table.lines() if rows else ["(no scheduled shifts)"]:
            click.echo(line)
