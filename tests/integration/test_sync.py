"""The sync against a real mosquitto and the reference receiver: delivery, outages, bad acks.

Acks parsed without a broker: tests/unit/test_ack_parsing.py.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from central.receiver.service import Receiver, ReceiverStore
from models.messages import SCHEMA_VERSION, AckMessage, CheckInEvent
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Probe, Threads, commit, make_config, wait_for
from tests.mosquitto import Mosquitto

VERSION = "9.9.9-test"
SOME_ID = b"6f1c3b7e-1f4b-4f7a-9a51-2d3c4b5a6978"


def _receiver(broker: Mosquitto, db: Path, **kwargs: object) -> Receiver:
    return Receiver(broker.url, db, client_id="central-test", **kwargs)  # type: ignore[arg-type]


def test_committed_events_reach_the_receiver_and_end_acked(tmp_path: Path, broker: Mosquitto):
    config = make_config(tmp_path / "kiosk", broker.url, batch_size=4)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    events = commit(outbox, 10)
    central = tmp_path / "central.db"
    seen: list[CheckInEvent] = []
    with Threads() as threads:
        receiver = _receiver(broker, central, on_event=seen.append)
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(10), "the receiver did not subscribe"
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_for(lambda: outbox.counts()["acked"] == 10, what="10 acked events")
        wait_for(lambda: worker.state.backlog == 0, what="the worker to report backlog 0")
        assert worker.state.connected
    assert outbox.counts() == {"pending": 0, "sent": 0, "acked": 10}
    store = ReceiverStore(central)
    rows = store.events()
    assert [(r["event_id"], r["seq"], r["person_id"]) for r in rows] == [
        (str(e.event_id), e.seq, e.person_id) for e in events
    ]
    assert rows[0]["method"] == "face" and rows[0]["distance"] == pytest.approx(0.3812)
    assert sorted(e.seq for e in seen) == list(range(1, 11))
    assert not worker.state.connected


def test_every_event_arrives_once_across_broker_outages(tmp_path: Path, broker: Mosquitto):
    broker.kill()
    config = make_config(tmp_path / "kiosk", broker.url, batch_size=5, ack_timeout_s=3)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    central = tmp_path / "central.db"
    store = ReceiverStore(central)
    with Threads() as threads:
        # A slow central side (5 ms per new event) so the broker dies mid-delivery.
        slow = _receiver(broker, central, on_event=lambda _e: time.sleep(0.005))
        threads.start(lambda: slow.run(threads.stop), "rx")
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        events = commit(outbox, 50)
        wait_for(lambda: worker.state.last_error is not None, what="a connection error")
        assert outbox.counts()["acked"] == 0
        broker.start()
        events += commit(outbox, 250, start=51)
        wait_for(lambda: store.count() >= 40, what="delivery to start")
        broker.kill()
        assert store.count() < 300, "the broker died after delivery finished: test proves nothing"
        events += commit(outbox, 20, start=301)
        broker.start()
        wait_for(lambda: outbox.counts()["acked"] == 320, timeout=90, what="all events acked")
    assert outbox.counts() == {"pending": 0, "sent": 0, "acked": 320}
    rows = store.events()
    assert len(rows) == store.count() == 320
    assert {r["event_id"] for r in rows} == {str(e.event_id) for e in events}
    assert [r["seq"] for r in rows] == list(range(1, 321))
    assert [(t.events, t.highest_seq, t.missing) for t in store.terminals()] == [(320, 320, 0)]


def test_events_not_acknowledged_in_time_are_sent_again(tmp_path: Path, broker: Mosquitto):
    config = make_config(tmp_path / "kiosk", broker.url, ack_timeout_s=0.5)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    events = commit(outbox, 2)
    events_topic, ack_topic = "attendance/v1/kiosk-01/events", "attendance/v1/kiosk-01/ack"
    probe = Probe(broker.url)
    probe.subscribe(events_topic)
    try:
        with Threads() as threads:
            threads.start(SyncWorker(config, threads.stop, VERSION).run, "sync")
            wait_for(lambda: len(probe.payloads(events_topic)) >= 3, what="three deliveries")
            sent = [json.loads(p) for p in probe.payloads(events_topic)]
            assert all([e["seq"] for e in batch["events"]] == [1, 2] for batch in sent)
            assert all(row.attempts >= 2 for row in outbox.rows())
            ack = {"event_ids": [str(e.event_id) for e in events]}
            probe.publish(ack_topic, json.dumps(ack).encode())
            wait_for(lambda: outbox.counts()["acked"] == 2, what="the late ack to apply")
    finally:
        probe.close()


def test_malformed_acks_are_ignored_and_real_acks_still_work(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    config = make_config(tmp_path / "kiosk", broker.url, ack_timeout_s=3600)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    events = commit(outbox, 3)
    ack_topic = "attendance/v1/kiosk-01/ack"
    bad = [
        b"\xff\xfe not json",
        json.dumps({"event_ids": [1, 2]}).encode(),
        json.dumps({"event_ids": ["nope"]}).encode(),
        json.dumps({"schema_version": 2, "event_ids": [str(events[0].event_id)]}).encode(),
        b'{"event_ids": ["' + b"a" * 300_000 + b'"]}',
        b"[" * 100_000 + b"]" * 100_000,
    ]
    probe = Probe(broker.url)
    caplog.set_level(logging.WARNING, logger="terminal.sync.uplink")
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_for(lambda: outbox.counts()["sent"] == 3, what="3 events sent")
            for payload in bad:
                probe.publish(ack_topic, payload)
            unknown = "0b7e5f4e-8a0e-4c1e-9d55-6a1f0e2b3c4d"
            ack = AckMessage(
                schema_version=SCHEMA_VERSION, event_ids=[events[0].event_id, events[2].event_id]
            )
            probe.publish(ack_topic, ack.model_dump_json().encode())
            ack2 = {"event_ids": [str(events[1].event_id), unknown]}
            probe.publish(ack_topic, json.dumps(ack2).encode())
            wait_for(lambda: outbox.counts()["acked"] == 3, what="the real acks to apply")
            assert worker.state.rejected_acks == len(bad)
            assert outbox.counts() == {"pending": 0, "sent": 0, "acked": 3}
    finally:
        probe.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    ignored = [w for w in warnings if w.startswith("ignored an ack message")]
    assert len(ignored) == len(bad)
    assert any("UUID" in w for w in ignored) and any("bytes, more than" in w for w in ignored)
    assert any("Invalid JSON: nested too deeply" in w for w in ignored)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
