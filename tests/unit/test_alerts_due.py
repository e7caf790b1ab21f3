"""Alerts: which are due when (pure: a schedule, check-ins and a time, no broker).

The publisher against a real mosquitto: tests/integration/test_alerts.py.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from central.alerts.due import due_alerts
from central.reports.adjustments import Adjustments
from models.alert import Alert, alert_id_for
from models.hr_records import LeavePeriod, StoredCorrection
from tests.alert_tools import MONDAY, check_in, local, make_schedule


def _absent(alerts: list[Alert], ref: str) -> list[str]:
    return sorted(str(a.person_id) for a in alerts if a.kind == "absent" and a.ref == ref)


def test_no_shift_alert_before_the_grace_period_is_over():
    schedule = make_schedule()
    alerts = due_alerts([], schedule, local(MONDAY, 9, 9, 59))
    assert _absent(alerts, "day@2025-03-03") == []


def test_everyone_without_a_check_in_is_alerted_once_the_grace_period_is_over():
    schedule = make_schedule()
    events = [check_in("E1", local(MONDAY, 8, 55))]
    alerts = due_alerts(events, schedule, local(MONDAY, 9, 10))
    assert _absent(alerts, "day@2025-03-03") == ["E2", "张伟"]
    alert = next(a for a in alerts if a.person_id == "张伟")
    assert alert.minutes_late == 10
    assert alert.alert_id == alert_id_for("absent", "day@2025-03-03", "张伟")
    assert "张伟 has not checked in for shift Day" in alert.detail
    # Computed again later: the same ids (what makes re-sending idempotent).
    later = due_alerts(events, schedule, local(MONDAY, 11, 0))
    assert {a.alert_id for a in later} == {a.alert_id for a in alerts}


def test_a_late_check_in_or_one_the_terminal_placed_ends_the_alert():
    schedule = make_schedule()
    events = [
        check_in("E1", local(MONDAY, 8, 59)),
        check_in("E2", local(MONDAY, 9, 40), clock_synced=False),
        check_in("张伟", local(MONDAY, 6, 0), schedule_ref="day@2025-03-03"),
    ]
    assert _absent(due_alerts(events, schedule, local(MONDAY, 10, 0)), "day@2025-03-03") == []
    # Before E2's late check-in was made it was still due.
    before = due_alerts(events[:1] + events[2:], schedule, local(MONDAY, 9, 30))
    assert _absent(before, "day@2025-03-03") == ["E2"]


def test_no_absent_alert_after_the_end_nor_on_days_off():
    schedule = make_schedule()
    assert _absent(due_alerts([], schedule, local(MONDAY, 18, 0)), "day@2025-03-03") == []
    saturday = MONDAY + timedelta(days=5)
    assert [a for a in due_alerts([], schedule, local(saturday, 10, 0))] == []


def test_session_absences_count_only_check_ins_at_its_door():
    schedule = make_schedule(participants=("E1", "E2"))
    start = local(MONDAY, 14, 0)
    events = [
        check_in("E1", start - timedelta(minutes=5), terminal_id="room-1"),
        check_in("E2", start - timedelta(minutes=3), terminal_id="kiosk-01"),
    ]
    assert (
        _absent(due_alerts(events, schedule, start + timedelta(minutes=9)), "session:fire-101")
        == []
    )
    alerts = due_alerts(events, schedule, start + timedelta(minutes=10))
    assert _absent(alerts, "session:fire-101") == ["E2"]


def test_low_participation_is_raised_after_the_midpoint_only_below_the_threshold():
    schedule = make_schedule(participants=("E1", "E2", "E3", "E4", "E5"))
    start = local(MONDAY, 14, 0)
    door = [check_in(p, start, terminal_id="room-1") for p in ("E1", "E2", "E3")]

    def low(events: list, now: datetime) -> list[Alert]:
        return [a for a in due_alerts(events, schedule, now) if a.kind == "low_participation"]

    assert low(door, start + timedelta(minutes=59)) == []  # before the midpoint
    alerts = low(door, start + timedelta(minutes=60))
    assert len(alerts) == 1
    assert alerts[0].person_id is None and alerts[0].ref == "session:fire-101"
    assert alerts[0].participation == pytest.approx(0.6)
    assert "3 of 5 expected participants" in alerts[0].detail
    assert low(door, start + timedelta(hours=5))  # ended: still reported for a while
    assert low(door, start + timedelta(hours=27)) == []  # but not forever
    four = [*door, check_in("E4", start, terminal_id="room-1")]
    assert low(four, start + timedelta(minutes=90)) == []  # 80 % is not below 80 %
    # E4 came 30 minutes late: 90 of 120 minutes, a mean of 75 %.
    late = [*door, check_in("E4", start + timedelta(minutes=30), terminal_id="room-1")]
    assert low(late, start + timedelta(minutes=90))[0].participation == pytest.approx(0.75)
    # A check-in made after "now" does not count yet.
    future = [*door, check_in("E5", start + timedelta(minutes=70), terminal_id="room-1")]
    assert low(future, start + timedelta(minutes=65))[0].participation == pytest.approx(0.6)


def _leave(person: str, start: datetime, end: datetime, whole_days: bool = False) -> LeavePeriod:
    return LeavePeriod(leave_id=uuid.uuid4().hex, person_id=person, kind="sick",
                       start=start, end=end, whole_days=whole_days)  # fmt: skip


def test_no_absent_alert_for_someone_on_leave_and_a_later_one_after_a_morning_off():
    schedule = make_schedule()
    events = [check_in("E1", local(MONDAY, 8, 55))]
    leave = Adjustments([
        _leave("张伟", local(MONDAY, 0, 0), local(MONDAY + timedelta(days=1), 0, 0), True),
        _leave("E2", local(MONDAY, 9, 0), local(MONDAY, 12, 0)),
    ])  # fmt: skip
    assert (
        _absent(due_alerts(events, schedule, local(MONDAY, 9, 10), leave), "day@2025-03-03") == []
    )
    assert (
        _absent(due_alerts(events, schedule, local(MONDAY, 12, 9), leave), "day@2025-03-03") == []
    )
    after = due_alerts(events, schedule, local(MONDAY, 12, 10), leave)
    assert _absent(after, "day@2025-03-03") == ["E2"]


def test_an_added_check_in_ends_the_alert_and_a_voided_one_does_not():
    schedule = make_schedule()
    wrong = check_in("E2", local(MONDAY, 8, 50))
    fixes = Adjustments((), [
        StoredCorrection(action="void", reason="not E2", signed_off_by="boss",
                         event_id=wrong.event_id, correction_id=uuid.uuid4(),
                         recorded_at=local(MONDAY, 9, 5)),
        StoredCorrection(action="add", reason="forgot badge", signed_off_by="boss",
                         person_id="张伟", captured_at=local(MONDAY, 8, 58), direction="in",
                         correction_id=uuid.uuid4(), recorded_at=local(MONDAY, 9, 5)),
    ])  # fmt: skip
    events = [check_in("E1", local(MONDAY, 8, 55)), wrong]
    assert _absent(due_alerts(events, schedule, local(MONDAY, 9, 10)), "day@2025-03-03") == ["张伟"]
    alerts = due_alerts(events, schedule, local(MONDAY, 9, 10), fixes)
    assert _absent(alerts, "day@2025-03-03") == ["E2"]
