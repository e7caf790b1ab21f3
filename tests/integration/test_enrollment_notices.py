"""Faces enrolled at the kiosk: the central side is told only that the person is enrolled (a
retained notice per person), never the template, and the notice is cleared when they are
removed. Real mosquitto, real SQLite, the sync in a thread, ``kiosk roster enrollments``."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from common.mqtt.topics import Topics
from models.consent import Consent
from models.enrollment_notice import EnrollmentNotice
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Probe, Threads, make_config, wait_for
from tests.mosquitto import Mosquitto

VERSION = "9.9.9-test"
PERSON = "HR/7+#é 1"
"""A person id holding every character a topic level may not (``/``, ``+``, ``#``)."""
TOPIC = Topics().enrollment("kiosk-01", PERSON)
SENTINEL = "attendance/v1/zz-sentinel/enrollments/end"
ON_DEVICE = Consent(scope="on_device", given_at=date(2026, 12, 1), recorded_by="hr")


def _retained(url: str, client_id: str) -> list[tuple[str, bytes]]:
    """Every retained enrollment notice the broker holds: a new subscriber gets them before a
    message published after its SUBACK (mosquitto delivers in that order)."""
    probe = Probe(url, client_id)
    try:
        probe.subscribe(Topics().all_enrollments())
        probe.publish(SENTINEL, b"end")
        wait_for(lambda: probe.payloads(SENTINEL), what="the sentinel")
        return [(m.topic, bytes(m.payload)) for m in list(probe.received) if m.retain]
    finally:
        probe.close()


def _notices(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    rows = conn.execute(
        "SELECT person_id, state, templates, published FROM enrollment_notices ORDER BY person_id"
    )
    return [tuple(row) for row in rows]


def test_a_local_enrollment_is_announced_without_its_template_and_cleared_on_removal(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    assert TOPIC == "attendance/v1/kiosk-01/enrollments/HR%2F7%2B%23%C3%A9%201"
    config = make_config(tmp_path / "kiosk", broker.url)
    db = open_database(config.database_path)
    embedding = np.ones(128, np.float32)
    secrets = [embedding.tobytes(), base64.b64encode(embedding.tobytes())]
    gallery = Gallery(db)
    gallery.add_person(PERSON, "Wang Wei", [embedding], "sface", "d", ["camera"], consent=ON_DEVICE)
    assert _notices(db.conn) == [(PERSON, "enrolled", 1, 0)]
    # Messages on other terminals' enrollment topics that are not notices: reported, skipped.
    at = datetime(2026, 12, 1, 8, tzinfo=UTC)
    mismatch = EnrollmentNotice(
        terminal_id="kiosk-09", person_id="X1", state="enrolled", templates=2, at=at
    )
    recorder = Probe(broker.url, "test-recorder")
    try:
        recorder.subscribe("attendance/v1/kiosk-01/#")  # everything the kiosk publishes
        recorder.publish("attendance/v1/kiosk-02/enrollments/E2", b"not json", retain=True)
        elsewhere = mismatch.model_dump_json().encode()
        recorder.publish("attendance/v1/kiosk-03/enrollments/E3", elsewhere, retain=True)
        with Threads() as threads:
            threads.start(SyncWorker(config, threads.stop, VERSION).run, "sync")
            wait_for(lambda: _notices(db.conn) == [(PERSON, "enrolled", 1, 1)], what="published")
            (held,) = [p for t, p in _retained(broker.url, "test-retained-1") if t == TOPIC]
            notice = EnrollmentNotice.model_validate_json(held)
            assert (notice.terminal_id, notice.person_id, notice.state, notice.templates) == (
                "kiosk-01",
                PERSON,
                "enrolled",
                1,
            )
            assert set(json.loads(held)) == {
                "schema_version", "terminal_id", "person_id", "state", "templates", "at"
            }  # fmt: skip

            # The central side's listing: the kiosk's notice; the two bad messages on stderr.
            command = ["roster", "enrollments", "--broker", broker.url, "--wait", "0.5"]
            assert main(command) == 0
            out, err = capsys.readouterr()
            lines = out.splitlines()
            assert lines[0].split() == ["terminal", "person_id", "templates", "at"]
            assert len(lines) == 2 and lines[1].startswith("kiosk-01  HR/7+#é 1  1          20")
            skipped = sorted(err.splitlines())
            assert len(skipped) == 2, err
            assert skipped[0].startswith("skipped attendance/v1/kiosk-02/enrollments/E2: not a")
            assert skipped[1].startswith("skipped attendance/v1/kiosk-03/enrollments/E3: the")
            assert main([*command, "--json"]) == 0
            out, _ = capsys.readouterr()
            assert [EnrollmentNotice.model_validate_json(line) for line in out.splitlines()] == [
                notice
            ]

            gallery.remove(PERSON)
            wait_for(lambda: not _notices(db.conn), what="the removed notice to be published")
            assert TOPIC not in [t for t, _ in _retained(broker.url, "test-retained-2")]
            wait_for(lambda: recorder.payloads(TOPIC)[-1:] == [b""], what="the clearing message")
            assert main(command) == 0
            out, _ = capsys.readouterr()
            assert out.splitlines() == ["terminal  person_id  templates  at"]
        published = recorder.payloads(TOPIC)
        assert [EnrollmentNotice.model_validate_json(p) for p in published[:-1]] == [notice]
        everything = [bytes(m.payload) for m in recorder.received]
        assert len(everything) >= 3  # status, the notice, the clearing message
        for payload in everything:
            for secret in secrets:
                assert secret not in payload
    finally:
        recorder.close()


def test_notices_made_while_the_broker_is_away_go_out_when_it_is_back(
    tmp_path: Path, broker: Mosquitto
):
    config = make_config(tmp_path / "kiosk", broker.url)
    db = open_database(config.database_path)
    gallery = Gallery(db)
    embedding = np.ones(128, np.float32)
    with Threads() as threads:
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_for(lambda: worker.state.connected, what="the sync to connect")
        broker.kill()
        wait_for(lambda: not worker.state.connected, what="the sync to see the broker gone")
        for person_id in ("E1", "E2"):
            gallery.add_person(person_id, person_id, [embedding], "sface", "d", ["camera"],
                               consent=ON_DEVICE)  # fmt: skip
        gallery.remove("E2")  # enrolled and removed while away: never announced, so gone at once
        assert _notices(db.conn) == [("E1", "enrolled", 1, 0)]
        broker.start()
        wait_for(lambda: _notices(db.conn) == [("E1", "enrolled", 1, 1)], what="E1 published")
        held = dict(_retained(broker.url, "test-retained-3"))
    assert list(held) == [Topics().enrollment("kiosk-01", "E1")]
    assert EnrollmentNotice.model_validate_json(held[Topics().enrollment("kiosk-01", "E1")])
