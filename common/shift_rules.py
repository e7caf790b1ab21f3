"""Shift occurrences and the late / early-leave verdicts, shared by the kiosk and the reports.

A :class:`ShiftOccurrence` is one shift on one day: its start and end as aware datetimes in the
schedule's zone (an overnight shift ends the next day). A check-in belongs to the occurrence of
the person's shifts whose start is nearest, among those whose window (``start - WINDOW`` to
``end + WINDOW``) contains it. Verdicts compare times to the second; the minutes shown are
rounded up (5 min 1 s late shows as 6 min), and the thresholds are "more than" except the
early-leave threshold, which is "at least" (see :mod:`models.schedule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Literal

from models.schedule import AttendanceRules, Schedule, ShiftPlan

WINDOW = timedelta(hours=4)
"""How long before a shift's start and after its end a check-in still belongs to it."""

VerdictKind = Literal["on_time", "late", "early_leave", "left_on_time"]
Absence = Literal["none", "half_day", "full_day"]


@dataclass(frozen=True)
class ShiftOccurrence:
    """One shift on one day."""

    shift: ShiftPlan
    day: date
    """The local date the shift starts on."""
    start: datetime
    end: datetime

    @property
    def ref(self) -> str:
        """``<shift id>@<YYYY-MM-DD>``: the id events and reports use."""
        return f"{self.shift.shift_id}@{self.day.isoformat()}"

    @cached_property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """Start and end in UTC (computed once: check-in times are UTC, and comparing two UTC
        datetimes skips the zone lookups a local one needs)."""
        return self.start.astimezone(UTC), self.end.astimezone(UTC)


@dataclass(frozen=True)
class Verdict:
    """Late or on time (arrival), early or on time (departure), and what it costs."""

    kind: VerdictKind
    minutes: int
    """Minutes late or early, rounded up (0 when on time)."""
    absence: Absence


def occurrence_on(schedule: Schedule, shift: ShiftPlan, day: date) -> ShiftOccurrence | None:
    """``shift`` on local ``day``, or None if it does not run that weekday."""
    if day.isoweekday() not in shift.weekdays:
        return None
    zone = schedule.zone
    start = datetime.combine(day, shift.start, zone)
    end_day = day + timedelta(days=1) if shift.overnight else day
    end = datetime.combine(end_day, shift.end, zone)
    return ShiftOccurrence(shift, day, start, end)


def occurrence_for(schedule: Schedule, person_id: str, at: datetime) -> ShiftOccurrence | None:
    """The shift occurrence a check-in of ``person_id`` at ``at`` (aware) belongs to."""
    local_day = schedule.local(at).date()
    candidates = []
    for shift in schedule.shifts_of(person_id):
        for offset in (-1, 0, 1):
            occurrence = occurrence_on(schedule, shift, local_day + timedelta(days=offset))
            if occurrence and occurrence.start - WINDOW <= at <= occurrence.end + WINDOW:
                candidates.append(occurrence)
    if not candidates:
        return None
    return min(candidates, key=lambda o: (abs((at - o.start).total_seconds()), o.shift.shift_id))


def _minutes(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60))


def arrival_verdict(occurrence: ShiftOccurrence, at: datetime, rules: AttendanceRules) -> Verdict:
    """On time, or late by how much and whether that costs half or a full day."""
    late_s = (at - occurrence.start).total_seconds()
    if late_s <= 0:
        return Verdict("on_time", 0, "none")
    absence: Absence = "none"
    if late_s > rules.full_day_late_min * 60:
        absence = "full_day"
    elif late_s > rules.half_day_late_min * 60:
        absence = "half_day"
    return Verdict("late", _minutes(late_s), absence)


def departure_verdict(occurrence: ShiftOccurrence, at: datetime, rules: AttendanceRules) -> Verdict:
    """Left on time, or early by how much (early leave from ``early_leave_min``)."""
    early_s = (occurrence.end - at).total_seconds()
    if early_s < rules.early_leave_min * 60:
        return Verdict("left_on_time", 0, "none")
    absence: Absence = "none"
    if early_s > rules.full_day_early_min * 60:
        absence = "full_day"
    elif early_s > rules.half_day_early_min * 60:
        absence = "half_day"
    return Verdict("early_leave", _minutes(early_s), absence)
