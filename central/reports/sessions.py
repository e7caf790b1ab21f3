"""Training-session attendance: minutes present, participation, exits, lateness, class hours.

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
- **unsynchronised clocks**: check-ins from a terminal whose clock was not synchronised have no
  verdict. The minutes are first measured from the synchronised check-ins alone: when those
  already reach the threshold the person has ``attended`` (and is marked ``unverified``).
  Otherwise, if some check-ins were unsynchronised, the minutes are measured from all of them
  (so they are shown) and the status is ``unverified``: not flagged, no class hours;
- **lateness**: ``late_minutes`` is how late the first entry counted is after the start,
  rounded up to the minute (10:00:01 is 1 minute late), judged only when that entry's clock
  was synchronised (0 otherwise). Example: a 10:00 session, first entry 10:04:30: 5 minutes;
- **leave** (:mod:`models.hr_records`, any kind, ``excused`` included): leave covering the
  whole session makes the person ``on_leave``: not flagged, no class hours, participation 0
  (and left out of the session's mean participation). Leave covering the start moves it:
  lateness is measured from the end of that leave (excused 10:00-10:30, entry at 10:20: not
  late; entry at 10:40: 10 minutes late). Participation is still measured over the whole
  session: class hours are credited for time in the room;
- **corrections**: a check-in a supervisor added (terminal
  :data:`~central.reports.adjustments.CORRECTION_TERMINAL`, its clock counted as synchronised)
  counts for the session its ``schedule_ref`` names (``session:<id>``, from ``LEAD`` before
  to ``GRACE`` after), or without a ``schedule_ref`` when it falls in the session's window, at
  whatever door; a voided check-in does not count. Both are counted in ``corrections``;
- people who came but were not expected are listed with ``expected = False``; the people of a
  session's ``pairs`` are expected. :meth:`SessionReport.pairs_table` gives each pair's state:
  ``complete`` (both attended), ``one_absent`` (the other, in ``missing``, did not attend:
  absent, flagged, unverified or on leave) or ``both_absent``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from central.reports.adjustments import CORRECTION_TERMINAL, Adjustments, LeaveSpan, covered
from central.reports.common import (
    CheckIn,
    Table,
    chosen_by_id,
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

STATUSES = ("attended", "flagged", "unverified", "on_leave", "absent")
"""The values of :attr:`SessionAttendance.status`."""


@dataclass(frozen=True)
class SessionAttendance:
    """One person at one session.

    ``status``: attended (at or above the threshold), flagged (below it), unverified (below it
    from the synchronised check-ins, but some were from an unsynchronised clock: no verdict),
    on_leave (leave covers the whole session) or absent (no check-in at all).
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
    late_minutes: int = 0
    """Minutes late, rounded up (0: on time, or no verdict)."""
    leave: tuple[str, ...] = ()
    """The kinds of leave inside the session, in time order."""
    corrections: int = 0
    """Check-ins a supervisor added or voided for this person and session."""

    @property
    def late(self) -> bool:
        """Whether the first entry was judged late."""
        return self.late_minutes > 0

    @property
    def leave_text(self) -> str | None:
        """The kinds of leave, ``+``-joined (None when none)."""
        return "+".join(self.leave) or None


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
    def on_leave(self) -> int:
        """Expected participants on leave for the whole session."""
        return sum(a.expected and a.status == "on_leave" for a in self.attendance)

    @property
    def unverified(self) -> int:
        """Expected participants without a verdict (unsynchronised clocks)."""
        return sum(a.expected and a.status == "unverified" for a in self.attendance)

    @property
    def late(self) -> int:
        """Expected participants who came late."""
        return sum(a.expected and a.late for a in self.attendance)

    @property
    def mean_participation(self) -> float:
        """Mean participation of the expected participants not on leave (0 when none)."""
        shares = [a.participation for a in self.attendance if a.expected and a.status != "on_leave"]
        return sum(shares) / len(shares) if shares else 0.0

    def person(self, person_id: str) -> SessionAttendance | None:
        """``person_id``'s attendance, or None when neither expected nor present."""
        for a in self.attendance:
            if a.person_id == person_id:
                return a
        return None


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
            "late_min", "leave", "corrections",
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
                    a.unverified, a.flagged, a.credited_hours, a.status, a.late_minutes,
                    a.leave_text, a.corrections,
                ])  # fmt: skip
        return columns, rows

    def summary_table(self) -> Table:
        """One row per session: counts and mean participation of the expected participants."""
        zone = self.schedule.zone
        columns = [
            "session_id", "title", "start", "end", "session_min", "expected", "attended",
            "flagged", "unexpected", "mean_participation", "threshold", "unverified",
            "on_leave", "late",
        ]  # fmt: skip
        rows: list[list[object]] = []
        for r in self.sessions:
            rows.append([
                r.session.session_id, r.session.title, local_text(r.session.start, zone),
                local_text(r.session.end, zone), round(r.session.minutes, 1), r.expected,
                r.attended, r.flagged, r.unexpected, round(r.mean_participation, 3),
                self.schedule.rules.participation_threshold, r.unverified, r.on_leave, r.late,
            ])  # fmt: skip
        return columns, rows

    def pairs_table(self) -> Table:
        """One row per pair of a session (:attr:`TrainingSession.pairs`): both statuses and
        the pair's: complete (both attended), one_absent (``missing`` names who did not
        attend) or both_absent (``missing``: both, ``+``-joined)."""
        columns = ["session_id", "person_a", "person_b", "a_status", "b_status",
                   "pair_status", "missing"]  # fmt: skip
        rows: list[list[object]] = []
        for result in self.sessions:
            for a_id, b_id in result.session.pairs:
                a, b = result.person(a_id), result.person(b_id)
                a_status = a.status if a else "absent"
                b_status = b.status if b else "absent"
                missing = [p for p, s in ((a_id, a_status), (b_id, b_status)) if s != "attended"]
                pair_status = ("complete", "one_absent", "both_absent")[len(missing)]
                rows.append([
                    result.session.session_id, a_id, b_id, a_status, b_status, pair_status,
                    "+".join(missing) or None,
                ])  # fmt: skip
        return columns, rows


def _chosen(schedule: Schedule, session_ids: Iterable[str] | None) -> list[TrainingSession]:
    """The sessions named (all when None); ValueError naming an unknown id."""
    return chosen_by_id(schedule.sessions, session_ids, lambda s: s.session_id, "session")


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
    adjustments: Adjustments | None = None,
) -> SessionReport:
    """Attendance of the sessions ``session_ids`` (all when None; ValueError if unknown),
    with the leave and corrections of ``adjustments``.

    ``events`` may come in any order and repeat an ``event_id``."""
    ordered = sorted(unique_events(events), key=event_order)
    return stream_session_report(ordered, schedule, session_ids, adjustments)


def expected_people(schedule: Schedule, session: TrainingSession) -> set[str]:
    """The person ids expected at ``session``: its participants, its groups' members and the
    people of its pairs."""
    paired = [person for pair in session.pairs for person in pair]
    return schedule.members([*session.participants, *paired], session.groups)


def stream_session_report(
    ordered_events: Iterable[CheckIn],
    schedule: Schedule,
    session_ids: Iterable[str] | None = None,
    adjustments: Adjustments | None = None,
) -> SessionReport:
    """:func:`session_report` from check-ins already in ``event_order``, each given once (as
    :meth:`ReceiverStore.iter_events_between` reads them): one pass, and only the check-ins
    that count for a session are kept. ``adjustments`` adds the check-ins supervisors added,
    leaves out the voided ones (counting both as corrections) and applies leave."""
    adjustments = adjustments or Adjustments()
    chosen = _chosen(schedule, session_ids)
    by_person: list[dict[str, list[CheckIn]]] = [defaultdict(list) for _ in chosen]
    fixes: list[dict[str, int]] = [defaultdict(int) for _ in chosen]
    doors: dict[str, list[tuple[int, TrainingSession, tuple[datetime, datetime]]]] = {}
    anywhere: list[tuple[int, TrainingSession, tuple[datetime, datetime]]] = []
    for index, session in enumerate(chosen):
        for terminal_id in session.terminal_ids:
            window = session_window(schedule, session, terminal_id)
            doors.setdefault(terminal_id, []).append((index, session, window))
        anywhere.append((index, session, session_window(schedule, session)))
    if adjustments.added:
        ordered_events = adjustments.merged(ordered_events)
    is_voided = adjustments.is_voided
    for event in ordered_events:
        added = event.terminal_id == CORRECTION_TERMINAL
        if added:
            targets = [i for i, s, w in anywhere if _added_counts(event, s, w)]
        else:
            targets = [i for i, s, w in doors.get(event.terminal_id, ()) if _counts(event, s, w)]
        if not targets:
            continue
        voided = is_voided(event)
        for index in targets:
            if voided or added:
                fixes[index][event.person_id] += 1
            if not voided:
                by_person[index][event.person_id].append(event)
    results = []
    for session, found, fixed in zip(chosen, by_person, fixes, strict=True):
        expected = expected_people(schedule, session)
        people = sorted(expected) + sorted(set(found) - expected)
        rules, leave_within = schedule.rules, adjustments.leave_within
        attendance = [
            _attendance(
                session,
                p,
                p in expected,
                found.get(p, []),
                rules,
                leave_within(p, session.start, session.end),
                fixed.get(p, 0),
            )
            for p in people
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


def _added_counts(
    event: CheckIn, session: TrainingSession, window: tuple[datetime, datetime]
) -> bool:
    """Whether a check-in a supervisor added counts for ``session`` (``window``: at any of
    its doors): the session its ``schedule_ref`` names, or none named and in the window."""
    if event.schedule_ref:
        return event.schedule_ref.startswith("session:") and _counts(event, session, window)
    return window[0] <= event.captured_at <= window[1]


@dataclass(frozen=True, slots=True)
class _Presence:
    """One person's check-ins paired and measured against a session."""

    intervals: tuple[tuple[datetime, datetime], ...]
    last_out: datetime | None
    exits: int
    missing_checkout: bool
    minutes: float


def _presence(
    session: TrainingSession, events: Sequence[CheckIn], rules: AttendanceRules
) -> _Presence:
    """Pair ``events`` (time-ordered) into ``[in, out]`` intervals and measure them."""
    intervals: list[tuple[datetime, datetime]] = []
    inside: datetime | None = None
    exits = 0
    last_out: datetime | None = None
    for event in events:
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
    return _Presence(tuple(intervals), last_out, exits, missing, present)


def _late_minutes(events: Sequence[CheckIn], due: datetime) -> int:
    """Minutes (rounded up) the first entry of ``events`` came after ``due``; 0 when on
    time, when there is no entry, or when its clock was not synchronised (no verdict)."""
    first = next((e for e in events if e.direction != Direction.OUT), None)
    if first is None or not first.clock_synced:
        return 0
    return max(0, math.ceil((first.captured_at - due).total_seconds() / 60))


def _attendance(
    session: TrainingSession,
    person: str,
    expected: bool,
    events: list[CheckIn],
    rules: AttendanceRules,
    leave: Sequence[LeaveSpan] = (),
    corrections: int = 0,
) -> SessionAttendance:
    """Pair one person's (time-ordered) check-ins and measure their presence, with the
    ``leave`` inside the session (in time order)."""
    synced = [e for e in events if e.clock_synced]
    unverified = len(synced) < len(events)
    measured = _presence(session, synced, rules)
    participation = measured.minutes / session.minutes
    flagged = participation < rules.participation_threshold
    status = "absent" if not events else "flagged" if flagged else "attended"
    if flagged and unverified:
        measured = _presence(session, events, rules)
        participation = measured.minutes / session.minutes
        flagged, status = False, "unverified"
    due = session.start
    kinds: tuple[str, ...] = ()
    if leave:
        due, _, minutes = covered(leave, session.start, session.end)
        kinds = tuple(minutes)
        if due >= session.end:
            participation, flagged, status = 0.0, False, "on_leave"
    late = 0 if status == "on_leave" else _late_minutes(events, due)
    credited = session.class_hours if status == "attended" else 0.0
    intervals = measured.intervals
    return SessionAttendance(
        person, expected, intervals[0][0] if intervals else None, measured.last_out, intervals,
        measured.minutes, participation, measured.exits, measured.missing_checkout, unverified,
        flagged, credited, status, late, kinds, corrections,
    )  # fmt: skip
