"""What a check-in means for attendance, decided when it is committed.

Every committed event carries its ``direction`` (see :mod:`terminal.checkin.direction` for
the rule) and, where the schedule applies, its ``schedule_ref`` and the ``verdict`` the person is
shown:

- the first arrival (``in``) of a shift occurrence: on time or late
  (:func:`common.shift_rules.arrival_verdict`); a later ``in`` of the same occurrence (a
  re-entry at an ``in`` terminal) gets no verdict;
- every departure (``out``) of a shift occurrence: left on time or early leave
  (:func:`common.shift_rules.departure_verdict`); only the last one counts in the reports, so
  a mid-day exit shows as an early leave at that moment;
- the first entry to a training session: on time at or before its start, else late by the
  minutes since the start (rounded up); exits and re-entries get no verdict (the reports pair
  entries and exits into minutes present);
- when the terminal's clock is not synchronised and a schedule applies to the person (a shift
  or session found, or the person has shifts at all): ``no_verdict_clock`` and no minutes, since
  the time it would be judged by cannot be trusted;
- with no schedule, or none for this person now: no reference and no verdict.

``verdict_minutes`` is given with ``late`` and ``early_leave`` only (rounded up, as the screen
says it); on time is no minutes.

The schedule comes from ``[attendance] schedule_file`` when that is set (it wins, even while
the file is bad: the last good one of the file stays), else from the roster in force
(:class:`~terminal.store.roster_schedule.RosterSchedule`, which a roster without one clears).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Protocol

import sqlite_utils

from common.schedule_file import ScheduleFile
from common.shift_rules import arrival_verdict, departure_verdict
from models.messages import Direction, Verdict
from models.schedule import Schedule
from terminal.checkin.direction import History, Placement, place
from terminal.config.attendance import AttendanceSection
from terminal.store.roster_schedule import RosterSchedule


@dataclass(frozen=True)
class Marking:
    """The attendance fields of one check-in, and the session title for the screen."""

    direction: Direction
    schedule_ref: str | None = None
    verdict: Verdict | None = None
    verdict_minutes: int | None = None
    session_title: str | None = None


class ScheduleSource(Protocol):
    """Where the schedule comes from (:class:`ScheduleFile`, :class:`RosterSchedule`)."""

    error: str | None

    def current(self) -> Schedule | None:
        """The schedule in force now (None: no schedule)."""
        ...


def _local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


class Attendance:
    """Marks check-ins at one terminal by its ``[attendance]`` settings and schedule."""

    def __init__(
        self,
        section: AttendanceSection,
        terminal_id: str,
        schedules: ScheduleSource | None = None,
        zone: tzinfo | None = None,
    ) -> None:
        self.section = section
        self.terminal_id = terminal_id
        self.schedules = schedules
        self.zone = zone or _local_zone()
        """The local zone of the day rule when there is no schedule (default: the kiosk's)."""

    @classmethod
    def from_config(
        cls,
        section: AttendanceSection,
        terminal_id: str,
        db: sqlite_utils.Database | None = None,
    ) -> Attendance:
        """The attendance of a terminal configured with ``section``: by its schedule file when
        set, else by the roster's schedule in ``db`` (the database of the thread that marks
        check-ins; None: no roster schedule). The schedule is read now, so a bad one is logged
        at start, not at the first check-in."""
        path: Path | None = section.schedule_file
        source: ScheduleSource | None = None
        if path is not None:
            source = ScheduleFile(path)
        elif db is not None:
            source = RosterSchedule(db)
        if source is not None:
            source.current()
        return cls(section, terminal_id, source)

    def schedule(self) -> Schedule | None:
        """The schedule in force (read again if the file or the roster changed)."""
        return self.schedules.current() if self.schedules is not None else None

    def mark(self, person_id: str, at: datetime, clock_synced: bool, history: History) -> Marking:
        """The attendance fields of a check-in of ``person_id`` at ``at``; ``history`` gives
        their earlier check-ins (the outbox). Raises what ``history`` raises."""
        schedule = self.schedule()
        placement = place(
            self.section.direction,
            schedule,
            self.section.session_mode,
            self.terminal_id,
            person_id,
            at,
            history,
            self.zone,
        )
        title = placement.session.title if placement.session is not None else None
        ref = placement.ref
        if schedule is None or (ref is None and not schedule.shifts_of(person_id)):
            return Marking(placement.direction)
        if not clock_synced:
            return Marking(placement.direction, ref, Verdict.NO_VERDICT_CLOCK, None, title)
        verdict, minutes = _judge(placement, at, schedule)
        return Marking(placement.direction, ref, verdict, minutes, title)


def _judge(
    placement: Placement, at: datetime, schedule: Schedule
) -> tuple[Verdict | None, int | None]:
    """The verdict and its minutes (None: none to give) by the rules of the module."""
    if placement.session is not None:
        if placement.direction is not Direction.IN or not placement.first:
            return None, None
        late_s = (at - placement.session.start).total_seconds()
        if late_s <= 0:
            return Verdict.ON_TIME, None
        return Verdict.LATE, math.ceil(late_s / 60)
    occurrence = placement.occurrence
    if occurrence is None:
        return None, None
    if placement.direction is Direction.OUT:
        found = departure_verdict(occurrence, at, schedule.rules)
    elif placement.first:
        found = arrival_verdict(occurrence, at, schedule.rules)
    else:
        return None, None
    verdict = Verdict(found.kind)
    return verdict, found.minutes if verdict in (Verdict.LATE, Verdict.EARLY_LEAVE) else None
