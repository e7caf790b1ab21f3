"""The shift report's rows: one judged person-day (:class:`ShiftDay`), its table row, and the
totals the other tables need (daily counts, monthly flags, unscheduled check-ins), added up one
row at a time so that a report can be written while it is read (:class:`ShiftTotals`).

The rules (see :mod:`central.reports.shifts`) are applied by :func:`judge`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from zoneinfo import ZoneInfo

from central.reports.adjustments import LeaveSpan, covered
from central.reports.common import CheckIn, Table, local_text
from common.shift_rules import Absence, ShiftOccurrence, arrival_verdict, departure_verdict
from models.schedule import AttendanceRules

_RANK: dict[Absence, int] = {"none": 0, "half_day": 1, "full_day": 2}

SHIFT_COLUMNS = [
    "day", "person_id", "shift_id", "shift_ref", "scheduled_start", "scheduled_end",
    "arrival", "departure", "arrival_verdict", "late_min", "departure_verdict",
    "early_min", "absence", "status", "missing_checkout", "unverified", "check_ins",
    "leave", "leave_min", "worked_min", "arrival_by", "departure_by", "corrections",
]  # fmt: skip
"""The columns of :meth:`ShiftReport.to_table`."""

DAILY_COLUMNS = [
    "day", "scheduled", "present", "late", "early_leave", "absent",
    "half_day_absences", "full_day_absences", "unverified", "missing_checkout", "on_leave",
]  # fmt: skip
"""The columns of the daily totals."""


@dataclass(slots=True)
class ShiftDay:
    """One person on one shift occurrence, and what the rules make of it.

    ``arrival_verdict``: on_time, late, no_verdict_clock, missing_checkin (only a departure),
    absent, on_leave (the whole shift), or None while the shift has not started for them
    (``now``).
    ``departure_verdict``: left_on_time, early_leave, no_verdict_clock, missing_checkout, or None
    (absent, on leave, or the shift still running at ``now``).
    ``status``: present, late, early_leave, late_and_early_leave, no_verdict_clock, absent,
    on_leave (leave covers the whole shift), or open (running at ``now``, no check-in yet).
    ``leave``: minutes of approved leave in the shift, per kind; lateness is measured from the
    end of leave covering the start, early leave to the start of leave covering the end.
    ``worked_minutes``: time between a verified arrival and departure within the shift (to
    its end when ``no_checkout = end_of_schedule`` and there is no check-out); None when it
    cannot be told (no arrival, an unsynchronised clock).
    ``corrections``: check-ins a supervisor added or voided that belong to this day.

    Not frozen, though never changed once judged: a year's report makes half a million, and a
    frozen dataclass sets each field through ``object.__setattr__`` (7 % of the report's CPU).
    """

    person_id: str
    occurrence: ShiftOccurrence
    arrival: CheckIn | None
    departure: CheckIn | None
    arrival_verdict: str | None
    late_minutes: int
    departure_verdict: str | None
    early_minutes: int
    absence: Absence
    status: str
    missing_checkout: bool
    unverified: bool
    check_ins: int
    leave: tuple[tuple[str, float], ...] = ()
    worked_minutes: float | None = None
    corrections: int = 0

    @property
    def leave_minutes(self) -> float:
        """Minutes of leave in the shift, all kinds."""
        return sum(minutes for _, minutes in self.leave) if self.leave else 0

    @property
    def leave_text(self) -> str | None:
        """The kinds of leave in the shift, ``+``-joined (None when none)."""
        return "+".join(kind for kind, _ in self.leave) if self.leave else None

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


def judge(
    person: str,
    occurrence: ShiftOccurrence,
    arrival: CheckIn | None,
    departure: CheckIn | None,
    check_ins: int,
    rules: AttendanceRules,
    running: bool,
    leave: Sequence[LeaveSpan] = (),
    corrections: int = 0,
) -> ShiftDay:
    """The verdicts of one person's occurrence from its arrival and departure (``check_ins``
    check-ins in all), with the ``leave`` inside it (in time order)."""
    if not leave:
        day = _judge(person, occurrence, arrival, departure, check_ins, rules, running)
        return replace(day, corrections=corrections) if corrections else day
    start, end, minutes = covered(leave, occurrence.start, occurrence.end)
    by_kind = tuple((kind, round(m, 1)) for kind, m in minutes.items())
    if start >= end:
        return ShiftDay(person, occurrence, arrival, departure, "on_leave", 0, None, 0,
                        "none", "on_leave", False, False, check_ins, by_kind, None,
                        corrections)  # fmt: skip
    judged_against = replace(occurrence, start=start, end=end)
    day = _judge(person, judged_against, arrival, departure, check_ins, rules, running)
    shift_minutes = (occurrence.end - occurrence.start).total_seconds() / 60
    absence = day.absence
    if day.status == "absent" and 2 * sum(minutes.values()) >= shift_minutes:
        absence = "half_day"
    return replace(day, occurrence=occurrence, absence=absence, leave=by_kind,
                   corrections=corrections)  # fmt: skip


def _judge(
    person: str,
    occurrence: ShiftOccurrence,
    arrival: CheckIn | None,
    departure: CheckIn | None,
    check_ins: int,
    rules: AttendanceRules,
    running: bool,
) -> ShiftDay:
    """:func:`judge` without leave (``occurrence``: the times the person had to be there)."""
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
    worked: float | None = None
    if arrival is not None and arrival.clock_synced and not unverified:
        until = departure.captured_at if departure is not None else None
        if until is None and missing_checkout and rules.no_checkout == "end_of_schedule":
            until = occurrence.utc_bounds[1]
        if until is not None:
            start, end = occurrence.utc_bounds
            at = arrival.captured_at
            seconds = (min(until, end) - max(at, start)).total_seconds()
            worked = round(seconds / 60, 1) if seconds > 0 else 0.0
    return ShiftDay(person, occurrence, arrival, departure, a_kind, late_min, d_kind, early_min,
                    absence, status, missing_checkout, unverified, check_ins,
                    worked_minutes=worked)  # fmt: skip


class ShiftRows:
    """Renders :class:`ShiftDay` rows in ``zone`` (an occurrence's times once, not per row)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._occurrences: dict[tuple[str, date], tuple[str, str, str, str]] = {}

    def row(self, d: ShiftDay) -> list[object]:
        """``d`` as a row of :data:`SHIFT_COLUMNS`."""
        occ = d.occurrence
        key = (occ.shift.shift_id, occ.day)
        cells = self._occurrences.get(key)
        if cells is None:
            if len(self._occurrences) > 1000:
                self._occurrences.clear()
            cells = (occ.day.isoformat(), occ.ref, local_text(occ.start, self.zone),
                     local_text(occ.end, self.zone))  # fmt: skip
            self._occurrences[key] = cells
        day, ref, start, end = cells
        zone = self.zone
        return [
            day, d.person_id, occ.shift.shift_id, ref, start, end,
            local_text(d.arrival.captured_at, zone) if d.arrival else None,
            local_text(d.departure.captured_at, zone) if d.departure else None,
            d.arrival_verdict, d.late_minutes, d.departure_verdict, d.early_minutes,
            d.absence, d.status, d.missing_checkout, d.unverified, d.check_ins,
            d.leave_text, round(d.leave_minutes, 1) if d.leave else 0, d.worked_minutes,
            d.arrival.terminal_id if d.arrival else None,
            d.departure.terminal_id if d.departure else None, d.corrections,
        ]  # fmt: skip


@dataclass
class ShiftTotals:
    """The daily totals, monthly counts and unscheduled check-ins of a shift report, added up
    as its rows and check-ins go by."""

    zone: ZoneInfo
    monthly_flag_count: int
    daily: dict[date, list[int]] = field(default_factory=dict)
    monthly: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    unscheduled_rows: list[list[object]] = field(default_factory=list)
    _months: dict[date, str] = field(default_factory=dict, repr=False)

    def add(self, d: ShiftDay) -> None:
        """Count one judged person-day."""
        day = d.occurrence.day
        row = self.daily.get(day)
        if row is None:
            row = self.daily[day] = [0] * (len(DAILY_COLUMNS) - 1)
            self._months[day] = day.strftime("%Y-%m")
        late, early_leave, absence = d.late, d.early_leave, d.absence
        row[0] += 1
        row[1] += d.check_ins > 0
        row[2] += late
        row[3] += early_leave
        row[4] += d.status == "absent"
        row[5] += absence == "half_day"
        row[6] += absence == "full_day"
        row[7] += d.unverified
        row[8] += d.missing_checkout
        row[9] += d.status == "on_leave"
        if late or early_leave:
            count = self.monthly[(d.person_id, self._months[day])]
            count[0] += late
            count[1] += early_leave

    def add_unscheduled(self, e: CheckIn) -> None:
        """Keep the row of a check-in outside any scheduled shift."""
        self.unscheduled_rows.append(
            [local_text(e.captured_at, self.zone), e.person_id, e.terminal_id, e.seq,
             e.clock_synced]
        )  # fmt: skip

    def daily_table(self) -> Table:
        """Totals per day (for charts): scheduled, present, late, early leave, absences."""
        rows: list[list[object]] = [
            [day.isoformat(), *self.daily[day]] for day in sorted(self.daily)
        ]
        return list(DAILY_COLUMNS), rows

    def flags(self) -> list[MonthlyFlag]:
        """Persons with ``monthly_flag_count`` or more lates plus early leaves in a month."""
        return [
            MonthlyFlag(person, month, lates, early)
            for (person, month), (lates, early) in sorted(self.monthly.items())
            if lates + early >= self.monthly_flag_count
        ]


def flags_table(flagged: list[MonthlyFlag]) -> Table:
    """The monthly flags: person, month, lates, early leaves, total."""
    columns = ["person_id", "month", "lates", "early_leaves", "total"]
    rows: list[list[object]] = [
        [f.person_id, f.month, f.lates, f.early_leaves, f.total] for f in flagged
    ]
    return columns, rows


UNSCHEDULED_COLUMNS = ["captured_at", "person_id", "terminal_id", "seq", "clock_synced"]
"""The columns of the unscheduled check-ins' table."""
