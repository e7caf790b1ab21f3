"""Alerts: the publisher against a real mosquitto, and ``kiosk alerts``' one-line errors.

Which alerts are due when (pure): tests/unit/test_alerts_due.py.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.alerts.publish import AlertPublisher
from central.receiver.store import ReceiverStore
from cli.main import main
from common.mqtt.types import LinkOptions
from models.alert import Alert
from models.schedule import Schedule
from tests.alert_tools import check_in, make_schedule
from tests.delivery_tools import Probe, wait_for
from tests.mosquitto import Mosquitto

ALERTS = "attendance/v1/alerts"


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
