"""Rosters from the central side: signed, chunked, staged durably, applied atomically, refused
when they must be. Real mosquitto, real SQLite, real face templates (SFace, from the shared
photos) in the first test and random float32 templates (dim 128) elsewhere."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import terminal.store.rosters as roster_store_module
import terminal.sync.inbound as inbound_module
from cli.main import main
from models.roster import RosterChunk
from models.roster_codec import build_roster_messages
from terminal.checkin.engines import build_matcher, create_engine
from terminal.config import Config
from terminal.face.enrollment import enroll, identify_image
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from terminal.store.rosters import RosterStore
from terminal.store.template_seal import TemplateSeal
from terminal.sync.uplink import SyncWorker
from tests.consent_tools import TRANSFER
from tests.delivery_tools import Probe, Threads, commit, wait_for
from tests.mosquitto import Mosquitto
from tests.recognition_tools import person_photo
from tests.roster_scale import measure
from tests.roster_terminal import TerminalProcess
from tests.roster_tools import (
    config_toml,
    gallery_snapshot,
    last_status,
    make_key,
    publish,
    random_people,
    roster_config,
    roster_error,
    tables,
    wait_online,
    write_private_key,
)

VERSION = "9.9.9-test"
STATUS = "attendance/v1/kiosk-01/status"
ROSTER = "attendance/v1/kiosk-01/roster"
EVENTS = "attendance/v1/kiosk-01/events"
ACK = "attendance/v1/kiosk-01/ack"


def test_a_roster_of_enrolled_photos_is_published_applied_and_reported(
    tmp_path: Path, broker: Mosquitto, faces_dir: Path, capsys: pytest.CaptureFixture[str]
):
    engine = create_engine(Config())  # sface, the default
    station = tmp_path / "station"  # where HR enrolls, with the terminals' engine and models
    staff = {"E1": "barack_obama", "E2": "joe_biden", "E3": "kit_harington"}
    db = open_database(station / "kiosk.db")
    for person_id, who in staff.items():
        enroll(
            db,
            engine,
            person_id,
            who.replace("_", " ").title(),
            [person_photo(faces_dir, who)],
            consent=TRANSFER,
        )
    people_file = tmp_path / "people.json"
    assert main(["--data-dir", str(station), "roster", "export", "--out", str(people_file)]) == 0
    key = write_private_key(make_key(tmp_path / "keys", "HR1"), tmp_path / "hr1.pem")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            assert last_status(probe).roster_version is None  # type: ignore[union-attr]
            command = ["roster", "publish", "--broker", broker.url, "--terminal", "kiosk-01"]
            command += ["--people", str(people_file), "--key", str(key), "--key-id", "HR1"]
            assert main([*command, "--version", "7", "--wait", "30"]) == 0
            assert worker.state.roster_version == 7
            # The publisher saw the status on its own connection; the probe's copy may lag.
            wait_for(lambda: _roster_version(probe) == 7, what="the probe to see version 7")
            status = last_status(probe)
            assert status is not None and not status.roster_error
    finally:
        probe.close()
    out = capsys.readouterr().out
    assert "kiosk-01: roster version 7 published, 3 people in 1 message (" in out
    assert "kiosk-01: roster version 7 applied" in out
    db = open_database(config.database_path)
    gallery = Gallery(db)
    assert [(p.person_id, p.name, p.templates) for p in gallery.people()] == [
        ("E1", "Barack Obama", 1),
        ("E2", "Joe Biden", 1),
        ("E3", "Kit Harington", 1),
    ]
    matcher = build_matcher(config, gallery, engine)
    result = identify_image(engine, matcher, person_photo(faces_dir, "barack_obama", 2), 40)
    assert [face["person_id"] for face in result["faces"]] == ["E1"]


def test_a_newer_roster_removes_a_person_and_everything_of_theirs(
    tmp_path: Path, broker: Mosquitto
):
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    first = random_people(3, templates=2)
    leaver = first[1]
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    with Threads() as threads:
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_online(probe)
        probe.close()
        publish(broker.url, {"kiosk-01": build_roster_messages(first, key, "HR1", 10)}, 10)
        assert {p.person_id for p in Gallery(open_database(config.database_path)).people()} == {
            "P00001",
            "P00002",
            "P00003",
        }
        renamed = first[2].model_copy(update={"name": "Person Three, renamed", "qr_key_ids": []})
        second = [first[0], renamed]
        publish(broker.url, {"kiosk-01": build_roster_messages(second, key, "HR1", 11)}, 11)
        assert worker.state.roster_version == 11
    rows = tables(config.database_path)
    assert [r[:2] for r in sorted(rows["people"])] == [
        ("P00001", "Person 1"),
        ("P00003", "Person Three, renamed"),
    ]
    assert sorted(rows["person_qr_keys"]) == [("P00001", "HR1")]
    assert len(rows["templates"]) == 4
    assert all(not rows[t] for t in ("roster_staging", "roster_staging_people"))
    secrets: list[str | bytes] = [
        leaver.person_id,
        leaver.name,
        *(t.embedding for t in leaver.templates),
    ]
    for table, content in rows.items():
        for secret in secrets:
            assert not any(_holds(row, secret) for row in content), f"{secret!r} left in {table}"
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("kiosk/kiosk.db*"))
    for secret in secrets:
        needle = secret.encode() if isinstance(secret, str) else secret
        assert needle not in raw, f"{secret!r} left in the database files"


def _holds(row: tuple[object, ...], secret: str | bytes) -> bool:
    return any(
        (isinstance(v, str) and isinstance(secret, str) and secret in v)
        or (isinstance(v, bytes) and isinstance(secret, bytes) and secret in v)
        for v in row
    )


def _signed(key: Ed25519PrivateKey, **fields: object) -> bytes:
    """A correctly signed chunk of version 30 with ``fields`` changed (valid or not)."""
    person = json.loads(random_people(1, seed=9)[0].model_dump_json())
    chunk = {"roster_version": 30, "issued_at": "2026-01-01T00:00:00Z", "chunk_index": 0}
    raw = json.dumps(chunk | {"chunk_count": 1, "people": [person]} | fields).encode()
    envelope = {"key_id": "HR1", "payload": base64.b64encode(raw).decode()}
    signature = base64.b64encode(key.sign(raw)).decode()
    return json.dumps(envelope | {"signature": signature}).encode()


def _signed_bytes(key: Ed25519PrivateKey, raw: bytes) -> bytes:
    """``raw`` as the payload of a correctly signed roster envelope, whatever it holds."""
    payload = base64.b64encode(raw).decode()
    signature = base64.b64encode(key.sign(raw)).decode()
    return json.dumps({"key_id": "HR1", "payload": payload, "signature": signature}).encode()


def _refusals_are(worker: SyncWorker, count: int) -> Callable[[], bool]:
    return lambda: worker.state.rejected_rosters == count


def _status_says(probe: Probe, reason: str) -> Callable[[], bool]:
    return lambda: reason in roster_error(probe)


def _roster_version(probe: Probe) -> int | None:
    status = last_status(probe)
    return status.roster_version if status else None


def test_bad_rosters_are_refused_reported_and_change_nothing(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    key = make_key(tmp_path / "keys", "HR1")
    impostor = make_key(None, "HR1")  # same key id, another key
    rogue = make_key(None, "ROGUE")
    good = build_roster_messages(random_people(2), key, "HR1", 20, terminal_id="kiosk-01")
    envelope = json.loads(good[0])
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"Person 1")] = ord("X")  # "Xerson 1": the signature no longer fits
    tampered = json.dumps(envelope | {"payload": base64.b64encode(payload).decode()}).encode()
    unsigned_chunk = base64.b64decode(envelope["payload"])
    bad_person = json.loads(random_people(1)[0].model_dump_json())
    bad_person["templates"][0]["embedding"] = base64.b64encode(b"\0" * 8).decode()
    cases = [
        ("stale", build_roster_messages(random_people(1), key, "HR1", 19)[0], "stale: version 19"),
        ("unsigned", unsigned_chunk, "unsigned"),
        ("no signature", json.dumps(envelope | {"signature": ""}).encode(), "unsigned"),
        ("unknown key", build_roster_messages([], rogue, "ROGUE", 30)[0], "unknown key 'ROGUE'"),
        ("wrong key", build_roster_messages([], impostor, "HR1", 30)[0], "bad signature"),
        ("tampered payload", tampered, "bad signature"),
        ("malformed JSON", b'{"schema_version": 1, "key_id": "HR1", "payl', "Invalid JSON"),
        (
            "an envelope nested 100,000 deep",
            b"[" * 100_000 + b"]" * 100_000,
            "not a roster envelope: message: Invalid JSON: nested too deeply",
        ),
        (
            "a signed payload nested 100,000 deep",
            _signed_bytes(key, b"[" * 100_000 + b"]" * 100_000),
            "malformed payload: message: Invalid JSON: nested too deeply",
        ),
        ("malformed payload", _signed(key, chunk_index=1), "chunk_index 1 of a 1-chunk roster"),
        ("bad embedding", _signed(key, people=[bad_person]), "embedding has 8 bytes"),
        ("another terminal", _signed(key, terminal_id="kiosk-02"), "for terminal 'kiosk-02'"),
        ("first of 2 chunks", _signed(key, chunk_count=2), None),
        ("chunk_count differs", _signed(key, chunk_index=1, chunk_count=3), "say 2"),
        ("older than the one arriving", _signed(key, roster_version=25), "than version 30 being"),
    ]
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    caplog.set_level(logging.INFO, logger="terminal.sync.rosters")
    caplog.set_level(logging.INFO, logger="terminal.store.rosters")
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            publish(broker.url, {"kiosk-01": good}, 20)
            before = gallery_snapshot(config.database_path)
            refused = 0
            for name, message, reason in cases:
                probe.publish(ROSTER, message)
                if reason is None:  # staged, waiting for its other chunk
                    wait_for(lambda: len(tables(config.database_path)["roster_staging"]) == 1)
                    continue
                refused += 1
                wait_for(_refusals_are(worker, refused), what=name)
                wait_for(_status_says(probe, reason), what=f"{name} in the status")
                assert gallery_snapshot(config.database_path) == before, name
            assert worker.state.roster_version == 20
            assert RosterStore(open_database(config.database_path)).staged() is not None  # 1 of 2
            # A newer version replaces the one still incomplete (its other chunk never came).
            newer = build_roster_messages(random_people(4), key, "HR1", 31)
            publish(broker.url, {"kiosk-01": newer}, 31)
            wait_for(lambda: not roster_error(probe), what="the refusal cleared from the status")
    finally:
        probe.close()
    assert RosterStore(open_database(config.database_path)).staged() is None
    assert len(tables(config.database_path)["people"]) == 4
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "roster version 30 superseded by 31 before it was complete" in infos
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name, _, reason in cases:
        if reason is not None:
            assert any(reason in w for w in warnings), f"{name}: {reason!r} not in {warnings}"
    assert len(warnings) == refused - 1  # wrong key and tampered payload: one reason, one line


def test_a_kill_9_mid_roster_loses_no_chunk(tmp_path: Path, broker: Mosquitto):
    key = make_key(tmp_path / "keys", "HR1")
    config = config_toml(tmp_path / "kiosk.toml", tmp_path / "kiosk", broker.url, tmp_path / "keys")
    db = tmp_path / "kiosk" / "kiosk.db"
    messages = build_roster_messages(random_people(2000), key, "HR1", 40, chunk_size=100)
    assert len(messages) == 20
    terminal = TerminalProcess(config, tmp_path / "terminal.log")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    try:
        terminal.start()
        wait_online(probe)
        for message in messages[:10]:
            probe.publish(ROSTER, message)
        wait_for(lambda: len(tables(db)["roster_staging"]) == 10, what="10 chunks staged")
        terminal.kill9()
        staged = tables(db)
        assert len(staged["roster_staging"]) == 10 and len(staged["people"]) == 0
        for message in messages[10:]:  # while the terminal is down: its session queues them
            probe.publish(ROSTER, message)
        terminal.start()
        wait_for(lambda: _roster_version(probe) == 40, what="version 40 applied")
    finally:
        terminal.stop()
        probe.close()
    rows = tables(db)
    assert len(rows["people"]) == 2000 and len(rows["templates"]) == 2000
    assert not rows["roster_staging"] and not rows["roster_staging_templates"]
    assert "roster version 40: 10 of 20 chunks staged, waiting for the rest" in terminal.output()


def test_a_50000_person_roster_is_chunked_and_applied_in_one_transaction(
    tmp_path: Path, broker: Mosquitto
):
    result = measure(tmp_path, broker.url, 50_000)
    assert result["messages"] == 100
    assert result["largest_message_bytes"] < 1024 * 1024
    # A reader never saw a half-applied roster: only the 3-person one, then all 50,000.
    assert result["counts_seen_by_reader"] == [(3, 3), (50_000, 50_000)]
    conn = sqlite3.connect(tmp_path / "kiosk" / "kiosk.db")
    row = conn.execute(
        "SELECT (SELECT count(*) FROM people), (SELECT count(DISTINCT person_id) FROM templates),"
        " (SELECT value FROM meta WHERE key = 'roster_version')"
    ).fetchone()
    conn.close()
    assert row == (50_000, 50_000, "2")


def _log_count(caplog: pytest.LogCaptureFixture, level: int, *parts: str) -> int:
    """Records at ``level`` whose message holds every one of ``parts``."""
    return sum(
        r.levelno == level and all(part in r.getMessage() for part in parts) for r in caplog.records
    )


def test_a_roster_the_database_refuses_stays_unacknowledged_and_holds_up_no_event(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    """A trigger makes SQLite refuse to stage any chunk: the chunk is not PUBACKed (after a
    restart the broker delivers it again), events are delivered and acknowledged meanwhile,
    and the roster is applied once the database takes it, without being published again."""
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys", ack_timeout_s=3600)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    outbox.db.conn.execute(
        "CREATE TRIGGER refuse_staging BEFORE INSERT ON roster_staging"
        " BEGIN SELECT RAISE(ABORT, 'staging refused by the test'); END"
    )
    refused = "staging refused by the test"
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    probe.subscribe(EVENTS)
    caplog.set_level(logging.WARNING)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            probe.publish(ROSTER, build_roster_messages(random_people(3), key, "HR1", 60)[0])
            wait_for(lambda: _log_count(caplog, logging.ERROR, refused), what="the failure")
            events = commit(outbox, 2)
            wait_for(lambda: outbox.counts()["sent"] == 2, what="events sent meanwhile")
            ack = {"event_ids": [str(event.event_id) for event in events]}
            probe.publish(ACK, json.dumps(ack).encode())
            wait_for(lambda: outbox.counts()["acked"] == 2, what="the ack applied meanwhile")
            assert worker.state.waiting_messages == 1 and worker.state.roster_version is None
            assert refused in (worker.state.last_error or "")
        failures = _log_count(caplog, logging.ERROR, refused, ROSTER, "stays unacknowledged")
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_for(
                lambda: _log_count(caplog, logging.ERROR, refused, ROSTER) > failures,
                what="the broker's redelivery",
            )
            outbox.db.conn.execute("DROP TRIGGER refuse_staging")
            wait_for(lambda: worker.state.roster_version == 60, what="version 60 applied")
            wait_for(lambda: worker.state.waiting_messages == 0, what="the queue to empty")
            assert worker.state.failed_messages == 0
    finally:
        probe.close()
        outbox.close()
    assert len(tables(config.database_path)["people"]) == 3
    assert _log_count(caplog, logging.WARNING, "sync:") == 0  # no bug, only the database


def _bug_in_staging(monkeypatch: pytest.MonkeyPatch, fails: Callable[[RosterChunk], bool]) -> None:
    """Staging a chunk raises a RuntimeError (a bug) whenever ``fails(chunk)`` says so; the
    retries come after 0.05 s, 0.1 s, ... instead of 1 s, 2 s, ..."""
    insert_chunk = roster_store_module.insert_chunk

    def buggy(
        conn: sqlite3.Connection, chunk: RosterChunk, key_id: str, seal: TemplateSeal | None
    ) -> None:
        if fails(chunk):
            raise RuntimeError(f"a bug the test planted in version {chunk.roster_version}")
        insert_chunk(conn, chunk, key_id, seal)

    monkeypatch.setattr(roster_store_module, "insert_chunk", buggy)
    monkeypatch.setattr(inbound_module, "RETRY_FIRST_S", 0.05)


def test_a_poison_roster_chunk_is_given_up_after_its_attempts_and_the_next_is_applied(
    tmp_path: Path,
    broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    _bug_in_staging(monkeypatch, lambda chunk: chunk.roster_version == 70)
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    caplog.set_level(logging.WARNING)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            probe.publish(ROSTER, build_roster_messages(random_people(2), key, "HR1", 70)[0])
            probe.publish(ROSTER, build_roster_messages(random_people(4), key, "HR1", 71)[0])
            wait_for(lambda: worker.state.roster_version == 71, what="version 71 applied")
            assert worker.state.failed_messages == 1 and worker.state.waiting_messages == 0
    finally:
        probe.close()
    assert len(tables(config.database_path)["people"]) == 4
    planted = "RuntimeError: a bug the test planted in version 70"
    retried = [
        r for r in caplog.records if r.levelno == logging.WARNING and planted in r.getMessage()
    ]
    assert len(retried) == 5, [r.getMessage() for r in retried]
    assert all(f"(attempt {n} of 6)" in r.getMessage() for n, r in enumerate(retried, 1))
    (given_up,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert given_up.getMessage() == (
        f"sync: gave up on a message on {ROSTER} after 6 attempts and acknowledged it (the"
        f" broker will not send it again); the last attempt failed with {planted}"
    )
    assert given_up.exc_info is not None  # a bug: its traceback is in the log


def test_a_roster_chunk_failing_with_a_transient_bug_is_applied_on_a_later_attempt(
    tmp_path: Path,
    broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
):
    failures = [2]

    def twice(_chunk: RosterChunk) -> bool:
        failures[0] -= 1
        return failures[0] >= 0

    _bug_in_staging(monkeypatch, twice)
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    caplog.set_level(logging.WARNING)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            probe.publish(ROSTER, build_roster_messages(random_people(3), key, "HR1", 80)[0])
            wait_for(lambda: worker.state.roster_version == 80, what="version 80 applied")
            assert worker.state.failed_messages == 0 and worker.state.waiting_messages == 0
    finally:
        probe.close()
    assert len(tables(config.database_path)["people"]) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("planted" in w for w in warnings), warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
