"""The shift report as a stream: check-ins in, judged person-days out, in report order.

:func:`stream_shift_days` reads check-ins once, in :func:`~central.reports.common.event_order`
(as :meth:`ReceiverStore.iter_events_between` gives them), and keeps per person and shift
occurrence only what the verdicts need: the arrival, the departure candidates and a count. A
report day is complete once the stream has passed the end of its latest occurrence's window
(``end + WINDOW``: no later check-in can belong to it, overnight shifts included); its
:class:`ShiftDay` rows are then yielded and its state dropped. Memory therefore follows the
check-ins of the days still open, not the range.

:class:`ShiftLookup` answers :func:`common.shift_rules.occurrence_for` with the person -> shifts
map and the occurrences built once per report (the schedule's own method rebuilds every
group's members for every check-in), with the same choice, to the tie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from central.reports.adjustments import CORRECTION_TERMINAL, Adjustments
from central.reports.common import CheckIn
from central.reports.shift_days import ShiftDay, judge
from common.shift_rules import WINDOW, ShiftOccurrence, occurrence_on
from models.messages import Direction
from models.schedule import Schedule, ShiftPlan

_ONE_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_WINDOW_US = WINDOW // _MICROSECOND
_NEVER = 1 << 80
"""Later, in microseconds since the epoch, than any check-in."""


def micros(moment: datetime) -> int:
    """``moment`` (aware) in whole microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, slots=True)
class _Window:
    """An occurrence and the capture times whose check-ins may belong to it."""

    occurrence: ShiftOccurrence
    ref: str
    day: date
    shift_id: str
    start: int
    opens: int
    closes: int
    """Start, and the window's opening and closing, in microseconds since the epoch (integer
    arithmetic: exact, and several times faster than comparing datetimes across zones)."""


class ShiftLookup:
    """Who is on which shift, and each shift's occurrences, built once for a report."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.zone = schedule.zone
        self.members: dict[str, list[str]] = {}
        """Shift id -> its people, sorted."""
        shifts_of: dict[str, list[ShiftPlan]] = {}
        for shift in schedule.shifts:
            people = sorted(schedule.members(shift.people, shift.groups))
            self.members[shift.shift_id] = people
            for person in people:
                shifts_of.setdefault(person, []).append(shift)
        self.shifts_of = shifts_of
        """Person -> their shifts, in schedule order (as :meth:`Schedule.shifts_of`)."""
        combinations: dict[tuple[str, ...], int] = {}
        self._combination: dict[str, tuple[int, list[ShiftPlan]]] = {}
        for person, shifts in shifts_of.items():
            number = combinations.setdefault(tuple(s.shift_id for s in shifts), len(combinations))
            self._combination[person] = (number, shifts)
        self._windows: dict[tuple[str, date], _Window | None] = {}
        self._candidates: dict[tuple[int, date], list[_Window]] = {}
        self._day: tuple[int, int, date] = (0, 0, date.min)
        """The local day last asked for, and its first instant and the next day's (micros)."""

    def local_day(self, at: datetime, at_us: int) -> date:
        """The local date of ``at`` (``at_us``: :func:`micros`); check-ins come in time order,
        so the day before is nearly always the answer, and two integers tell."""
        first, after, day = self._day
        if first <= at_us < after:
            return day
        day = at.astimezone(self.zone).date()
        # Midnight with fold 0 is the day's first instant, also when a clock change is at it.
        first = micros(datetime.combine(day, time(0), self.zone))
        after = micros(datetime.combine(day + _ONE_DAY, time(0), self.zone))
        self._day = (first, after, day)
        return day

    def window(self, shift: ShiftPlan, day: date) -> _Window | None:
        """``shift`` on local ``day`` with its window, or None if it does not run that day."""
        key = (shift.shift_id, day)
        try:
            return self._windows[key]
        except KeyError:
            occurrence = occurrence_on(self.schedule, shift, day)
            found = None
            if occurrence is not None:
                start, end = micros(occurrence.start), micros(occurrence.end)
                opens, closes = start - _WINDOW_US, end + _WINDOW_US
                found = _Window(
                    occurrence, occurrence.ref, day, shift.shift_id, start, opens, closes
                )
            self._windows[key] = found
            return found

    def window_for(self, person_id: str, at: datetime, at_us: int) -> _Window | None:
        """The window of the occurrence a check-in of ``person_id`` at ``at`` (``at_us``:
        :func:`micros`) belongs to: :func:`common.shift_rules.occurrence_for`'s choice, to the
        tie (distances in whole microseconds order as their ``total_seconds()`` do)."""
        combination = self._combination.get(person_id)
        if combination is None:
            return None
        local_day = self.local_day(at, at_us)
        key = (combination[0], local_day)
        candidates = self._candidates.get(key)
        if candidates is None:
            days = (local_day - _ONE_DAY, local_day, local_day + _ONE_DAY)
            found = (self.window(shift, day) for shift in combination[1] for day in days)
            candidates = self._candidates[key] = [w for w in found if w is not None]
        best: _Window | None = None
        best_rank: tuple[int, str] = (0, "")
        for window in candidates:
            if window.opens <= at_us <= window.closes:
                rank = (abs(at_us - window.start), window.shift_id)
                if best is None or rank < best_rank:
                    best, best_rank = window, rank
        return best

    def occurrence_for(self, person_id: str, at: datetime) -> ShiftOccurrence | None:
        """:func:`common.shift_rules.occurrence_for`, from the map and the cached windows."""
        window = self.window_for(person_id, at, micros(at))
        return None if window is None else window.occurrence

    def forget_before(self, day: date) -> None:
        """Drop what was cached for days before ``day`` (the stream has passed them)."""
        for key in [k for k in self._windows if k[1] < day]:
            del self._windows[key]
        for old in [k for k in self._candidates if k[1] < day]:
            del self._candidates[old]


class _Picked:
    """One person's check-ins of one occurrence, reduced as they come: the first ``in`` is the
    arrival, the last ``out`` after it the departure (the last ``out`` at all when there is no
    ``in``); without a direction the first check-in is ``in``, the later ones ``out``."""

    __slots__ = ("arrival", "corrections", "count", "departure", "out_without_arrival")

    def __init__(self) -> None:
        self.arrival: CheckIn | None = None
        self.departure: CheckIn | None = None
        self.out_without_arrival: CheckIn | None = None
        self.count = 0
        self.corrections = 0
        """Check-ins a supervisor added or voided."""

    def add(self, event: CheckIn) -> None:
        """Take the next check-in (in capture order)."""
        direction = event.direction or (Direction.IN if self.count == 0 else Direction.OUT)
        self.count += 1
        if direction == Direction.IN:
            if self.arrival is None:
                self.arrival = event
        elif direction == Direction.OUT:
            if self.arrival is None:
                self.out_without_arrival = event
            else:
                self.departure = event

    def pair(self) -> tuple[CheckIn | None, CheckIn | None]:
        """Arrival and departure."""
        if self.arrival is None:
            return None, self.out_without_arrival
        return self.arrival, self.departure


def stream_shift_days(
    ordered_events: Iterable[CheckIn],
    schedule: Schedule,
    start_day: date,
    end_day: date,
    now: datetime | None = None,
    unscheduled: Callable[[CheckIn], None] | None = None,
    adjustments: Adjustments | None = None,
) -> Iterator[ShiftDay]:
    """The :class:`ShiftDay` rows of :func:`~central.reports.shifts.shift_report`, in its
    order (day, person, start), from check-ins already in ``event_order`` and each given once.

    ``unscheduled`` is called with each check-in of a person on no shift then whose local day
    is in the range. ``adjustments`` adds the check-ins supervisors added, leaves out the
    voided ones (counting both as the day's corrections) and applies leave.
    """
    adjustments = adjustments or Adjustments()
    if adjustments.added:
        ordered_events = adjustments.merged(ordered_events)
    # Without leave or corrections (most reports) the checks below are skipped outright.
    is_voided = adjustments.is_voided if adjustments.voided else None
    leave_within = adjustments.leave_within if adjustments.has_leave else None
    check_added = bool(adjustments.added)
    lookup = ShiftLookup(schedule)
    rules = schedule.rules
    state: dict[tuple[str, str], _Picked] = {}
    pending = start_day

    def occurrences(day: date) -> list[ShiftOccurrence]:
        windows = (lookup.window(shift, day) for shift in schedule.shifts)
        return [w.occurrence for w in windows if w is not None]

    def complete(day: date) -> list[ShiftDay]:
        rows: list[ShiftDay] = []
        for occurrence in occurrences(day):
            ref = occurrence.ref
            skipped = now is not None and occurrence.start > now
            running = now is not None and now < occurrence.end
            for person in lookup.members[occurrence.shift.shift_id]:
                picked = state.pop((person, ref), None)
                if skipped:
                    continue
                arrival, departure = picked.pair() if picked else (None, None)
                count = picked.count if picked else 0
                fixes = picked.corrections if picked else 0
                leave = (
                    leave_within(person, occurrence.start, occurrence.end) if leave_within else ()
                )
                judged = judge(
                    person, occurrence, arrival, departure, count, rules, running, leave, fixes
                )
                rows.append(judged)
        rows.sort(key=lambda d: (d.person_id, d.occurrence.start))
        return rows

    def closes(day: date) -> int:
        """When ``day``'s last window closes (:func:`micros`): -1 when nothing runs that day
        (complete at once), past every check-in after the range's last day."""
        if day > end_day:
            return _NEVER
        ends = [micros(o.end) for o in occurrences(day)]
        return max(ends) + _WINDOW_US if ends else -1

    closing = closes(pending)
    window_for = lookup.window_for
    epoch, microsecond = _EPOCH, _MICROSECOND
    for event in ordered_events:
        at = event.captured_at
        at_us = (at - epoch) // microsecond
        while closing < at_us:
            yield from complete(pending)
            pending += _ONE_DAY
            lookup.forget_before(pending - 2 * _ONE_DAY)
            closing = closes(pending)
        person = event.person_id
        window = window_for(person, at, at_us)
        voided = is_voided is not None and is_voided(event)
        if window is None:
            if (
                not voided
                and unscheduled is not None
                and start_day <= at.astimezone(lookup.zone).date() <= end_day
            ):
                unscheduled(event)
        elif start_day <= window.day <= end_day:
            key = (person, window.ref)
            picked = state.get(key)
            if picked is None:
                picked = state[key] = _Picked()
            if voided:
                picked.corrections += 1
                continue
            if check_added and event.terminal_id == CORRECTION_TERMINAL:
                picked.corrections += 1
            picked.add(event)
    while pending <= end_day:
        yield from complete(pending)
        pending += _ONE_DAY
