"""Shift occurrences and verdicts: the rule edges, to the second, and overnight shifts."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from common.shift_rules import (
    ShiftOccurrence,
    arrival_verdict,
    departure_verdict,
    occurrence_for,
    occurrence_on,
)
from models.schedule import AttendanceRules, Schedule, ShiftPlan, TrainingSession

SCHEDULE = Schedule(
    version=1,
    groups={"front": ["E1001", "E1002"]},
    shifts=[
        ShiftPlan(shift_id="day", name="Day", start=time(9), end=time(18), groups=["front"]),
        ShiftPlan(
            shift_id="night", name="Night", start=time(22), end=time(6),
            weekdays=[1, 2, 3, 4, 5, 6, 7], people=["E2001"],
        ),
    ],
)  # fmt: skip
ZONE = SCHEDULE.zone
MONDAY = date(2026, 11, 23)


def _monday_day_shift() -> ShiftOccurrence:
    occurrence = occurrence_on(SCHEDULE, SCHEDULE.shifts[0], MONDAY)
    assert occurrence is not None
    return occurrence


DAY = _monday_day_shift()


def at(hour: int, minute: int = 0, second: int = 0, day: date = MONDAY) -> datetime:
    """A local time in the schedule's zone."""
    return datetime.combine(day, time(hour, minute, second), ZONE)


@pytest.mark.parametrize(
    ("arrival", "kind", "minutes", "absence"),
    [
        (at(8, 59, 59), "on_time", 0, "none"),
        (at(9), "on_time", 0, "none"),
        (at(9, 0, 1), "late", 1, "none"),
        (at(9, 15), "late", 15, "none"),  # exactly 15: not more than 15
        (at(9, 15, 1), "late", 16, "half_day"),
        (at(9, 30), "late", 30, "half_day"),  # exactly 30: not more than 30
        (at(9, 30, 1), "late", 31, "full_day"),
    ],
)
def test_arrival_edges(arrival: datetime, kind: str, minutes: int, absence: str) -> None:
    verdict = arrival_verdict(DAY, arrival, SCHEDULE.rules)
    assert (verdict.kind, verdict.minutes, verdict.absence) == (kind, minutes, absence)


@pytest.mark.parametrize(
    ("departure", "kind", "minutes", "absence"),
    [
        (at(18, 5), "left_on_time", 0, "none"),
        (at(17, 55, 1), "left_on_time", 0, "none"),  # 4 min 59 s early: under 5
        (at(17, 55), "early_leave", 5, "none"),  # exactly 5: an early leave
        (at(17, 45), "early_leave", 15, "none"),  # exactly 15: not more than 15
        (at(17, 44, 59), "early_leave", 16, "half_day"),
        (at(17, 30), "early_leave", 30, "half_day"),
        (at(17, 29, 59), "early_leave", 31, "full_day"),
    ],
)
def test_departure_edges(departure: datetime, kind: str, minutes: int, absence: str) -> None:
    verdict = departure_verdict(DAY, departure, SCHEDULE.rules)
    assert (verdict.kind, verdict.minutes, verdict.absence) == (kind, minutes, absence)


def test_an_overnight_shift_ends_the_next_day_and_owns_both_sides_of_midnight() -> None:
    evening = occurrence_for(SCHEDULE, "E2001", at(22, 10))
    morning = occurrence_for(SCHEDULE, "E2001", at(5, 40, day=MONDAY + timedelta(days=1)))
    assert evening is not None and morning is not None
    assert evening.ref == morning.ref == "night@2026-11-23"
    assert morning.end == at(6, day=MONDAY + timedelta(days=1))
    left = departure_verdict(morning, at(5, 40, day=MONDAY + timedelta(days=1)), SCHEDULE.rules)
    assert (left.kind, left.minutes, left.absence) == ("early_leave", 20, "half_day")


def test_a_check_in_belongs_to_the_nearest_running_shift_or_none() -> None:
    occurrence = occurrence_for(SCHEDULE, "E1002", at(8, 40))
    assert occurrence is not None and occurrence.ref == "day@2026-11-23"
    assert occurrence_for(SCHEDULE, "E1002", at(3)) is None  # hours away from any shift
    saturday = MONDAY + timedelta(days=5)
    assert occurrence_for(SCHEDULE, "E1001", at(9, day=saturday)) is None  # not a workday
    assert occurrence_for(SCHEDULE, "E9999", at(9)) is None  # on no shift


def test_the_schedule_document_refuses_what_would_make_verdicts_wrong() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        Schedule(version=1, timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown group"):
        Schedule(version=1, shifts=[ShiftPlan(shift_id="s", name="S", start=time(9),
                                              end=time(17), groups=["ghosts"])])  # fmt: skip
    with pytest.raises(ValidationError, match="used twice"):
        plan = ShiftPlan(shift_id="s", name="S", start=time(9), end=time(17))
        Schedule(version=1, shifts=[plan, plan])
    with pytest.raises(ValidationError, match="early_leave_min"):
        AttendanceRules(early_leave_min=20)
    with pytest.raises(ValidationError, match="after start"):
        TrainingSession(session_id="t", title="T", terminal_ids=["room-1"],
                        start=at(10), end=at(10))  # fmt: skip
    with pytest.raises(ValidationError, match="weekdays"):
        ShiftPlan(shift_id="s", name="S", start=time(9), end=time(17), weekdays=[0])
