"""Attendance fields stored, delivered and migrated; the schedule file reloaded; and a whole
pipeline (replayed camera, static badge) marking a scheduled person late."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import uuid
from datetime import time, timedelta
from pathlib import Path

import pytest

from common.schedule_file import ScheduleFile
from drivers.camera import ReplayCamera
from drivers.qr.pyzbar_decoder import PyzbarDecoder
from models.messages import CheckInEvent, EventBatch, Method
from models.schedule import ShiftPlan
from terminal.checkin.pipeline import build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.output.screen import ScreenFeed
from terminal.store.database import SCHEMA_USER_VERSION
from terminal.store.outbox import Outbox
from terminal.sync.messages import batch_payload
from tests.attendance_tools import SCHEDULE, TERMINAL, Kiosk, local, summary, write_schedule
from tests.scenes import badge_scene

OLD_EVENTS = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, person_id TEXT NOT NULL,
    method TEXT NOT NULL, captured_at TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'acked')),
    attempts INTEGER NOT NULL DEFAULT 0, committed_at TEXT NOT NULL, sent_at TEXT, acked_at TEXT
);
CREATE INDEX events_state_seq ON events (state, seq);
CREATE TABLE people (person_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE templates (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    engine TEXT NOT NULL, model_digest TEXT NOT NULL, dim INTEGER NOT NULL,
    embedding BLOB NOT NULL, source TEXT, created_at TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('last_seq', '1');
PRAGMA user_version = 1;
"""
"""The outbox as the kiosk made it before attendance (schema 1)."""


def test_the_fields_are_stored_and_delivered_in_the_event_json(tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path / "kiosk.db", write_schedule(tmp_path / "schedule.json"))
    kiosk.check_in("E1002", local(23, 9, 4))
    kiosk.clock.synced = False
    kiosk.check_in("E1002", local(23, 17, 30))
    kiosk.close()
    outbox = Outbox.open(tmp_path / "kiosk.db", TERMINAL, "hq")  # a restart
    batch = EventBatch.model_validate_json(batch_payload(TERMINAL, outbox.due(10)))
    assert [summary(e) for e in batch.events] == [
        ("in", "day@2026-11-23", "late", 4),
        ("out", "day@2026-11-23", "no_verdict_clock", None),
    ]
    wire = json.loads(batch_payload(TERMINAL, outbox.due(10)))["events"][0]
    assert (wire["direction"], wire["verdict"], wire["verdict_minutes"]) == ("in", "late", 4)
    columns = outbox.db.conn.execute(
        "SELECT direction, schedule_ref, verdict, verdict_minutes FROM events ORDER BY seq"
    ).fetchall()
    assert columns == [
        ("in", "day@2026-11-23", "late", 4),
        ("out", "day@2026-11-23", "no_verdict_clock", None),
    ]
    outbox.close()


def test_an_outbox_of_the_previous_schema_is_migrated_on_open(tmp_path: Path) -> None:
    db_file = tmp_path / "kiosk.db"
    old = CheckInEvent(
        event_id=uuid.uuid4(), seq=1, terminal_id=TERMINAL, site="hq", person_id="E1001",
        method=Method.QR, captured_at=local(23, 8, 58), clock_synced=True,
    )  # fmt: skip
    payload = old.model_dump_json(
        exclude={"direction", "schedule_ref", "verdict", "verdict_minutes"}
    )
    conn = sqlite3.connect(db_file)
    conn.executescript(OLD_EVENTS)
    conn.execute(
        "INSERT INTO events (seq, event_id, person_id, method, captured_at, payload,"
        " committed_at) VALUES (1, ?, 'E1001', 'qr', ?, ?, '2026-11-23T00:58:00.000Z')",
        (str(old.event_id), "2026-11-23T00:58:00.000Z", payload),
    )
    conn.commit()
    conn.close()
    kiosk = Kiosk(db_file, write_schedule(tmp_path / "schedule.json"))
    # The old check-in (no direction, no reference) was the arrival: this one is a departure.
    event = kiosk.event("E1001", local(23, 12))
    assert (event.seq, summary(event)) == (2, ("out", "day@2026-11-23", "early_leave", 360))
    old_row, new_row = kiosk.outbox.rows()
    assert old_row.event == old and summary(old_row.event) == (None, None, None, None)
    assert new_row.event == event
    conn = kiosk.outbox.db.conn
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_USER_VERSION,)
    names = {row[1] for row in conn.execute("PRAGMA index_list(events)")}
    assert "events_captured" in names
    kiosk.close()
    Kiosk(db_file, None).close()  # opening a migrated database again changes nothing


def _replace(path: Path, text: str, step: int) -> None:
    """Write ``text`` to ``path`` and give it a distinct modification time."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_800_000_000_000_000_000 + step * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def test_the_schedule_file_is_reloaded_and_a_bad_one_keeps_the_last_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_schedule(tmp_path / "schedule.json")
    kiosk = Kiosk(tmp_path / "kiosk.db", path)
    source = kiosk.attendance.schedules
    assert source is not None and source.current() == SCHEDULE
    early = ShiftPlan(shift_id="early", name="Early", start=time(8), end=time(17), people=["E1001"])
    second = SCHEDULE.model_copy(update={"version": 2, "shifts": [early]})
    _replace(path, second.model_dump_json(), 1)
    assert summary(kiosk.event("E1001", local(23, 8, 30))) == ("in", "early@2026-11-23", "late", 30)
    caplog.set_level(logging.ERROR, logger="common.schedule_file")
    bad = [
        ("{not json", "not valid JSON"),
        ('{"version": 0}', "not a valid schedule"),
        ("", "not valid JSON"),
    ]
    for step, (text, why) in enumerate(bad, start=2):
        _replace(path, text, step)
        assert source.current() == second and source.current() == second
        assert source.error is not None and why in source.error
    assert len(caplog.records) == 3  # once per bad version, not once per check-in
    assert "keeping schedule version 2" in caplog.records[0].getMessage()
    assert summary(kiosk.event("E1001", local(23, 17))) == ("out", "early@2026-11-23",
                                                             "left_on_time", None)  # fmt: skip
    path.unlink()
    assert source.current() == second and "does not exist" in (source.error or "")
    _replace(path, SCHEDULE.model_copy(update={"version": 3}).model_dump_json(), 9)
    assert source.current() is not None and source.current().version == 3  # type: ignore[union-attr]
    assert source.error is None
    kiosk.close()


def test_a_missing_schedule_file_at_start_means_no_schedule(tmp_path: Path) -> None:
    source = ScheduleFile(tmp_path / "none.json")
    assert source.current() is None and source.error is not None


def test_a_replayed_badge_of_a_scheduled_person_is_marked_late(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "recognition": {"enabled": False},
            "liveness": {"mode": "off"},
            "attendance": {"schedule_file": write_schedule(tmp_path / "schedule.json")},
        }
    )
    outbox = Outbox.open(config.database_path, config.terminal.id, config.terminal.site)
    enroll(outbox.db, None, "E1002", "李四", [])
    pipeline = build_pipeline(config, outbox, lambda: True, qr=PyzbarDecoder())
    start = local(23, 9, 3, 30)  # the frame clock: the scene is played from 09:03:30 local
    frames = badge_scene(tmp_path / "scene" / "frames", ["E1002"], frames_per_badge=6)
    camera = ReplayCamera(frames, fps=15, realtime=False)
    decisions = []
    with camera:
        while (frame := camera.read()) is not None:
            frame = dataclasses.replace(frame, wall=start + timedelta(seconds=frame.index / 15))
            decisions.extend(pipeline.process(frame))
    (done,) = [d for d in decisions if d.kind == "checked_in"]
    assert done.event is not None and summary(done.event) == ("in", "day@2026-11-23", "late", 4)
    (row,) = outbox.rows()
    assert row.event == done.event
    view = ScreenFeed(config).on_decision(done)
    assert view is not None and view.title == "签到成功" and view.name == "李四"
    assert view.detail.endswith(" · 迟到 4 分钟")
    outbox.close()
