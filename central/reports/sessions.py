"""Training-session attendance: minutes present, participation, exits, class hours.

:func:`session_report` is pure: events (normally :meth:`ReceiverStore.events_between` over
:func:`session_report_range`) and a :class:`Schedule` in, a :class:`SessionReport` out;
:func:`stream_session_report` reads the ordered stream of
:meth:`ReceiverStore.iter_events_between` once and keeps only the check-ins that count. Per
session:

- the check-ins that count are those of its ``terminal_ids`` captured from ``LEAD`` before its
  start to ``GRACE`` after its end. An event whose ``schedule_ref`` names a session
  (``session:<id>``) counts for that session only; other events near a neighbouring session at
  the same terminal are split at the midpoint between the two (:func:`session_window`);
- per person, in capture order (each ``event_id`` once), entries and exits are paired: the
  event's ``direction`` when sent, otherwise alternately in and out starting with in. An entry
  while in, or an exit while out, is ignored. Every exit strictly between start and end is a
  *mid-session exit* (leaving early for good counts too);
- minutes present: the overlap of the ``[in, out]`` intervals with ``[start, end]``. Still in
  at the end (no exit): ``missing_checkout``, and with ``no_checkout = end_of_schedule`` present
  until the end, with ``entry_only`` nothing after that entry;
- participation = minutes present / session minutes; below ``participation_threshold``:
  flagged, otherwise the session's ``class_hours`` are credited;
- events from terminals whose clock was not synchronised are left out (the person is marked
  ``unverified``); people who came but were not expected are listed with ``expected = False``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from central.reports.common import (
    CheckIn,
    Table,
    event_order,
    local_text,
    overlap_minutes,
    unique_events,
)
from models.messages import Direction
from models.schedule import AttendanceRules, Schedule, TrainingSession

LEAD = timedelta(minutes=30)
"""How long before a session's start an entry counts for it."""
GRACE = timedelta(minutes=30)
"""How long after a session's end an exit still counts for it."""


@dataclass(frozen=True)
class SessionAttendance:
    """One person at one session.

    ``status``: attended, flagged (below the threshold), unverified (below it, but events
    were left out for an unsynchronised clock), or absent (no check-in at all).
    """

    person_id: str
    expected: bool
    first_in: datetime | None
    """The first entry counted."""
    last_out: datetime | None
    """The last exit, when the person is not still in (``missing_checkout``)."""
    intervals: tuple[tuple[datetime, datetime], ...]
    """The ``[in, out]`` intervals as paired, not clipped to the session; a missing exit is
    the session's end (end_of_schedule) or the entry itself (entry_only)."""
    present_minutes: float
    participation: float
    mid_session_exits: int
    missing_checkout: bool
    unverified: bool
    flagged: bool
    credited_hours: float
    status: str


@dataclass(frozen=True)
class SessionResult:
    """One session and its attendance, expected participants first."""

    session: TrainingSession
    attendance: list[SessionAttendance]

    @property
    def expected(self) -> int:
        """Number of expected participants."""
        return sum(a.expected for a in self.attendance)

    @property
    def attended(self) -> int:
        """Expected participants present for some time."""
        return sum(a.expected and a.present_minutes > 0 for a in self.attendance)

    @property
    def flagged(self) -> int:
        """Expected participants below the threshold (absentees included)."""
        return sum(a.expected and a.flagged for a in self.attendance)

    @property
    def unexpected(self) -> int:
        """People who checked in without being expected."""
        return sum(not a.expected for a in self.attendance)

    @property
    def mean_participation(self) -> float:
        """Mean participation of the expected participants (0 when none is expected)."""
        shares = [a.participation for a in self.attendance if a.expected]
        return sum(shares) / len(shares) if shares else 0.0


@dataclass(frozen=True)
class SessionReport:
    """The sessions asked for, in schedule order."""

    schedule: Schedule
    sessions: list[SessionResult]

    def to_table(self) -> Table:
        """One row per session and person; participation as a share (0..1, 3 decimals)."""
        zone = self.schedule.zone
        columns = [
            "session_id", "title", "person_id", "expected", "first_in", "last_out",
            "present_min", "session_min", "participation", "mid_session_exits",
            "missing_checkout", "unverified", "flagged", "credited_hours", "status",
        ]  # fmt: skip
        rows: list[list[object]] = []
        for result in self.sessions:
            session = result.session
            for a in result.attendance:
                first = local_text(a.first_in, zone) if a.first_in else None
                last = local_text(a.last_out, zone) if a.last_out else None
                rows.append([
                    session.session_id, session.title, a.person_id, a.expected, first, last,
                    round(a.present_minutes, 1), round(session.minutes, 1),
                    round(a.participation, 3), a.mid_session_exits, a.missing_checkout,
                    a.unverified, a.flagged, a.credited_hours, a.status,
                ])  # fmt: skip
        return columns, rows

    def summary_table(self) -> Table:
        """One row per session: counts and mean participation of the expected participants."""
        zone = self.schedule.zone
        columns = [
            "session_id", "title", "start", "end", "session_min", "expected", "attended",
            "flagged", "unexpected", "mean_participation", "threshold",
        ]  # fmt: skip
        rows: list[list[object]] = []
        for r in self.sessions:
            rows.append([
                r.session.session_id, r.session.title, local_text(r.session.start, zone),
                local_text(r.session.end, zone), round(r.session.minutes, 1), r.expected,
                r.attended, r.flagged, r.unexpected, round(r.mean_participation, 3),
                self.schedule.rules.participation_threshold,
            ])  # fmt: skip
        return columns, rows


def _chosen(schedule: Schedule, session_ids: Iterable[str] | None) -> list[TrainingSession]:
    """The sessions named (all when None); ValueError naming an unknown id."""
    if session_ids is None:
        return list(schedule.sessions)
    wanted = list(session_ids)
    known = {s.session_id for s in schedule.sessions}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise ValueError(f"unknown session(s): {', '.join(unknown)}")
    return [s for s in schedule.sessions if s.session_id in wanted]


def session_window(
    schedule: Schedule, session: TrainingSession, terminal_id: str | None = None
) -> tuple[datetime, datetime]:
    """The capture times ``[start, end]`` whose check-ins at ``terminal_id`` (any of its
    terminals when None) count for ``session``: ``LEAD`` before, ``GRACE`` after, cut at the
    midpoint to a neighbouring session at the same terminal."""
    start, end = session.start - LEAD, session.end + GRACE
    doors = {terminal_id} if terminal_id else set(session.terminal_ids)
    for other in schedule.sessions:
        if other.session_id == session.session_id or not doors & set(other.terminal_ids):
            continue
        if other.end <= session.start:
            start = max(start, other.end + (session.start - other.end) / 2)
        elif other.start >= session.end:
            end = min(end, session.end + (other.start - session.end) / 2)
    return start, end


def session_report_range(
    schedule: Schedule, session_ids: Iterable[str] | None = None
) -> tuple[datetime, datetime]:
    """The capture times ``[start, end)`` to read events for these sessions (all when None)."""
    sessions = _chosen(schedule, session_ids)
    if not sessions:
        raise ValueError("the schedule has no training sessions")
    return min(s.start for s in sessions) - LEAD, max(s.end for s in sessions) + GRACE + LEAD


def session_report(
    events: Iterable[CheckIn],
    schedule: Schedule,
    session_ids: Iterable[str] | None = None,
) -> SessionReport:
    """Attendance of the sessions ``session_ids`` (all when None; ValueError if unknown).

    ``events`` may come in any order and repeat an ``event_id``."""
    ordered = sorted(unique_events(events), key=event_order)
    return stream_session_report(ordered, schedule, session_ids)


def stream_session_report(
    ordered_events: Iterable[CheckIn],
    schedule: Schedule,
    session_ids: Iterable[str] | None = None,
) -> SessionReport:
    """:func:`session_report` from check-ins already in ``event_order``, each given once (as
    :meth:`ReceiverStore.iter_events_between` reads them): one pass, and only the check-ins
    that count for a session are kept."""
    chosen = _chosen(schedule, session_ids)
    by_person: list[dict[str, list[CheckIn]]] = [defaultdict(list) for _ in chosen]
    doors: dict[str, list[tuple[int, TrainingSession, tuple[datetime, datetime]]]] = {}
    for index, session in enumerate(chosen):
        for terminal_id in session.terminal_ids:
            window = session_window(schedule, session, terminal_id)
            doors.setdefault(terminal_id, []).append((index, session, window))
    for event in ordered_events:
        for index, session, window in doors.get(event.terminal_id, ()):
            if _counts(event, session, window):
                by_person[index][event.person_id].append(event)
    results = []
    for session, found in zip(chosen, by_person, strict=True):
        expected = schedule.members(session.participants, session.groups)
        people = sorted(expected) + sorted(set(found) - expected)
        attendance = [
            _attendance(session, p, p in expected, found.get(p, []), schedule.rules) for p in people
        ]
        results.append(SessionResult(session, attendance))
    return SessionReport(schedule, results)


def _counts(event: CheckIn, session: TrainingSession, window: tuple[datetime, datetime]) -> bool:
    """Whether ``event`` (at one of the session's terminals, whose ``window`` is given) counts
    for ``session``."""
    ref = event.schedule_ref or ""
    if ref.startswith("session:"):
        if ref != f"session:{session.session_id}":
            return False
        return session.start - LEAD <= event.captured_at <= session.end + GRACE
    return window[0] <= event.captured_at <= window[1]


def _attendance(
    session: TrainingSession,
    person: str,
    expected: bool,
    events: list[CheckIn],
    rules: AttendanceRules,
) -> SessionAttendance:
    """Pair one person's (time-ordered) check-ins and measure their presence."""
    synced = [e for e in events if e.clock_synced]
    intervals: list[tuple[datetime, datetime]] = []
    inside: datetime | None = None
    exits = 0
    last_out: datetime | None = None
    for event in synced:
        at = event.captured_at
        direction = event.direction or (Direction.OUT if inside is not None else Direction.IN)
        if direction == Direction.IN:
            inside = at if inside is None else inside
        elif inside is not None:
            intervals.append((inside, at))
            inside, last_out = None, at
            exits += int(session.start < at < session.end)
    missing = inside is not None
    if inside is not None:
        last_out = None
        stay = rules.no_checkout == "end_of_schedule" and inside < session.end
        intervals.append((inside, session.end if stay else inside))
    span = (session.start, session.end)
    present = min(session.minutes, sum(overlap_minutes(i, span) for i in intervals))
    participation = present / session.minutes
    flagged = participation < rules.participation_threshold
    unverified = len(synced) < len(events)
    status = (
        "absent" if not events
        else "attended" if not flagged
        else "unverified" if unverified
        else "flagged"
    )  # fmt: skip
    return SessionAttendance(
        person, expected, intervals[0][0] if intervals else None, last_out, tuple(intervals),
        present, participation, exits, missing, unverified,
        flagged, 0.0 if flagged else session.class_hours, status,
    )  # fmt: skip
