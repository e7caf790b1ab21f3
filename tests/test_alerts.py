"""Alerts: which are due when (pure), and the publisher against a real mosquitto."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.alerts.due import due_alerts
from central.alerts.publish import AlertPublisher
from central.receiver.store import ReceiverStore
from cli.main import main
from common.mqtt.types import LinkOptions
from models.alert import Alert, alert_id_for
from models.schedule import Schedule
from tests.alert_tools import MONDAY, check_in, local, make_schedule
from tests.delivery_tools import Probe, wait_for
from tests.mosquitto import Mosquitto

ALERTS = "attendance/v1/alerts"


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


def _publisher_setup(tmp_path: Path) -> tuple[Path, Path]:
    """A central db with E1's check-in, and a schedule whose session started 20 min ago."""
    now = datetime.now(UTC)
    with_shift = make_schedule(now - timedelta(minutes=20), 30, ("E1", "E2", "E3"))
    schedule = with_shift.model_copy(update={"shifts": []})  # the shift may be running now
    db = tmp_path / "central.db"
    store = ReceiverStore(db)
    store.store([check_in("E1", now - timedelta(minutes=19), terminal_id="room-1")])
    store.close()
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_text(schedule.model_dump_json(), encoding="utf-8")
    return db, schedule_file


def _run_publisher(url: str, db: Path, schedule_file: Path, probe: Probe, client: str) -> list:
    """Run a publisher until two rounds are done; return the alerts the probe got from it."""
    schedule = Schedule.model_validate_json(schedule_file.read_text(encoding="utf-8"))
    options = LinkOptions(url=url, client_id=client, reconnect_min_s=0.1)
    publisher = AlertPublisher(options, db, schedule, every_s=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: publisher.rounds >= 2, what="two rounds of the publisher")
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    # mosquitto forwards in order: once our own later message arrives, so has the publisher's.
    probe.publish(ALERTS, b"sentinel")
    wait_for(lambda: b"sentinel" in probe.payloads(ALERTS), what="the sentinel")
    got = [json.loads(p) for p in probe.payloads(ALERTS) if p != b"sentinel"]
    probe.received.clear()
    assert publisher.published == len(got)
    return got


def test_the_publisher_sends_each_alert_once_and_not_again_after_a_restart(
    tmp_path: Path, broker: Mosquitto
):
    db, schedule_file = _publisher_setup(tmp_path)
    probe = Probe(broker.url)
    probe.subscribe(ALERTS)
    try:
        first = _run_publisher(broker.url, db, schedule_file, probe, "alerts-1")
        absent = sorted(a["person_id"] for a in first if a["kind"] == "absent")
        assert absent == ["E2", "E3"]
        low = [a for a in first if a["kind"] == "low_participation"]
        # E1 came a minute after the start of 30 minutes: 29/30; E2, E3: 0.
        assert len(low) == 1 and low[0]["participation"] == pytest.approx(29 / 90, abs=0.005)
        assert len(first) == 3
        for payload in first:
            Alert.model_validate(payload)
        # A restart (new publisher, same database): nothing is sent again.
        assert _run_publisher(broker.url, db, schedule_file, probe, "alerts-2") == []
    finally:
        probe.close()


def test_kiosk_alerts_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    db, schedule_file = _publisher_setup(tmp_path)
    base = ["alerts", "--broker", "mqtt://127.0.0.1:1", "--every", "1"]
    assert main([*base, "--db", str(tmp_path / "none.db"), "--schedule", str(schedule_file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: error: ") and "no such receiver database" in err
    assert err.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 0}', encoding="utf-8")
    assert main([*base, "--db", str(db), "--schedule", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk: error: {bad}: not a valid schedule: ") and err.count("\n") == 1
