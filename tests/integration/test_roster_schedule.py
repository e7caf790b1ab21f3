"""Schedules that travel with the roster: published in chunk 0, stored with the roster in one
transaction, used by the kiosk's attendance unless ``[attendance] schedule_file`` is set, and
removed by a roster without one. Real mosquitto, real SQLite."""

from __future__ import annotations

import base64
import json
from datetime import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.rosters.follow import SignedRoster
from cli.main import main
from models.roster import RosterChunk
from models.roster_codec import (
    MALFORMED,
    RosterRefusal,
    build_roster_messages,
    open_roster_message,
)
from terminal.store.database import open_database
from terminal.store.rosters import RosterStore
from terminal.sync.uplink import SyncWorker
from tests.attendance_tools import SCHEDULE, Kiosk, local, summary, write_schedule
from tests.delivery_tools import Probe, Threads, wait_for
from tests.mosquitto import Mosquitto
from tests.roster_tools import (
    gallery_snapshot,
    make_key,
    publish,
    random_people,
    roster_config,
    roster_error,
    tables,
    wait_online,
    write_private_key,
)

STATUS = "attendance/v1/kiosk-01/status"
ROSTER = "attendance/v1/kiosk-01/roster"
LATE_E1002 = ("in", "day@2026-11-23", "late", 5)
"""E1002 at 09:04:01 on the day shift of :data:`SCHEDULE` (09:00 Asia/Shanghai)."""


def _people_file(path: Path, count: int = 3) -> Path:
    path.write_text(json.dumps([p.model_dump(mode="json") for p in random_people(count)]))
    return path


def _chunks(messages: list[bytes]) -> list[RosterChunk]:
    return [
        RosterChunk.model_validate_json(base64.b64decode(json.loads(m)["payload"]))
        for m in messages
    ]


def _resigned(message: bytes, key: Ed25519PrivateKey, **fields: object) -> bytes:
    """``message`` with ``fields`` set in its payload, signed again (valid signature)."""
    envelope = json.loads(message)
    payload = json.loads(base64.b64decode(envelope["payload"])) | fields
    raw = json.dumps(payload).encode()
    signed = {"payload": base64.b64encode(raw).decode()}
    signature = base64.b64encode(key.sign(raw)).decode()
    return json.dumps(envelope | signed | {"signature": signature}).encode()


def test_a_roster_schedule_is_applied_used_and_removed_by_a_roster_without_one(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    key = make_key(tmp_path / "keys", "HR1")
    pem = write_private_key(key, tmp_path / "hr1.pem")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    command = ["roster", "publish", "--broker", broker.url, "--terminal", "kiosk-01"]
    command += ["--people", str(_people_file(tmp_path / "people.json")), "--key", str(pem)]
    command += ["--key-id", "HR1", "--version", "7", "--wait", "30"]
    command += ["--schedule", str(write_schedule(tmp_path / "schedule.json"))]
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    with Threads() as threads:
        worker = SyncWorker(config, threads.stop, "9.9.9-test")
        threads.start(worker.run, "sync")
        wait_online(probe)
        probe.close()
        assert main(command) == 0
        assert (
            "kiosk-01: roster version 7 published, 3 people, schedule version 1 in 1 message"
            in (capsys.readouterr().out)
        )
        rows = tables(config.database_path)
        assert [r[:2] for r in rows["roster_schedule"]] == [(1, 7)]
        assert not rows["roster_staging_schedule"]
        kiosk = Kiosk(config.database_path, None, from_config=True)
        try:
            assert summary(kiosk.event("E1002", local(23, 9, 4, 1))) == LATE_E1002
            # The roster has not changed since: a check-in does not read the schedule again.
            statements: list[str] = []
            kiosk.outbox.db.conn.set_trace_callback(statements.append)
            assert summary(kiosk.event("E1001", local(23, 9, 10)))[2] == "late"
            kiosk.outbox.db.conn.set_trace_callback(None)
            assert statements and not any("roster_schedule" in s for s in statements)
            # Version 8 carries no schedule: the roster is the whole truth, it goes.
            messages = build_roster_messages(random_people(2), key, "HR1", 8)
            assert "schedule" not in base64.b64decode(json.loads(messages[0])["payload"]).decode()
            publish(broker.url, {"kiosk-01": messages}, 8)
            assert kiosk.attendance.schedule() is None
            assert summary(kiosk.event("E1002", local(24, 9, 4, 1))) == ("in", None, None, None)
        finally:
            kiosk.close()
    assert not tables(config.database_path)["roster_schedule"]


def test_a_schedule_in_a_chunk_other_than_0_is_refused_and_nothing_applied(
    tmp_path: Path, broker: Mosquitto
):
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    first = build_roster_messages(random_people(1), key, "HR1", 20, schedule=SCHEDULE)
    second = build_roster_messages(random_people(4), key, "HR1", 30, 2, schedule=SCHEDULE)
    assert [c.schedule is not None for c in _chunks(second)] == [True, False]
    bad = _resigned(second[1], key, schedule=SCHEDULE.model_dump(mode="json"))
    with pytest.raises(RosterRefusal) as refused:
        open_roster_message(bad, lambda _: key.public_key())
    assert refused.value.kind == MALFORMED
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, "9.9.9-test")
            threads.start(worker.run, "sync")
            wait_online(probe)
            publish(broker.url, {"kiosk-01": first}, 20)
            before = gallery_snapshot(config.database_path)
            schedule_before = tables(config.database_path)["roster_schedule"]
            probe.publish(ROSTER, second[0])
            probe.publish(ROSTER, bad)
            wait_for(lambda: worker.state.rejected_rosters == 1, what="the refusal")
            reason = "chunk 1 carries a schedule: only chunk 0 may"
            wait_for(lambda: reason in roster_error(probe), what=reason)
            assert worker.state.roster_version == 20
    finally:
        probe.close()
    rows = tables(config.database_path)
    assert gallery_snapshot(config.database_path) == before
    assert rows["roster_schedule"] == schedule_before and schedule_before[0][1] == 20
    assert [r[:2] for r in rows["roster_staging"]] == [(30, 0)]  # chunk 0 waits, never applied


def test_the_config_schedule_file_wins_over_the_roster_schedule(tmp_path: Path):
    db_file = tmp_path / "kiosk.db"
    fresh = Kiosk(db_file, None, from_config=True)  # no roster yet, not even its tables
    try:
        assert fresh.attendance.schedule() is None
    finally:
        fresh.close()
    store = RosterStore(open_database(db_file))
    key = make_key(None, "HR1")
    messages = build_roster_messages(random_people(1), key, "HR1", 5, schedule=SCHEDULE)
    for chunk in _chunks(messages):
        store.stage(chunk, "HR1")
    assert store.apply(5).schedule_version == 1
    store.db.conn.close()
    roster_kiosk = Kiosk(db_file, None, from_config=True)
    try:
        assert summary(roster_kiosk.event("E1002", local(23, 9, 4, 1))) == LATE_E1002
    finally:
        roster_kiosk.close()
    # The file's day shift starts at 10:00: the same arrival a day later is on time by it.
    ten = SCHEDULE.shifts[0].model_copy(update={"start": time(10)})
    own = SCHEDULE.model_copy(update={"version": 2, "shifts": [ten, *SCHEDULE.shifts[1:]]})
    file_kiosk = Kiosk(db_file, write_schedule(tmp_path / "own.json", own), from_config=True)
    try:
        assert file_kiosk.attendance.schedule() == own
        assert summary(file_kiosk.event("E1002", local(24, 9, 4, 1))) == (
            "in", "day@2026-11-24", "on_time", None
        )  # fmt: skip
    finally:
        file_kiosk.close()


def test_publish_and_follow_put_the_schedule_in_chunk_0_and_refuse_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    key = make_key(None, "HR1")
    signed = SignedRoster(random_people(5), key, "HR1", 3, chunk_size=2, schedule=SCHEDULE)
    chunks = _chunks(signed.messages_for("kiosk-01"))
    assert [c.schedule for c in chunks] == [SCHEDULE, None, None]
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 0}')
    pem = write_private_key(key, tmp_path / "hr1.pem")
    command = ["roster", "publish", "--broker", "mqtt://127.0.0.1:9", "--terminal", "kiosk-01"]
    command += ["--people", str(_people_file(tmp_path / "people.json")), "--key", str(pem)]
    assert main([*command, "--key-id", "HR1", "--schedule", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"kiosk: error: {bad}: not a valid schedule: 1 problem, first: version:"
                   " Input should be greater than or equal to 1"]  # fmt: skip


def test_removing_a_person_takes_their_id_out_of_the_roster_schedule_too(tmp_path: Path):
    from terminal.store.gallery import Gallery
    from terminal.store.roster_schedule import RosterSchedule

    path = tmp_path / "kiosk.db"
    db = open_database(path)
    gallery = Gallery(db)
    for person_id in ("E1001", "E1002"):
        gallery.add_person(person_id, person_id, [], "sface", "none", [])
    document = SCHEDULE.model_dump(mode="json")
    document["shifts"][1]["people"].append("E1001")
    document["sessions"][0]["participants"].append("E1001")
    text = json.dumps(document)
    assert text.count("E1001") == 3  # in a group, on a shift, in a session
    with db.conn:
        db.conn.execute(
            "INSERT INTO roster_schedule (id, roster_version, schedule, applied_at)"
            " VALUES (1, 3, ?, '2026-11-23T00:00:00Z')",
            (text,),
        )
        db.conn.execute("INSERT INTO roster_staging_schedule VALUES (4, ?)", (text,))
    gallery.remove("E1001")
    kept = RosterSchedule(db).current()
    assert kept is not None and kept.version == SCHEDULE.version
    assert "E1001" not in kept.model_dump_json() and "E1002" in kept.model_dump_json()
    db.close()
    assert b"E1001" not in path.read_bytes()  # nothing of them left in the database file
