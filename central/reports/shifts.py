"""Daily shift attendance from the receiver's check-ins: late, early leave, absence, flags.

:func:`shift_report` is pure: it takes events (normally :meth:`ReceiverStore.events_between` over
:func:`shift_report_range`) and a :class:`Schedule`, and returns a :class:`ShiftReport`; for a
long range, :func:`central.reports.shift_stream.stream_shift_days` gives the same rows from the
ordered stream of :meth:`ReceiverStore.iter_events_between` without holding them. How it
decides, per person and scheduled shift occurrence whose local start day is in the range:

- each check-in belongs to the occurrence :func:`common.shift_rules.occurrence_for` picks (the
  report's own schedule decides, not the ``schedule_ref`` the terminal sent); check-ins of people
  with no occurrence are listed apart as *unscheduled*;
- a check-in's direction is its ``direction`` when the terminal sent one; otherwise the first of
  the occurrence is ``in`` and the later ones ``out``. Arrival: the first ``in``; departure: the
  last ``out`` after it. Events are ordered by capture time (then terminal and seq), so arrival
  order does not matter, and an ``event_id`` given twice counts once;
- verdicts come from :func:`arrival_verdict` / :func:`departure_verdict`; the day's absence is the
  worse of the two; no check-in at all: ``absent`` (a full day);
- no departure: ``missing_checkout``. With ``no_checkout = end_of_schedule`` the person counts as
  present until the end (no early-leave verdict); with ``entry_only`` they count as having left
  at their arrival (an early leave from that moment, usually a full day);
- an arrival or departure from a terminal whose clock was not synchronised gets no verdict
  (``no_verdict_clock``): nothing late or early is counted for that side, and the day's status
  is ``no_verdict_clock`` for HR to check;
- approved leave (:mod:`central.reports.adjustments`) covering the whole occurrence makes it
  ``on_leave`` (no verdict, no absence); leave covering its start moves the time lateness is
  measured from to the leave's end, leave covering its end moves the time early leave is
  measured to to the leave's start; absent with at least half the shift on leave is half a
  day absent, not a full one;
- check-ins a supervisor added count like the terminals' (their clock as synchronised); voided
  ones do not count; both are counted in the day's ``corrections``;
- ``monthly_flag_count`` lates plus early leaves (real check-outs) in a calendar month flag the
  person; only days inside the report's range are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from central.reports.adjustments import Adjustments
from central.reports.common import CheckIn, Table, event_order, unique_events
from central.reports.shift_days import (
    SHIFT_COLUMNS,
    UNSCHEDULED_COLUMNS,
    MonthlyFlag,
    ShiftDay,
    ShiftRows,
    ShiftTotals,
    flags_table,
)
from central.reports.shift_stream import stream_shift_days
from models.schedule import Schedule

__all__ = ["MonthlyFlag", "ShiftDay", "ShiftReport", "shift_report", "shift_report_range"]


@dataclass(frozen=True)
class ShiftReport:
    """The days of a range: one :class:`ShiftDay` per person and occurrence, plus flags."""

    schedule: Schedule
    start_day: date
    end_day: date
    days: list[ShiftDay]
    flagged: list[MonthlyFlag]
    unscheduled: list[CheckIn] = field(default_factory=list)

    def to_table(self) -> Table:
        """One row per person and shift occurrence; times local (``YYYY-MM-DD HH:MM:SS``)."""
        rows = ShiftRows(self.schedule.zone)
        return list(SHIFT_COLUMNS), [rows.row(d) for d in self.days]

    def _totals(self) -> ShiftTotals:
        totals = ShiftTotals(self.schedule.zone, self.schedule.rules.monthly_flag_count)
        for d in self.days:
            totals.add(d)
        for e in self.unscheduled:
            totals.add_unscheduled(e)
        return totals

    def daily_table(self) -> Table:
        """Totals per day (for charts): scheduled, present, late, early leave, absences."""
        return self._totals().daily_table()

    def flags_table(self) -> Table:
        """The monthly flags: person, month, lates, early leaves, total."""
        return flags_table(self.flagged)

    def unscheduled_table(self) -> Table:
        """Check-ins of people with no shift then: local time, person, terminal, seq, clock."""
        return list(UNSCHEDULED_COLUMNS), self._totals().unscheduled_rows


def shift_report_range(
    schedule: Schedule, start_day: date, end_day: date
) -> tuple[datetime, datetime]:
    """The capture times ``[start, end)`` to read events for a report of these local days
    (wide enough for the windows of overnight shifts)."""
    zone = schedule.zone
    start = datetime.combine(start_day - timedelta(days=1), time(0), zone)
    return start, datetime.combine(end_day + timedelta(days=3), time(0), zone)


def shift_report(
    events: Iterable[CheckIn],
    schedule: Schedule,
    start_day: date,
    end_day: date,
    now: datetime | None = None,
    adjustments: Adjustments | None = None,
) -> ShiftReport:
    """Shift attendance for the local days ``start_day`` to ``end_day`` (both included).

    With ``now`` (aware), occurrences starting after it are left out and those still running
    are not judged on what has not happened yet (no departure, no check-in yet: ``open``).
    ``events`` may come in any order and repeat an ``event_id``; all are held at once (for a
    long range, stream them: :func:`central.reports.shift_stream.stream_shift_days`).
    ``adjustments``: the leave and corrections to apply (:mod:`central.reports.adjustments`).
    """
    ordered = sorted(unique_events(events), key=event_order)
    unscheduled: list[CheckIn] = []
    days = list(
        stream_shift_days(
            ordered, schedule, start_day, end_day, now, unscheduled.append, adjustments
        )
    )
    totals = ShiftTotals(schedule.zone, schedule.rules.monthly_flag_count)
    for d in days:
        totals.add(d)
    return ShiftReport(schedule, start_day, end_day, days, totals.flags(), unscheduled)
