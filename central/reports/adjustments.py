"""What HR records beside the check-ins, as the reports apply them: approved leave, and the
check-ins supervisors added or voided (:mod:`models.hr_records`).

:class:`Adjustments` is read once per report (:meth:`Adjustments.read`, over the report's
range) and then:

- :meth:`Adjustments.merged` puts the added check-ins into the ordered stream of stored ones,
  in :func:`~central.reports.common.event_order` (an added check-in's terminal is
  :data:`CORRECTION_TERMINAL`, its clock counts as synchronised: a supervisor signed the time
  off);
- :meth:`Adjustments.is_voided` tells the reports which check-ins not to count (they are
  counted as corrections of the person's day instead);
- :meth:`Adjustments.leave_within` gives a person's leave inside an interval, per kind.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from central.reports.common import CheckIn, event_order
from models.hr_records import LeavePeriod, StoredCorrection, StoredLeave
from models.messages import Direction

CORRECTION_TERMINAL = "correction"
"""The ``terminal_id`` of a check-in a supervisor added (no terminal recorded it)."""


@dataclass(frozen=True, slots=True)
class AddedCheckIn:
    """A check-in a supervisor added: a :class:`~central.reports.common.CheckIn` whose
    ``event_id`` is the correction's id."""

    event_id: str
    terminal_id: str
    seq: int
    person_id: str
    captured_at: datetime
    clock_synced: bool
    direction: Direction | None
    schedule_ref: str | None
    reason: str
    signed_off_by: str


@dataclass(frozen=True, slots=True)
class LeaveSpan:
    """Part of a leave period, clipped to what it was asked for."""

    start: datetime
    end: datetime
    kind: str
    leave_id: str


class AdjustmentSource(Protocol):
    """Where the leave and corrections come from (:class:`central.records.store.RecordsStore`;
    the reports do not import the records package)."""

    def leave_between(self, start: datetime, end: datetime) -> Sequence[StoredLeave]:
        """The leave periods meeting ``[start, end)``."""
        ...

    def corrections_between(self, start: datetime, end: datetime) -> Sequence[StoredCorrection]:
        """The check-ins added for ``[start, end)`` and every void."""
        ...


class Adjustments:
    """Leave periods and corrections, indexed for a report."""

    def __init__(
        self, leave: Iterable[LeavePeriod] = (), corrections: Iterable[StoredCorrection] = ()
    ) -> None:
        self._leave: dict[str, list[LeavePeriod]] = {}
        for period in sorted(leave, key=lambda p: (p.start, p.leave_id)):
            self._leave.setdefault(period.person_id, []).append(period)
        self.voided: dict[str, StoredCorrection] = {}
        """Voided ``event_id`` -> the void."""
        added: list[AddedCheckIn] = []
        for c in corrections:
            if c.action == "void" and c.event_id is not None:
                self.voided[str(c.event_id)] = c
            elif c.action == "add":
                assert c.person_id is not None and c.captured_at is not None
                added.append(
                    AddedCheckIn(
                        str(c.correction_id), CORRECTION_TERMINAL, 0, c.person_id,
                        c.captured_at, True, c.direction, c.schedule_ref, c.reason,
                        c.signed_off_by,
                    )
                )  # fmt: skip
        self.added = sorted(added, key=event_order)

    @classmethod
    def read(cls, store: AdjustmentSource, start: datetime, end: datetime) -> Adjustments:
        """The leave and corrections of ``[start, end)`` from a
        :class:`~central.records.store.RecordsStore`."""
        return cls(store.leave_between(start, end), store.corrections_between(start, end))

    @property
    def has_leave(self) -> bool:
        """Whether any leave is known."""
        return bool(self._leave)

    def __bool__(self) -> bool:
        return bool(self._leave or self.voided or self.added)

    def merged(self, ordered_events: Iterable[CheckIn]) -> Iterator[CheckIn]:
        """``ordered_events`` with the added check-ins among them, in ``event_order``."""
        if not self.added:
            return iter(ordered_events)
        return heapq.merge(ordered_events, self.added, key=event_order)

    def is_voided(self, event: CheckIn) -> bool:
        """Whether a supervisor voided ``event``."""
        return bool(self.voided) and str(event.event_id) in self.voided

    def leave_within(self, person_id: str, start: datetime, end: datetime) -> list[LeaveSpan]:
        """``person_id``'s leave inside the shift or session ``[start, end]``, clipped to it, in
        time order. Leave of whole days covers it whole when it starts on one of those days,
        and not at all otherwise (a day off does not cut into the night shift of the day
        before)."""
        spans: list[LeaveSpan] = []
        for period in self._leave.get(person_id, ()):
            if period.start >= end:
                break
            if period.whole_days:
                if period.start <= start < period.end:
                    spans.append(LeaveSpan(start, end, period.kind, period.leave_id))
            elif period.end > start:
                spans.append(
                    LeaveSpan(max(start, period.start), min(end, period.end), period.kind,
                              period.leave_id)
                )  # fmt: skip
        return spans


def covered(
    spans: Sequence[LeaveSpan], start: datetime, end: datetime
) -> tuple[datetime, datetime, dict[str, float]]:
    """What leave ``spans`` (inside ``[start, end]``, in time order) leave of the interval:
    the first instant not on leave at its start (``end`` when it is all covered), the last
    not on leave at its end, and the minutes of leave per kind (overlaps counted once, for
    the kind that starts first)."""
    minutes: dict[str, float] = {}
    reached = start
    for span in spans:
        if span.end <= reached:
            continue
        begin = max(span.start, reached)
        minutes[span.kind] = minutes.get(span.kind, 0.0) + (span.end - begin).total_seconds() / 60
        reached = span.end
    effective_start = start
    for span in spans:
        if span.start <= effective_start < span.end:
            effective_start = span.end
    effective_end = end
    for span in reversed(spans):
        if span.start < effective_end <= span.end:
            effective_end = span.start
    return effective_start, effective_end, minutes
