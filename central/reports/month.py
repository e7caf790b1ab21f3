"""The month summary payroll imports: one row per person and calendar month.

Base pay is computed by actual working days, and ``monthly_flag_count`` (3) lates or early
leaves in a month stop the attendance bonus. :class:`MonthSummary` adds up the judged
person-days of the shift report (:class:`~central.reports.shift_days.ShiftDay`, with leave and
corrections applied) as they stream by, per person and month of the shift's local start day:

- ``scheduled_days``: shifts judged (a shift still running, ``open``, is counted apart in
  ``open_days``); ``attended_days``: those with at least one check-in;
- ``leave_<kind>_days``: each shift's leave minutes of that kind over the shift's minutes
  (a morning off of a 9-hour shift is 0.44 days), summed; ``leave_days``: all kinds;
- ``half_day_absences`` and ``full_day_absences``: the 15/30-minute rules and absence without
  leave; ``absence_days`` = full + half / 2;
- ``worked_days`` = scheduled - leave - absence days: the days base pay is computed by;
- ``lates``, ``late_minutes``, ``early_leaves``, ``early_minutes``; ``bonus_stopped`` when
  lates plus early leaves reach ``monthly_flag_count``;
- ``scheduled_hours`` and ``hours_worked`` (arrival to departure within the shifts, verified
  days only); ``unverified_days`` (a kiosk's clock not synchronised: HR checks these by hand),
  ``missing_checkouts`` and ``corrections`` (check-ins supervisors added or voided).

Numbers of days and hours are rounded to two decimals once, at the end.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from central.reports.adjustments import Adjustments
from central.reports.common import CheckIn, Table
from central.reports.shift_days import ShiftDay
from central.reports.shift_stream import stream_shift_days
from models.hr_records import LEAVE_KINDS
from models.schedule import Schedule

_COUNTS = (
    "scheduled_days", "attended_days", "open_days", "half_day_absences", "full_day_absences",
    "lates", "late_minutes", "early_leaves", "early_minutes", "missing_checkouts",
    "unverified_days", "corrections",
)  # fmt: skip

MONTH_COLUMNS = [
    "month", "person_id", "scheduled_days", "attended_days", "worked_days", "leave_days",
    *(f"leave_{kind}_days" for kind in LEAVE_KINDS),
    "half_day_absences", "full_day_absences", "absence_days", "lates", "late_minutes",
    "early_leaves", "early_minutes", "bonus_stopped", "scheduled_hours", "hours_worked",
    "missing_checkouts", "unverified_days", "open_days", "corrections",
]  # fmt: skip
"""The columns of :meth:`MonthSummary.to_table`, in order."""

MONTH_COLUMN_HELP: dict[str, tuple[str, str]] = {
    "month": ("Calendar month of the shifts (YYYY-MM)", "月份"),
    "person_id": ("Employee id", "工号"),
    "scheduled_days": ("Shifts scheduled and judged", "应出勤天数"),
    "attended_days": ("Shifts with at least one check-in", "有打卡天数"),
    "worked_days": ("Scheduled - leave - absence days: base pay days", "实际出勤天数（计薪）"),
    "leave_days": ("Leave of every kind, in days", "请假天数合计"),
    "leave_annual_days": ("Annual leave, days", "年假"),
    "leave_sick_days": ("Sick leave, days", "病假"),
    "leave_personal_days": ("Personal (unpaid) leave, days", "事假"),
    "leave_marriage_days": ("Marriage leave, days", "婚假"),
    "leave_maternity_days": ("Maternity leave, days", "产假"),
    "leave_paternity_days": ("Paternity leave, days", "陪产假"),
    "leave_bereavement_days": ("Bereavement leave, days", "丧假"),
    "leave_business_trip_days": ("Business trip, days", "出差"),
    "leave_compensatory_days": ("Compensatory time off, days", "调休"),
    "leave_excused_days": ("Excused: force majeure (weather...), days", "不可抗力（免责）"),
    "leave_other_days": ("Other leave, days", "其他假"),
    "half_day_absences": ("Half-day absences (15-30 min late or early)", "旷工半天次数"),
    "full_day_absences": ("Full-day absences (over 30 min, or absent)", "旷工一天次数"),
    "absence_days": ("Full + half / 2", "旷工天数"),
    "lates": ("Late arrivals", "迟到次数"),
    "late_minutes": ("Minutes late, summed", "迟到分钟"),
    "early_leaves": ("Early leaves", "早退次数"),
    "early_minutes": ("Minutes early, summed", "早退分钟"),
    "bonus_stopped": ("Lates + early leaves reached the monthly limit", "取消全勤奖"),
    "scheduled_hours": ("Hours of the scheduled shifts", "排班工时"),
    "hours_worked": ("Hours checked in within the shifts", "实际工时"),
    "missing_checkouts": ("Shifts without a check-out", "未签退次数"),
    "unverified_days": ("Shifts with a kiosk clock not synchronised: check by hand", "待核实天数"),
    "open_days": ("Shifts still running: not judged yet", "进行中班次"),
    "corrections": ("Check-ins a supervisor added or voided", "补卡/作废次数"),
}
"""Each column's meaning in English and Chinese (the workbook's legend sheet)."""


@dataclass
class _Person:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0))
    leave: dict[str, float] = field(default_factory=lambda: dict.fromkeys(LEAVE_KINDS, 0.0))
    scheduled_minutes: float = 0.0
    worked_minutes: float = 0.0


class MonthSummary:
    """Per person and month, added up from judged person-days as they come."""

    def __init__(self, monthly_flag_count: int) -> None:
        self.monthly_flag_count = monthly_flag_count
        self._people: dict[tuple[str, str], _Person] = {}
        self._months: dict[date, str] = {}

    def add(self, day: ShiftDay) -> None:
        """Count one judged person-day."""
        when = day.occurrence.day
        month = self._months.get(when)
        if month is None:
            month = self._months[when] = when.strftime("%Y-%m")
        key = (month, day.person_id)
        person = self._people.get(key)
        if person is None:
            person = self._people[key] = _Person()
        counts = person.counts
        if day.status == "open":
            counts["open_days"] += 1
            return
        occurrence = day.occurrence
        shift_minutes = (occurrence.end - occurrence.start).total_seconds() / 60
        counts["scheduled_days"] += 1
        counts["attended_days"] += day.check_ins > 0
        counts["half_day_absences"] += day.absence == "half_day"
        counts["full_day_absences"] += day.absence == "full_day"
        counts["lates"] += day.late
        counts["late_minutes"] += day.late_minutes if day.late else 0
        counts["early_leaves"] += day.early_leave
        counts["early_minutes"] += day.early_minutes if day.early_leave else 0
        counts["missing_checkouts"] += day.missing_checkout
        counts["unverified_days"] += day.unverified
        counts["corrections"] += day.corrections
        for kind, minutes in day.leave:
            person.leave[kind] = person.leave.get(kind, 0.0) + minutes / shift_minutes
        person.scheduled_minutes += shift_minutes
        person.worked_minutes += day.worked_minutes or 0.0

    def to_table(self) -> Table:
        """One row per month and person (by month, then person) of :data:`MONTH_COLUMNS`."""
        rows: list[list[object]] = []
        for (month, person_id), p in sorted(self._people.items()):
            c = p.counts
            leave_days = sum(p.leave.values())
            absence_days = c["full_day_absences"] + c["half_day_absences"] / 2
            worked_days = max(0.0, c["scheduled_days"] - leave_days - absence_days)
            rows.append([
                month, person_id, c["scheduled_days"], c["attended_days"], round(worked_days, 2),
                round(leave_days, 2), *(round(p.leave[kind], 2) for kind in LEAVE_KINDS),
                c["half_day_absences"], c["full_day_absences"], absence_days, c["lates"],
                c["late_minutes"], c["early_leaves"], c["early_minutes"],
                c["lates"] + c["early_leaves"] >= self.monthly_flag_count,
                round(p.scheduled_minutes / 60, 2), round(p.worked_minutes / 60, 2),
                c["missing_checkouts"], c["unverified_days"], c["open_days"], c["corrections"],
            ])  # fmt: skip
        return list(MONTH_COLUMNS), rows

    def legend_table(self) -> Table:
        """What each column means, in English and Chinese."""
        rows: list[list[object]] = [[name, *MONTH_COLUMN_HELP[name]] for name in MONTH_COLUMNS]
        return ["column", "meaning", "说明"], rows


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of ``YYYY-MM``; ValueError naming the value otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"{month!r} is not a month, use YYYY-MM") from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


def month_summary(
    ordered_events: Iterable[CheckIn],
    schedule: Schedule,
    month: str,
    now: datetime | None = None,
    adjustments: Adjustments | None = None,
    each_day: Callable[[ShiftDay], None] | None = None,
) -> MonthSummary:
    """The summary of ``month`` (``YYYY-MM``) from check-ins in ``event_order`` over
    :func:`~central.reports.shifts.shift_report_range` of its days; ``each_day`` is called with
    each judged person-day too (the workbook's day sheet)."""
    first, last = month_days(month)
    summary = MonthSummary(schedule.rules.monthly_flag_count)
    for day in stream_shift_days(ordered_events, schedule, first, last, now, None, adjustments):
        summary.add(day)
        if each_day is not None:
            each_day(day)
    return summary
