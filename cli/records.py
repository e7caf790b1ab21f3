"""``kiosk leave`` and ``kiosk corrections``: the HR records beside the terminals' check-ins.

- ``kiosk leave import FILE`` stores approved leave and excused absence from the HR system's
  CSV or JSON export (:mod:`central.records.leave_file`), all rows or none; a leave id stored
  before is replaced. ``kiosk leave list`` and ``kiosk leave cancel`` show and cancel them.
- ``kiosk corrections add|void|list``: a supervisor's signed-off correction, a check-in added
  or a stored one voided, never by editing the terminal's event.

Every command works on the receiver's database (``--db``, as ``kiosk report``), which must
exist (an SQLite file is never created here), and names it in what it prints. Local times are
in the zone of ``--schedule FILE`` or ``--timezone ZONE``. Every error is one line, exit 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from pydantic import ValidationError

from central.db.url import parse_database_url
from central.records.leave_file import read_leave_file
from central.records.store import RecordsStore
from central.reports.text import text_table
from cli.central_options import database_option
from common.errors import KioskError, RecordError
from common.schedule_file import describe_validation, load_schedule
from models.hr_records import CheckInCorrection, StoredCorrection, StoredLeave

_DB_HELP = "The receiver's database (kiosk receive --db)."
_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

_ZONE_OPTIONS = (
    click.option(
        "--schedule",
        "schedule_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Schedule JSON: local times are in its time zone.",
    ),
    click.option(
        "--timezone",
        "timezone",
        default=None,
        metavar="ZONE",
        help="IANA time zone of local times (instead of --schedule), e.g. Asia/Shanghai.",
    ),
)


def _zone_options(command: Any) -> Any:
    for option in reversed(_ZONE_OPTIONS):
        command = option(command)
    return command


def local_zone(schedule_path: Path | None, timezone: str | None) -> ZoneInfo:
    """The zone of local times: the schedule's, or ``--timezone``'s (exactly one given)."""
    if (schedule_path is None) == (timezone is None):
        raise click.UsageError("give --schedule FILE or --timezone ZONE (the zone of local times)")
    if schedule_path is not None:
        return load_schedule(schedule_path).zone
    try:
        return ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise KioskError(
            f"--timezone {timezone!r}: unknown time zone (e.g. Asia/Shanghai)"
        ) from None


@contextmanager
def records_store(location: str) -> Iterator[RecordsStore]:
    """The HR records of the existing receiver database at ``location`` (an SQLite file is
    never created: a missing one is a one-line error, as for ``kiosk report``)."""
    url = parse_database_url(location)
    if url.dialect == "sqlite" and not (url.path and url.path.is_file()):
        raise KioskError(f"{url}: no such receiver database (run kiosk receive --db first)")
    store = RecordsStore(url)
    try:
        yield store
    finally:
        store.close()


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KioskError(f"{option} {value!r}: not a date, use YYYY-MM-DD") from None


def _local_moment(value: str, zone: ZoneInfo, option: str) -> datetime:
    """``YYYY-MM-DD HH:MM[:SS]`` local in ``zone`` (or with an offset) as an aware time."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("T", " ").replace("Z", "+00:00"))
    except ValueError:
        raise KioskError(f"{option} {value!r}: not a time, use YYYY-MM-DD HH:MM") from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _shown(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _period(leave: StoredLeave, zone: ZoneInfo) -> tuple[str, str]:
    """From and to as shown: whole local days as days (``to`` included), else local times."""
    start, end = leave.start.astimezone(zone), leave.end.astimezone(zone)
    if start.time() == time(0) and end.time() == time(0):
        return start.date().isoformat(), (end.date() - timedelta(days=1)).isoformat()
    return _shown(start, zone), _shown(end, zone)


def _echo_json(items: list[Any]) -> None:
    click.echo(json.dumps([i.model_dump(mode="json") for i in items], ensure_ascii=False, indent=2))


# -- leave ---------------------------------------------------------------------------------------


@click.group("leave")
def leave() -> None:
    """Approved leave and excused absence (请假): import the HR system's file, list, cancel.

    Time on leave counts as leave of its kind in the reports, never as absence or lateness."""


@leave.command("import")
@database_option(_DB_HELP)
@_zone_options
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file only; store nothing.")
def leave_import(
    database: str, schedule_path: Path | None, timezone: str | None, file: Path, dry_run: bool
) -> None:
    """Import leave from FILE: CSV (header leave_id,person_id,kind,from,to[,note,approved_by];
    UTF-8, a BOM allowed) or JSON (a list of those objects, or {"leave": [...]}).

    from and to are days (YYYY-MM-DD, to included) or local times (YYYY-MM-DD HH:MM, to is
    the first minute no longer on leave). All rows or none: a bad row stores nothing. A
    leave_id stored before is replaced (and no longer cancelled)."""
    zone = local_zone(schedule_path, timezone)
    periods = read_leave_file(file, zone)
    if dry_run:
        click.echo(f"{file}: {len(periods)} leave periods are valid; nothing stored (--dry-run)")
        return
    with records_store(database) as store:
        new, replaced = store.put_leave(periods)
        click.echo(
            f"imported {len(periods)} leave periods ({new} new, {replaced} replaced)"
            f" into {store.name}"
        )


@leave.command("list")
@database_option(_DB_HELP)
@_zone_options
@click.option("--from", "start_text", default=None, metavar="YYYY-MM-DD", help="First day.")
@click.option("--to", "end_text", default=None, metavar="YYYY-MM-DD", help="Last day (included).")
@click.option("--person", "person_id", default=None, metavar="ID", help="Only this person's.")
@click.option("--cancelled", is_flag=True, help="Cancelled leave too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (RFC 3339 times).")
def leave_list(
    database: str,
    schedule_path: Path | None,
    timezone: str | None,
    start_text: str | None,
    end_text: str | None,
    person_id: str | None,
    cancelled: bool,
    as_json: bool,
) -> None:
    """The leave periods meeting the local days --from to --to (default: all), by start."""
    zone = local_zone(schedule_path, timezone)
    first, last = _day(start_text, "--from"), _day(end_text, "--to")
    if first is not None and last is not None and last < first:
        raise KioskError(f"--to {end_text} is before --from {start_text}")
    start = _FAR_PAST if first is None else datetime.combine(first, time(0), zone)
    end = _FAR_FUTURE if last is None else datetime.combine(last + timedelta(days=1), time(0), zone)
    with records_store(database) as store:
        found = store.leave_between(start, end, include_cancelled=cancelled)
        name = store.name
    chosen = [p for p in found if person_id is None or p.person_id == person_id]
    if as_json:
        _echo_json(chosen)
        return
    if not chosen:
        click.echo(f"no leave in {name}", err=True)
        return
    columns = ["leave_id", "person_id", "kind", "from", "to", "approved_by", "cancelled", "note"]
    rows = [
        [
            p.leave_id, p.person_id, p.kind, *_period(p, zone), p.approved_by,
            f"{_shown(p.cancelled_at, zone)} by {p.cancelled_by}" if p.cancelled_at else "",
            p.note,
        ]
        for p in chosen
    ]  # fmt: skip
    click.echo(text_table(columns, rows))
    click.echo(f"{len(chosen)} leave periods in {name} (times in {zone.key})", err=True)


@leave.command("cancel")
@database_option(_DB_HELP)
@click.argument("leave_id")
@click.option("--by", "cancelled_by", required=True, metavar="NAME", help="Who cancels it.")
def leave_cancel(database: str, leave_id: str, cancelled_by: str) -> None:
    """Cancel the leave LEAVE_ID: it stops counting, and is kept with who cancelled it."""
    if not cancelled_by.strip() or len(cancelled_by) > 64:
        raise KioskError("--by: give who cancels it (1-64 characters)")
    with records_store(database) as store:
        stored = store.cancel_leave(leave_id, cancelled_by.strip())
        click.echo(
            f"cancelled leave {stored.leave_id} of {stored.person_id} ({stored.kind})"
            f" in {store.name}"
        )


# -- corrections ---------------------------------------------------------------------------------


@click.group("corrections")
def corrections() -> None:
    """A supervisor's corrections: add a check-in the terminal did not record, or void a
    stored one, with a reason. Kept as separate records; a terminal's event is never edited."""


def _record(database: str, correction: dict[str, Any]) -> StoredCorrection:
    try:
        wanted = CheckInCorrection.model_validate(correction)
    except ValidationError as exc:
        raise RecordError(f"not a valid correction: {describe_validation(exc)}") from None
    with records_store(database) as store:
        stored = store.add_correction(wanted)
        click.echo(stored.correction_id)
        what = f"added a check-in of {stored.person_id}" if stored.action == "add" else (
            f"voided check-in {stored.event_id}"
        )  # fmt: skip
        click.echo(f"{what} as correction {stored.correction_id} in {store.name}", err=True)
    return stored


@corrections.command("add")
@database_option(_DB_HELP)
@_zone_options
@click.option("--person", "person_id", required=True, metavar="ID", help="Who checked in.")
@click.option("--at", "at_text", required=True, metavar="'YYYY-MM-DD HH:MM'", help="Local time.")
@click.option("--direction", type=click.Choice(["in", "out"]), required=True, help="in or out.")
@click.option("--reason", required=True, help="Why (kept with it).")
@click.option("--by", "signed_off_by", required=True, metavar="SUPERVISOR", help="Who signs off.")
@click.option("--session", "session_id", default=None, metavar="ID", help="For this session.")
def corrections_add(
    database: str,
    schedule_path: Path | None,
    timezone: str | None,
    person_id: str,
    at_text: str,
    direction: str,
    reason: str,
    signed_off_by: str,
    session_id: str | None,
) -> None:
    """Add a check-in the terminal did not record; prints its id (its event id, to void it)."""
    zone = local_zone(schedule_path, timezone)
    at = _local_moment(at_text, zone, "--at")
    _record(
        database,
        {
            "action": "add", "reason": reason, "signed_off_by": signed_off_by,
            "person_id": person_id, "captured_at": at, "direction": direction,
            "schedule_ref": None if session_id is None else f"session:{session_id}",
        },
    )  # fmt: skip


@corrections.command("void")
@database_option(_DB_HELP)
@click.argument("event_id")
@click.option("--reason", required=True, help="Why (kept with it).")
@click.option("--by", "signed_off_by", required=True, metavar="SUPERVISOR", help="Who signs off.")
def corrections_void(database: str, event_id: str, reason: str, signed_off_by: str) -> None:
    """Void the check-in EVENT_ID (a terminal's, or one added by a correction); prints the
    correction's id."""
    try:
        target = UUID(event_id)
    except ValueError:
        raise KioskError(f"{event_id!r}: not an event id (a UUID)") from None
    _record(
        database,
        {"action": "void", "reason": reason, "signed_off_by": signed_off_by, "event_id": target},
    )


@corrections.command("list")
@database_option(_DB_HELP)
@_zone_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (RFC 3339 times).")
def corrections_list(
    database: str, schedule_path: Path | None, timezone: str | None, as_json: bool
) -> None:
    """Every correction, in the order recorded."""
    zone = local_zone(schedule_path, timezone)
    with records_store(database) as store:
        found = store.corrections()
        name = store.name
    if as_json:
        _echo_json(found)
        return
    if not found:
        click.echo(f"no corrections in {name}", err=True)
        return
    columns = ["correction_id", "recorded", "action", "person_id", "at", "direction",
               "session", "voids", "by", "reason"]  # fmt: skip
    rows = [
        [
            str(c.correction_id), _shown(c.recorded_at, zone), c.action, c.person_id or "",
            _shown(c.captured_at, zone), "" if c.direction is None else c.direction.value,
            (c.schedule_ref or "").removeprefix("session:"),
            "" if c.event_id is None else str(c.event_id), c.signed_off_by, c.reason,
        ]
        for c in found
    ]  # fmt: skip
    click.echo(text_table(columns, rows))
    click.echo(f"{len(found)} corrections in {name} (times in {zone.key})", err=True)
