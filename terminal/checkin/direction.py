"""Which way a check-in counts (in or out) and which shift or session it counts for.

A terminal configured ``in`` or ``out`` (``[attendance] direction``) uses that for every
check-in. An ``auto`` terminal decides each one by this rule, from the schedule in force and the
person's earlier check-ins at this terminal (read from the outbox):

1. **Session mode** (``session_mode = true``) and a training session of this terminal applies
   (see :func:`session_at`): entry and exit alternate within that session: the person's first
   check-in for it is ``in`` (entry), then the opposite of their previous one (exit,
   re-entry, exit ...).
2. Otherwise, **a shift occurrence** of the person applies at this moment
   (:func:`common.shift_rules.occurrence_for`: the nearest start, within 4 hours of the
   shift): their first check-in within that occurrence is ``in``, every later one is ``out``
   (the last ``out`` is the departure the reports use).
3. Otherwise (no schedule, or the person has no shift now): check-ins alternate over the
   person's check-ins of the local day (the schedule's time zone, else the kiosk's): the
   first of the day is ``in``, then the opposite of the previous one.

A session applies when it lists this terminal and is running (start to end), else starts
within :data:`SESSION_LEAD` (early arrivals), else ended less than :data:`SESSION_GRACE` ago
and the person has checked in for it (late leavers); running before upcoming before ended,
earliest start first. Earlier check-ins count for an occurrence or a session by the
``schedule_ref`` they were committed with; one committed without (no schedule loaded then)
counts for the occurrence the current schedule puts it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from common.shift_rules import WINDOW, ShiftOccurrence, occurrence_for
from models.messages import CheckInEvent, Direction
from models.schedule import Schedule, TrainingSession

SESSION_LEAD = timedelta(minutes=30)
"""How long before a session's start check-ins at its door count for it."""
SESSION_GRACE = timedelta(minutes=30)
"""How long after a session's end a check-out still counts for it."""

History = Callable[[str, datetime], list[CheckInEvent]]
"""``(person_id, since)`` -> the person's committed check-ins since then, oldest first."""


@dataclass(frozen=True)
class Placement:
    """A check-in's direction and the shift occurrence or session it counts for."""

    direction: Direction
    occurrence: ShiftOccurrence | None = None
    session: TrainingSession | None = None
    first: bool = True
    """No earlier ``in`` of the person counts for the same occurrence or session."""

    @property
    def ref(self) -> str | None:
        """The event's ``schedule_ref``: ``<shift id>@<date>``, ``session:<id>`` or None."""
        if self.session is not None:
            return session_ref(self.session)
        return self.occurrence.ref if self.occurrence is not None else None


def session_ref(session: TrainingSession) -> str:
    """``session:<id>``: how events refer to a training session."""
    return f"session:{session.session_id}"


def session_at(
    schedule: Schedule, terminal_id: str, at: datetime, attended: Callable[[str], bool]
) -> TrainingSession | None:
    """The session of ``terminal_id`` check-ins at ``at`` count for (see the module's rule);
    ``attended(ref)`` says whether the person has checked in for a session already."""
    here = [s for s in schedule.sessions if terminal_id in s.terminal_ids]
    running = [s for s in here if s.start <= at < s.end]
    upcoming = [s for s in here if s.start - SESSION_LEAD <= at < s.start]
    ended = [
        s for s in here if s.end <= at < s.end + SESSION_GRACE and attended(session_ref(s))
    ]  # fmt: skip
    for group in (running, upcoming, ended):
        if group:
            return min(group, key=lambda s: (s.start, s.session_id))
    return None


def _alternate(earlier: list[CheckInEvent]) -> Direction:
    """``in`` first, then the opposite of the previous check-in (by count if it has none)."""
    if not earlier:
        return Direction.IN
    last = earlier[-1].direction
    if last is None:
        return Direction.IN if len(earlier) % 2 == 0 else Direction.OUT
    return Direction.OUT if last is Direction.IN else Direction.IN


def place(
    setting: str,
    schedule: Schedule | None,
    session_mode: bool,
    terminal_id: str,
    person_id: str,
    at: datetime,
    history: History,
    zone: tzinfo,
) -> Placement:
    """Where a check-in of ``person_id`` at ``at`` belongs; ``setting`` is ``in``, ``out`` or
    ``auto`` and ``zone`` the local zone used when there is no schedule."""
    fixed = None if setting == "auto" else Direction(setting)
    if schedule is not None and session_mode:
        found = _session_for(schedule, terminal_id, person_id, at, history)
        if found is not None:
            session, earlier = found
            first = not any(e.direction is Direction.IN for e in earlier)
            return Placement(fixed or _alternate(earlier), session=session, first=first)
    occurrence = occurrence_for(schedule, person_id, at) if schedule is not None else None
    if schedule is not None and occurrence is not None:
        earlier = [
            e
            for e in history(person_id, occurrence.start - WINDOW)
            if _counts_for(e, occurrence, schedule, person_id)
        ]
        first = not any(e.direction in (Direction.IN, None) for e in earlier)
        auto = Direction.OUT if earlier else Direction.IN
        return Placement(fixed or auto, occurrence=occurrence, first=first)
    local_zone = schedule.zone if schedule is not None else zone
    day = at.astimezone(local_zone).date()
    midnight = datetime.combine(day, time(0), local_zone)
    earlier = [
        e
        for e in history(person_id, midnight)
        if e.captured_at.astimezone(local_zone).date() == day
    ]
    return Placement(fixed or _alternate(earlier))


def _session_for(
    schedule: Schedule, terminal_id: str, person_id: str, at: datetime, history: History
) -> tuple[TrainingSession, list[CheckInEvent]] | None:
    """The session that applies and the person's earlier check-ins for it."""
    near = [
        s
        for s in schedule.sessions
        if terminal_id in s.terminal_ids and s.start - SESSION_LEAD <= at < s.end + SESSION_GRACE
    ]
    if not near:
        return None
    past = history(person_id, min(s.start for s in near) - SESSION_LEAD)
    refs = {e.schedule_ref for e in past}
    session = session_at(schedule, terminal_id, at, lambda ref: ref in refs)
    if session is None:
        return None
    return session, [e for e in past if e.schedule_ref == session_ref(session)]


def _counts_for(
    event: CheckInEvent, occurrence: ShiftOccurrence, schedule: Schedule, person_id: str
) -> bool:
    if event.schedule_ref is not None:
        return event.schedule_ref == occurrence.ref
    then = occurrence_for(schedule, person_id, event.captured_at)
    return then is not None and then.ref == occurrence.ref
