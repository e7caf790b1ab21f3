"""``kiosk doctor``'s schedule line: which schedule judges check-ins, and is it usable.

- ``[attendance] schedule_file`` set: the file must load (a bad file is a failure: the kiosk
  keeps the last good schedule it read, which after a restart is none);
- otherwise the schedule of the roster in force (``roster_schedule`` in ``kiosk.db``, read
  read-only), or none: then check-ins carry only their direction (not a failure);
- ``session_mode`` with no session of this terminal in the schedule is a warning.

Only reads: neither the file nor the database is changed.
"""

from __future__ import annotations

import sqlite3

from pydantic import ValidationError

from common.errors import KioskError
from common.schedule_file import describe_validation, load_schedule
from models.schedule import Schedule
from terminal.config import Config
from terminal.doctor.database import open_read_only
from terminal.doctor.result import CheckResult, failed, passed, warned

NAME = "schedule"


def _from_roster(config: Config) -> tuple[Schedule | None, str]:
    """The roster's stored schedule and where it came from; KioskError when unreadable."""
    path = config.database_path
    if not path.exists():
        return None, "no database yet"
    try:
        conn = open_read_only(path)
        try:
            row = conn.execute(
                "SELECT roster_version, schedule FROM roster_schedule WHERE id = 1"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None, "no roster applied"
        raise KioskError(f"{path}: {exc}") from None
    except sqlite3.Error as exc:
        raise KioskError(f"{path}: {exc}") from None
    if row is None:
        return None, "the roster in force carries none"
    try:
        return Schedule.model_validate_json(row[1]), f"roster version {row[0]}"
    except ValidationError as exc:
        raise KioskError(f"the stored roster schedule: {describe_validation(exc)}") from None


def check_schedule(config: Config) -> CheckResult:
    """Which schedule is in force and whether it can be used."""
    section = config.attendance
    try:
        if section.schedule_file is not None:
            schedule: Schedule | None = load_schedule(section.schedule_file)
            source = f"file {section.schedule_file}"
        else:
            schedule, source = _from_roster(config)
    except KioskError as exc:
        return failed(
            NAME,
            str(exc),
            "fix the schedule (schedule.v1.json); until then the kiosk uses the last good one it"
            " read, none after a restart",
        )
    if schedule is None:
        return passed(NAME, f"none ({source}): check-ins carry only their direction")
    sessions_here = [s for s in schedule.sessions if config.terminal.id in s.terminal_ids]
    detail = (
        f"version {schedule.version} from {source}: {len(schedule.shifts)} shifts,"
        f" {len(schedule.sessions)} sessions ({len(sessions_here)} at this terminal),"
        f" zone {schedule.timezone}, direction {section.direction}"
    )
    data = {"version": schedule.version, "source": source, "sessions_here": len(sessions_here)}
    if section.session_mode and not sessions_here:
        return warned(
            NAME,
            detail,
            f"session_mode is on but no session lists terminal {config.terminal.id}",
            **data,
        )
    return passed(NAME, detail, **data)
