"""Leave, excused absence and supervisors' corrections in the shift report, and the month
summary payroll imports: the rule edges (test schedule: day shift 09:00-18:00, rules 15/30
minutes, 3 lates or early leaves a month stop the bonus)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from central.reports.adjustments import Adjustments
from central.reports.month import MONTH_COLUMNS, month_days, month_summary
from central.reports.shifts import ShiftDay, shift_report
from models.hr_records import LeavePeriod, StoredCorrection
from models.messages import CheckInEvent
from tests.report_tools import at, event, schedule

MONDAY = date(2026, 3, 2)
_IDS = iter(range(1, 10_000))


def leave(person: str, start: str, end: str, kind: str = "personal") -> LeavePeriod:
    """Leave of part of a day, local times."""
    return LeavePeriod(
        leave_id=f"L{next(_IDS)}", person_id=person, kind=kind, start=at(start), end=at(end)
    )


def days_off(person: str, first: str, last: str, kind: str = "annual") -> LeavePeriod:
    """Leave of whole days, ``last`` included (as a leave file's days)."""
    return LeavePeriod(
        leave_id=f"L{next(_IDS)}", person_id=person, kind=kind, start=at(f"{first} 00:00"),
        end=at(f"{last} 00:00") + timedelta(days=1), whole_days=True,
    )  # fmt: skip


def added(person: str, when: str, direction: str) -> StoredCorrection:
    """A check-in a supervisor added."""
    return StoredCorrection(
        action="add", reason="forgot the badge", signed_off_by="王经理", person_id=person,
        captured_at=at(when), direction=direction, correction_id=uuid.uuid4(),
        recorded_at=datetime.now(UTC),
    )  # fmt: skip


def voided(check_in: CheckInEvent) -> StoredCorrection:
    """A void of ``check_in``."""
    return StoredCorrection(
        action="void", reason="a colleague's face", signed_off_by="王经理",
        event_id=check_in.event_id, correction_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
    )  # fmt: skip


def day_of(
    events: list[CheckInEvent],
    person: str = "A",
    leave_periods: tuple[LeavePeriod, ...] = (),
    corrections: tuple[StoredCorrection, ...] = (),
    **rules: object,
) -> ShiftDay:
    """``person``'s Monday day shift."""
    adjustments = Adjustments(leave_periods, corrections)
    report = shift_report(events, schedule(**rules), MONDAY, MONDAY, None, adjustments)
    (found,) = [d for d in report.days if d.person_id == person and d.occurrence.shift.shift_id
                != "night"]  # fmt: skip
    return found


def test_leave_for_the_whole_shift_is_neither_absence_nor_lateness():
    day = day_of([], leave_periods=(days_off("A", "2026-03-02", "2026-03-02", "sick"),))
    assert (day.status, day.absence, day.arrival_verdict) == ("on_leave", "none", "on_leave")
    assert (day.leave_text, day.leave_minutes) == ("sick", 540)
    report = shift_report([], schedule(), MONDAY, MONDAY, None,
                          Adjustments([days_off("A", "2026-03-02", "2026-03-02")]))  # fmt: skip
    columns, rows = report.daily_table()
    daily = dict(zip(columns, rows[0], strict=True))
    assert (daily["on_leave"], daily["absent"], daily["full_day_absences"]) == (1, 3, 3)  # B C N


def test_a_day_off_covers_the_night_shift_that_starts_on_it_and_not_the_one_before():
    sunday_night = event("N", "2026-03-01 22:00")
    report = shift_report(
        [sunday_night, event("N", "2026-03-02 06:00")], schedule(), MONDAY - timedelta(days=1),
        MONDAY, None, Adjustments([days_off("N", "2026-03-02", "2026-03-02")]),
    )  # fmt: skip
    nights = {d.occurrence.day: d for d in report.days if d.person_id == "N"}
    assert nights[MONDAY - timedelta(days=1)].status == "present"
    assert (nights[MONDAY].status, nights[MONDAY].leave_minutes) == ("on_leave", 480)


@pytest.mark.parametrize(
    ("arrival", "verdict", "late", "absence"),
    [
        ("12:00:00", "on_time", 0, "none"),
        ("12:15:00", "late", 15, "none"),
        ("12:15:01", "late", 16, "half_day"),
        ("12:30:01", "late", 31, "full_day"),
    ],
)
def test_leave_covering_the_start_moves_lateness_to_its_end(arrival, verdict, late, absence):
    events = [event("A", f"2026-03-02 {arrival}"), event("A", "2026-03-02 18:00")]
    day = day_of(events, leave_periods=(leave("A", "2026-03-02 09:00", "2026-03-02 12:00"),))
    assert (day.arrival_verdict, day.late_minutes, day.absence) == (verdict, late, absence)
    assert (day.leave_text, day.leave_minutes) == ("personal", 180)
    assert day.status == ("present" if verdict == "on_time" else "late")


def test_leave_plus_a_late_arrival_counts_the_lateness_after_the_leave():
    events = [event("A", "2026-03-02 10:20"), event("A", "2026-03-02 18:00")]
    day = day_of(events, leave_periods=(leave("A", "2026-03-02 09:00", "2026-03-02 10:00"),))
    assert (day.status, day.late_minutes, day.absence) == ("late", 20, "half_day")
    assert day.worked_minutes == 460  # 10:20 to 18:00


def test_leave_covering_the_end_moves_early_leave_to_its_start():
    on_time = day_of(
        [event("A", "2026-03-02 08:55"), event("A", "2026-03-02 15:00")],
        leave_periods=(leave("A", "2026-03-02 15:00", "2026-03-02 18:00", "sick"),),
    )
    assert (on_time.departure_verdict, on_time.status) == ("left_on_time", "present")
    early = day_of(
        [event("A", "2026-03-02 08:55"), event("A", "2026-03-02 14:50")],
        leave_periods=(leave("A", "2026-03-02 15:00", "2026-03-02 18:00", "sick"),),
    )
    assert (early.departure_verdict, early.early_minutes, early.absence) == (
        "early_leave", 10, "none",
    )  # fmt: skip


def test_absent_for_the_rest_of_a_half_day_of_leave_is_half_a_day_absent():
    half = leave("A", "2026-03-02 09:00", "2026-03-02 13:30")  # 270 of 540 minutes
    assert (day_of([], leave_periods=(half,)).status, day_of([], leave_periods=(half,)).absence) \
        == ("absent", "half_day")  # fmt: skip
    less = leave("A", "2026-03-02 09:00", "2026-03-02 13:29")
    assert day_of([], leave_periods=(less,)).absence == "full_day"


def test_excused_lateness_for_bad_weather_is_not_late():
    storm = leave("A", "2026-03-02 09:00", "2026-03-02 09:45", "excused")
    day = day_of([event("A", "2026-03-02 09:40"), event("A", "2026-03-02 18:00")],
                 leave_periods=(storm,))  # fmt: skip
    assert (day.status, day.late_minutes, day.leave_text) == ("present", 0, "excused")


def test_leave_of_another_person_or_day_changes_nothing():
    events = [event("A", "2026-03-02 09:20"), event("A", "2026-03-02 18:00")]
    others = (leave("B", "2026-03-02 09:00", "2026-03-02 12:00"),
              leave("A", "2026-03-03 09:00", "2026-03-03 12:00"))  # fmt: skip
    assert day_of(events, leave_periods=others) == day_of(events)


def test_a_voided_check_in_does_not_count_and_is_shown_as_a_correction():
    wrong = event("A", "2026-03-02 08:30")  # a colleague's face taken for A's
    real = [event("A", "2026-03-02 09:25"), event("A", "2026-03-02 18:00")]
    before = day_of([wrong, *real])
    assert (before.status, before.corrections) == ("present", 0)
    after = day_of([wrong, *real], corrections=(voided(wrong),))
    assert (after.status, after.late_minutes, after.check_ins, after.corrections) == (
        "late", 25, 2, 1,
    )  # fmt: skip
    alone = day_of([wrong], corrections=(voided(wrong),))
    assert (alone.status, alone.absence, alone.corrections) == ("absent", "full_day", 1)


def test_an_added_check_in_counts_and_says_where_it_came_from():
    fixed = day_of([event("A", "2026-03-02 18:02")],
                   corrections=(added("A", "2026-03-02 08:58", "in"),))  # fmt: skip
    assert (fixed.status, fixed.arrival_verdict, fixed.corrections) == ("present", "on_time", 1)
    assert fixed.arrival is not None and fixed.arrival.terminal_id == "correction"
    report = shift_report([event("A", "2026-03-02 18:02")], schedule(), MONDAY, MONDAY, None,
                          Adjustments((), [added("A", "2026-03-02 08:58", "in")]))  # fmt: skip
    columns, rows = report.to_table()
    row = next(dict(zip(columns, r, strict=True)) for r in rows if r[1] == "A")
    assert (row["arrival_by"], row["departure_by"], row["corrections"]) == (
        "correction", "gate-1", 1,
    )  # fmt: skip


def test_an_added_check_in_voided_in_turn_no_longer_counts():
    extra = added("A", "2026-03-02 08:58", "in")
    void = StoredCorrection(
        action="void", reason="entered twice", signed_off_by="王经理",
        event_id=extra.correction_id, correction_id=uuid.uuid4(), recorded_at=datetime.now(UTC),
    )  # fmt: skip
    day = day_of([event("A", "2026-03-02 18:02", direction="out")], corrections=(extra, void))
    assert (day.arrival_verdict, day.check_ins) == ("missing_checkin", 1)


def _month(events: list[CheckInEvent], leave_periods: tuple[LeavePeriod, ...] = ()) -> dict:
    summary = month_summary(
        sorted(events, key=lambda e: e.captured_at), schedule(), "2026-03", None,
        Adjustments(leave_periods),
    )  # fmt: skip
    columns, rows = summary.to_table()
    assert columns == MONTH_COLUMNS
    return {row[1]: dict(zip(columns, row, strict=True)) for row in rows}


def _workday(day: date, arrive: str = "08:55", leave_at: str = "18:00") -> list[CheckInEvent]:
    return [event("A", f"{day} {arrive}"), event("A", f"{day} {leave_at}")]


def _march_workdays() -> list[date]:
    first, last = month_days("2026-03")
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [d for d in days if d.isoweekday() <= 5]


@pytest.mark.parametrize(("lates", "stopped"), [(2, False), (3, True)])
def test_a_month_with_exactly_three_lates_stops_the_bonus(lates, stopped):
    workdays = _march_workdays()
    events = [e for n, d in enumerate(workdays) for e in _workday(d, "09:05" if n < lates
              else "08:55")]  # fmt: skip
    a = _month(events)["A"]
    assert (a["lates"], a["late_minutes"], a["bonus_stopped"]) == (lates, 5 * lates, stopped)
    assert (a["scheduled_days"], a["attended_days"], a["worked_days"]) == (22, 22, 22)
    worked_minutes = 22 * 540 - 5 * lates  # 09:00 (arrivals before it count from it) to 18:00
    assert (a["absence_days"], a["hours_worked"], a["scheduled_hours"]) == (
        0, round(worked_minutes / 60, 2), 198,
    )  # fmt: skip


def test_a_late_and_an_early_leave_make_three_with_one_more_late():
    workdays = _march_workdays()
    events = [e for d in workdays[3:] for e in _workday(d)]
    events += _workday(workdays[0], "09:01") + _workday(workdays[1], "08:50", "17:50")
    events += _workday(workdays[2], "09:10")
    a = _month(events)["A"]
    assert (a["lates"], a["early_leaves"], a["bonus_stopped"]) == (2, 1, True)


def test_the_month_counts_leave_by_kind_and_absences_for_the_payroll_days():
    workdays = _march_workdays()
    present = workdays[4:]
    events = [e for d in present for e in _workday(d)]
    events += _workday(workdays[2], "12:00")  # morning off, on time after it
    events += _workday(workdays[3], "09:20")  # 20 minutes late: half a day absent
    periods = (
        days_off("A", str(workdays[0]), str(workdays[0]), "annual"),
        leave("A", f"{workdays[2]} 09:00", f"{workdays[2]} 12:00", "personal"),
    )  # workdays[1]: absent without leave
    a = _month(events, periods)["A"]
    assert (a["leave_annual_days"], a["leave_personal_days"]) == (1.0, 0.33)
    assert a["leave_days"] == 1.33
    assert (a["full_day_absences"], a["half_day_absences"], a["absence_days"]) == (1, 1, 1.5)
    assert a["worked_days"] == round(22 - 1.33 - 1.5, 2)
    assert (a["scheduled_days"], a["attended_days"]) == (22, 20)
    b = _month(events)["B"]
    assert (b["full_day_absences"], b["worked_days"], b["bonus_stopped"]) == (22, 0, False)


def test_month_days_and_bad_months():
    assert month_days("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    with pytest.raises(ValueError, match="not a month"):
        month_days("2026-13")
