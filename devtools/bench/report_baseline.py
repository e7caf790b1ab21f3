"""``kiosk bench report``'s baseline: the shift report as it was before it streamed, verbatim.

Everything below :func:`run` is the code of ``central/reports/shifts.py`` at that time (with its
``local_text``, which used ``strftime``): all events read at once
(:meth:`ReceiverStore.events_between`), sorted, each placed with
:func:`common.shift_rules.occurrence_for` (every group's members rebuilt for every check-in),
and every check-in kept in the report. :func:`run` is what ``kiosk report shifts --csv`` did
with it; ``python -m devtools.bench.report_baseline DB SCHEDULE FROM TO CSV`` runs it in a
process of its own.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from central.reports.common import Table, event_order, unique_events
from central.reports.export import write_csv
from central.reports.inputs import load_events
from common.schedule_file import load_schedule
from common.shift_rules import (
    Absence,
    ShiftOccurrence,
    arrival_verdict,
    departure_verdict,
    occurrence_for,
    occurrence_on,
)
from models.messages import CheckInEvent, Direction
from models.schedule import AttendanceRules, Schedule

_RANK: dict[Absence, int] = {"none": 0, "half_day": 1, "full_day": 2}


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` (aware) as local ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def run(db: str, schedule_path: Path, start: date, end: date, csv_path: Path) -> int:
    """Today's ``kiosk report shifts --csv``: the rows written to ``csv_path``."""
    schedule = load_schedule(schedule_path)
    events = load_events(db, *shift_report_range(schedule, start, end))
    result = shift_report(events, schedule, start, end, now=datetime.now(UTC))
    columns, rows = result.to_table()
    write_csv(csv_path, columns, rows)
    return len(rows)


def main(argv: list[str]) -> None:
    """``DB SCHEDULE FROM TO CSV``: :func:`run`, its row count on standard output."""
    db, schedule_path, first, last, csv_path = argv
    rows = run(db, Path(schedule_path), date.fromisoformat(first), date.fromisoformat(last),
               Path(csv_path))  # fmt: skip
    print(rows)


@dataclass(frozen=True)
class ShiftDay:
    """One person on one shift occurrence, and what the rules make of it.

    ``arrival_verdict``: on_time, late, no_verdict_clock, missing_checkin (only a departure),
    absent, or None while the shift has not started for them (``now``).
    ``departure_verdict``: left_on_time, early_leave, no_verdict_clock, missing_checkout, or None
    (absent, or the shift still running at ``now``).
    ``status``: present, late, early_leave, late_and_early_leave, no_verdict_clock, absent, or
    open (running at ``now``, no check-in yet).
    """

    person_id: str
    occurrence: ShiftOccurrence
    arrival: CheckInEvent | None
    departure: CheckInEvent | None
    arrival_verdict: str | None
    late_minutes: int
    departure_verdict: str | None
    early_minutes: int
    absence: Absence
    status: str
    missing_checkout: bool
    unverified: bool
    check_ins: int

    @property
    def late(self) -> bool:
        """Whether the arrival was judged late."""
        return self.arrival_verdict == "late"

    @property
    def early_leave(self) -> bool:
        """Whether a real check-out was judged an early leave."""
        return self.departure_verdict == "early_leave" and self.departure is not None


@dataclass(frozen=True)
class MonthlyFlag:
    """A person with at least ``monthly_flag_count`` lates plus early leaves in ``month``."""

    person_id: str
    month: str
    """``YYYY-MM`` (the local start day of the shifts)."""
    lates: int
    early_leaves: int

    @property
    def total(self) -> int:
        """Lates plus early leaves."""
        return self.lates + self.early_leaves


@dataclass(frozen=True)
class ShiftReport:
    """The days of a range: one :class:`ShiftDay` per person and occurrence, plus flags."""

    schedule: Schedule
    start_day: date
    end_day: date
    days: list[ShiftDay]
    flagged: list[MonthlyFlag]
    unscheduled: list[CheckInEvent] = field(default_factory=list)

    def to_table(self) -> Table:
        """One row per person and shift occurrence; times local (``YYYY-MM-DD HH:MM:SS``)."""
        zone = self.schedule.zone
        columns = [
            "day", "person_id", "shift_id", "shift_ref", "scheduled_start", "scheduled_end",
            "arrival", "departure", "arrival_verdict", "late_min", "departure_verdict",
            "early_min", "absence", "status", "missing_checkout", "unverified", "check_ins",
        ]  # fmt: skip
        rows: list[list[object]] = []
        for d in self.days:
            occ = d.occurrence
            rows.append([
                occ.day.isoformat(), d.person_id, occ.shift.shift_id, occ.ref,
                local_text(occ.start, zone), local_text(occ.end, zone),
                local_text(d.arrival.captured_at, zone) if d.arrival else None,
                local_text(d.departure.captured_at, zone) if d.departure else None,
                d.arrival_verdict, d.late_minutes, d.departure_verdict, d.early_minutes,
                d.absence, d.status, d.missing_checkout, d.unverified, d.check_ins,
            ])  # fmt: skip
        return columns, rows

    def daily_table(self) -> Table:
        """Totals per day (for charts): scheduled, present, late, early leave, absences."""
        columns = [
            "day", "scheduled", "present", "late", "early_leave", "absent",
            "half_day_absences", "full_day_absences", "unverified", "missing_checkout",
        ]  # fmt: skip
        totals: dict[date, list[int]] = {}
        for d in self.days:
            row = totals.setdefault(d.occurrence.day, [0] * (len(columns) - 1))
            flags = (
                True, d.check_ins > 0, d.late, d.early_leave, d.status == "absent",
                d.absence == "half_day", d.absence == "full_day", d.unverified, d.missing_checkout,
            )  # fmt: skip
            for index, flag in enumerate(flags):
                row[index] += int(flag)
        return columns, [[day.isoformat(), *totals[day]] for day in sorted(totals)]

    def flags_table(self) -> Table:
        """The monthly flags: person, month, lates, early leaves, total."""
        columns = ["person_id", "month", "lates", "early_leaves", "total"]
        rows: list[list[object]] = [
            [f.person_id, f.month, f.lates, f.early_leaves, f.total] for f in self.flagged
        ]
        return columns, rows

    def unscheduled_table(self) -> Table:
        """Check-ins of people with no shift then: local time, person, terminal, seq, clock."""
        columns = ["captured_at", "person_id", "terminal_id", "seq", "clock_synced"]
        zone = self.schedule.zone
        rows: list[list[object]] = [
            [local_text(e.captured_at, zone), e.person_id, e.terminal_id, e.seq, e.clock_synced]
            for e in self.unscheduled
        ]
        return columns, rows


def shift_report_range(
    schedule: Schedule, start_day: date, end_day: date
) -> tuple[datetime, datetime]:
    """The capture times ``[start, end)`` to read events for a report of these local days
    (wide enough for the windows of overnight shifts)."""
    zone = schedule.zone
    start = datetime.combine(start_day - timedelta(days=1), time(0), zone)
    return start, datetime.combine(end_day + timedelta(days=3), time(0), zone)


def shift_report(
    events: Iterable[CheckInEvent],
    schedule: Schedule,
    start_day: date,
    end_day: date,
    now: datetime | None = None,
) -> ShiftReport:
    """Shift attendance for the local days ``start_day`` to ``end_day`` (both included).

    With ``now`` (aware), occurrences starting after it are left out and those still running
    are not judged on what has not happened yet (no departure, no check-in yet: ``open``).
    """
    by_ref: dict[tuple[str, str], list[CheckInEvent]] = defaultdict(list)
    unscheduled: list[CheckInEvent] = []
    for event in sorted(unique_events(events), key=event_order):
        occurrence = occurrence_for(schedule, event.person_id, event.captured_at)
        if occurrence is None:
            if start_day <= schedule.local(event.captured_at).date() <= end_day:
                unscheduled.append(event)
        elif start_day <= occurrence.day <= end_day:
            by_ref[(event.person_id, occurrence.ref)].append(event)
    days: list[ShiftDay] = []
    day = start_day
    while day <= end_day:
        for shift in schedule.shifts:
            occurrence = occurrence_on(schedule, shift, day)
            if occurrence is None or (now is not None and occurrence.start > now):
                continue
            running = now is not None and now < occurrence.end
            for person in sorted(schedule.members(shift.people, shift.groups)):
                found = by_ref.get((person, occurrence.ref), [])
                days.append(_judge(person, occurrence, found, schedule.rules, running))
        day += timedelta(days=1)
    days.sort(key=lambda d: (d.occurrence.day, d.person_id, d.occurrence.start))
    flagged = _flags(days, schedule.rules)
    return ShiftReport(schedule, start_day, end_day, days, flagged, unscheduled)


def _pick(events: list[CheckInEvent]) -> tuple[CheckInEvent | None, CheckInEvent | None]:
    """Arrival (first in) and departure (last out after it) among time-ordered ``events``."""
    directions = [
        e.direction or (Direction.IN if i == 0 else Direction.OUT) for i, e in enumerate(events)
    ]
    first_in = next((i for i, d in enumerate(directions) if d == Direction.IN), None)
    after = -1 if first_in is None else first_in
    outs = [i for i, d in enumerate(directions) if d == Direction.OUT and i > after]
    arrival = None if first_in is None else events[first_in]
    return arrival, (events[outs[-1]] if outs else None)


def _judge(
    person: str,
    occurrence: ShiftOccurrence,
    events: list[CheckInEvent],
    rules: AttendanceRules,
    running: bool,
) -> ShiftDay:
    """The verdicts of one person's occurrence from its (time-ordered) check-ins."""
    arrival, departure = _pick(events)
    if arrival is None and departure is None:
        if running:
            return ShiftDay(person, occurrence, None, None, None, 0, None, 0, "none", "open",
                            False, False, 0)  # fmt: skip
        return ShiftDay(person, occurrence, None, None, "absent", 0, None, 0, "full_day",
                        "absent", False, False, 0)  # fmt: skip
    unverified = False
    late_min, early_min = 0, 0
    absences: list[Absence] = []
    a_kind: str | None
    if arrival is None:
        a_kind = "missing_checkin"
    elif not arrival.clock_synced:
        a_kind, unverified = "no_verdict_clock", True
    else:
        verdict = arrival_verdict(occurrence, arrival.captured_at, rules)
        a_kind, late_min = verdict.kind, verdict.minutes
        absences.append(verdict.absence)
    d_kind: str | None = None
    missing_checkout = departure is None and not running
    if departure is not None:
        if not departure.clock_synced:
            d_kind, unverified = "no_verdict_clock", True
        else:
            verdict = departure_verdict(occurrence, departure.captured_at, rules)
            d_kind, early_min = verdict.kind, verdict.minutes
            absences.append(verdict.absence)
    elif missing_checkout:
        d_kind = "missing_checkout"
        if rules.no_checkout == "entry_only" and arrival is not None and arrival.clock_synced:
            verdict = departure_verdict(occurrence, arrival.captured_at, rules)
            early_min = verdict.minutes
            absences.append(verdict.absence)
    absence: Absence = max(absences, key=_RANK.__getitem__, default="none")
    late, early = a_kind == "late", d_kind == "early_leave"
    status = (
        "no_verdict_clock" if unverified
        else "late_and_early_leave" if late and early
        else "late" if late
        else "early_leave" if early
        else "present"
    )  # fmt: skip
    return ShiftDay(person, occurrence, arrival, departure, a_kind, late_min, d_kind, early_min,
                    absence, status, missing_checkout, unverified, len(events))  # fmt: skip


def _flags(days: list[ShiftDay], rules: AttendanceRules) -> list[MonthlyFlag]:
    """Persons with ``monthly_flag_count`` or more lates plus early leaves in a month."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in days:
        count = counts[(d.person_id, d.occurrence.day.strftime("%Y-%m"))]
        count[0] += int(d.late)
        count[1] += int(d.early_leave)
    return [
        MonthlyFlag(person, month, lates, early)
        for (person, month), (lates, early) in sorted(counts.items())
        if lates + early >= rules.monthly_flag_count
    ]


if __name__ == "__main__":
    main(sys.argv[1:])
