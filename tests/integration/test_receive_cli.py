"""``kiosk receive``: one-line errors, one line per new event, a clean exit on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.receiver.service import ReceiverStore, describe_event
from cli.main import main
from models.messages import CheckInEvent
from terminal.sync.messages import batch_payload
from tests.delivery_tools import Probe
from tests.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]


def test_a_bad_broker_url_is_one_line_and_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    status = main(["receive", "--broker", "http://central:1883", "--db", str(tmp_path / "c.db")])
    assert status == 1
    assert capsys.readouterr().err == (
        "kiosk: error: broker URL 'http://central:1883':"
        " must look like mqtt://host[:port] or mqtts://host[:port]\n"
    )
    assert not (tmp_path / "c.db").exists()


def _event(seq: int, distance: float | None) -> CheckInEvent:
    return CheckInEvent.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "seq": seq,
            "terminal_id": "kiosk-01",
            "site": "hq",
            "person_id": f"E{1000 + seq}",
            "method": "face" if distance is not None else "qr",
            "distance": distance,
            "captured_at": datetime.now(UTC),
            "clock_synced": True,
        }
    )


def test_receive_prints_each_new_event_once_and_exits_0_on_sigterm(
    central_db: str, broker: Mosquitto
):
    events = [_event(1, 0.41), _event(2, None)]
    db = central_db
    probe = Probe(broker.url)
    probe.subscribe("attendance/v1/kiosk-01/ack")
    command = ["receive", "--broker", broker.url, "--client-id", "cli-test"]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        env={**os.environ, "KIOSK_CENTRAL_DB": db},  # as the packaged units give it
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # Like a terminal: publish until acknowledged (the receiver may not be subscribed yet).
        deadline = time.monotonic() + 30
        while not probe.payloads("attendance/v1/kiosk-01/ack"):
            assert time.monotonic() < deadline, "the receiver never acknowledged"
            assert process.poll() is None, process.communicate()[1].decode()
            probe.publish("attendance/v1/kiosk-01/events", batch_payload("kiosk-01", events))
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        probe.close()
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err.decode()
    assert out.decode().splitlines() == [describe_event(e) for e in events]
    assert out.decode().splitlines()[1].endswith(" #2 E1002 qr")
    assert ReceiverStore(db).count() == 2
