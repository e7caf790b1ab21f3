"""Which attendance alerts are due at a given moment: a pure function of events and schedule.

:func:`due_alerts` looks at the shift occurrences that started today or yesterday (local, in the
schedule's zone) and at the training sessions, and returns:

- ``absent`` for each person scheduled for a shift occurrence or expected at a session who has
  no check-in for it ``rules.absent_alert_after_min`` minutes after its start, while it is
  still running (an occurrence or session that has ended raises no absent alert any more);
- ``low_participation`` for a session past its midpoint (running, or ended less than
  :data:`SESSION_HORIZON` ago) whose participation so far is below
  ``rules.participation_threshold``: the mean participation of its expected participants in
  :func:`central.reports.sessions.session_report` over the check-ins made until now (absentees
  count 0; someone still inside counts as staying to the end, the report's no-checkout rule).

A check-in counts for a shift occurrence when its ``schedule_ref`` names it, or when
:func:`common.shift_rules.occurrence_for` places it there; for a session as the session report
counts it (at its terminals, from its ``LEAD`` before the start). Any check-in ends an absence
(in or out, clock synchronised or not): the question is only whether the person showed up.

Approved leave (:mod:`central.reports.adjustments`) moves the moment someone is expected: a
person on leave for the whole shift or session raises no ``absent`` alert, one whose leave
covers the start is expected ``absent_alert_after_min`` after the leave ends. Check-ins a
supervisor added count, voided ones do not.

Alerts have deterministic ids (:func:`models.alert.alert_id_for`), so computing them again
gives the same ids, and the publisher sends each once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from central.reports.adjustments import Adjustments, covered
from central.reports.common import CheckIn, event_order
from central.reports.sessions import session_report
from central.reports.shift_stream import ShiftLookup
from common.shift_rules import occurrence_on
from models.alert import Alert, make_alert
from models.messages import CheckInEvent
from models.schedule import Schedule, TrainingSession

SESSION_HORIZON = timedelta(hours=24)
"""How long after a session's end its low participation is still raised."""


def _session_ref(session: TrainingSession) -> str:
    return f"session:{session.session_id}"


def _since(start: datetime, now: datetime) -> int:
    """Whole minutes from ``start`` to ``now``."""
    return max(0, math.floor((now - start).total_seconds() / 60))


def _placed_refs(events: Sequence[CheckIn], schedule: Schedule) -> list[tuple[str, str]]:
    """(person, shift occurrence ref) of each check-in: the ``schedule_ref`` it names, or where
    :func:`common.shift_rules.occurrence_for` places it (looked up in a map built once: the
    schedule's own method rebuilds every group's members for every check-in)."""
    lookup = ShiftLookup(schedule)
    placed = []
    for event in events:
        if event.schedule_ref is not None:
            placed.append((event.person_id, event.schedule_ref))
            continue
        occurrence = lookup.occurrence_for(event.person_id, event.captured_at)
        if occurrence is not None:
            placed.append((event.person_id, occurrence.ref))
    return placed


def _expected_from(
    adjustments: Adjustments, person_id: str, start: datetime, end: datetime
) -> datetime | None:
    """When ``person_id`` is expected at ``[start, end]``: ``start``, the end of leave covering
    it, or None when leave covers all of it."""
    spans = adjustments.leave_within(person_id, start, end)
    if not spans:
        return start
    expected, last, _ = covered(spans, start, end)
    return None if expected >= last else expected


def _shift_alerts(
    events: Sequence[CheckIn], schedule: Schedule, now: datetime, adjustments: Adjustments
) -> list[Alert]:
    after = timedelta(minutes=schedule.rules.absent_alert_after_min)
    today = schedule.local(now).date()
    alerts = []
    placed = _placed_refs(events, schedule)
    for shift in schedule.shifts:
        for day in (today - timedelta(days=1), today):
            occ = occurrence_on(schedule, shift, day)
            if occ is None or not occ.start + after <= now < occ.end:
                continue
            expected = schedule.members(shift.people, shift.groups)
            missing = expected - {person for person, ref in placed if ref == occ.ref}
            minutes = _since(occ.start, now)
            for person_id in sorted(missing):
                due_from = _expected_from(adjustments, person_id, occ.start, occ.end)
                if due_from is None or now < due_from + after:
                    continue
                detail = (
                    f"{person_id} has not checked in for shift {shift.name} ({occ.ref}),"
                    f" which started {minutes} min ago."
                )
                alerts.append(make_alert("absent", occ.ref, person_id, detail, now, minutes))
    return alerts


def _session_alerts(
    events: Sequence[CheckIn], schedule: Schedule, now: datetime, adjustments: Adjustments
) -> list[Alert]:
    rules = schedule.rules
    after = timedelta(minutes=rules.absent_alert_after_min)
    so_far = [e for e in events if e.captured_at <= now]
    alerts = []
    for session in schedule.sessions:
        if not session.start <= now < session.end + SESSION_HORIZON:
            continue
        ref = _session_ref(session)
        result = session_report(so_far, schedule, [session.session_id]).sessions[0]
        expected = [a for a in result.attendance if a.expected]
        if session.start + after <= now < session.end:
            minutes = _since(session.start, now)
            for person_id in sorted(a.person_id for a in expected if a.status == "absent"):
                due_from = _expected_from(adjustments, person_id, session.start, session.end)
                if due_from is None or now < due_from + after:
                    continue
                detail = (
                    f"{person_id} has not checked in for session {session.title} ({ref}),"
                    f" which started {minutes} min ago."
                )
                alerts.append(make_alert("absent", ref, person_id, detail, now, minutes))
        midpoint = session.start + (session.end - session.start) / 2
        share = result.mean_participation
        if expected and now >= midpoint and share < rules.participation_threshold:
            detail = (
                f"Session {session.title} ({ref}): participation so far {share:.0%},"
                f" {result.attended} of {result.expected} expected participants checked in,"
                f" below the {rules.participation_threshold:.0%} threshold."
            )
            alerts.append(
                make_alert("low_participation", ref, None, detail, now, participation=share)
            )
    return alerts


def due_alerts(
    events: Sequence[CheckInEvent],
    schedule: Schedule,
    now: datetime,
    adjustments: Adjustments | None = None,
) -> list[Alert]:
    """Every alert due at ``now`` (aware) for ``events`` under ``schedule``, with the leave and
    corrections of ``adjustments``; see the module."""
    adjustments = adjustments or Adjustments()
    counted: list[CheckIn] = list(events)
    if adjustments:
        merged = adjustments.merged(sorted(counted, key=event_order))
        counted = [e for e in merged if not adjustments.is_voided(e)]
    return _shift_alerts(counted, schedule, now, adjustments) + _session_alerts(
        counted, schedule, now, adjustments
    )
