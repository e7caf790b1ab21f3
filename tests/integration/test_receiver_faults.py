"""The reference receiver's faults, against a real mosquitto and a real database: a poison event
among valid ones, an event sent again with other content, a terminal that counts its seqs again,
an unexpected error while handling a message, and one while even recording it.

Each test ends by starting the receiver again on the same persistent session and sending a
marker batch: a message that was never acknowledged to the broker would come again before it.

The batch checks without a broker: tests/unit/test_receiver_batches.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.receiver.batch_check import BatchChecker, CheckedBatch
from central.receiver.service import ConflictKind, Receiver, ReceiverStore
from central.receiver.store import StoreOutcome
from common.errors import StoreError
from terminal.sync.messages import parse_ack
from tests.delivery_tools import Probe, Threads, wait_for
from tests.mosquitto import Mosquitto
from tests.receiver_tools import batch, raw_event

EVENTS = "attendance/v1/kiosk-01/events"
ACK = "attendance/v1/kiosk-01/ack"
CLIENT_ID = "central-faults"
POISON_TIME = "0001-01-01T00:00:00+01:00"  # valid RFC 3339; in UTC, 23:00 on 31 Dec of year 0


def _start(threads: Threads, receiver: Receiver) -> Receiver:
    threads.start(lambda: receiver.run(threads.stop), receiver.options.client_id)
    assert receiver.ready.wait(10), "the receiver did not subscribe"
    return receiver


def _acks(probe: Probe) -> list[list[str]]:
    """The event ids of every ack received, parsed as the terminal parses them."""
    return [[str(i) for i in parse_ack(p).event_ids] for p in probe.payloads(ACK)]


def _wait_for_acks(probe: Probe, count: int) -> None:
    wait_for(lambda: len(_acks(probe)) == count, what=f"{count} acks")


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [event["event_id"] for event in events]


class _RecordingChecker(BatchChecker):
    """The real checker, keeping every payload it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.payloads: list[bytes] = []

    def check(self, topic_terminal: str, payload: bytes) -> CheckedBatch:
        self.payloads.append(payload)
        return super().check(topic_terminal, payload)


def _nothing_comes_again(broker: Mosquitto, db: str, probe: Probe) -> None:
    """Start the receiver again on its session and send a marker batch: it must be the only
    message the receiver gets (one left unacknowledged at the broker would come first), and
    its ack the only new one."""
    before = len(probe.payloads(ACK))
    marker = batch([raw_event(999)])
    with Threads() as threads:
        receiver = Receiver(broker.url, db, client_id=CLIENT_ID)
        receiver._checker = checker = _RecordingChecker()
        _start(threads, receiver)
        probe.publish(EVENTS, marker)
        wait_for(lambda: len(_acks(probe)) > before, what="the marker's ack")
    assert checker.payloads == [marker]
    assert _acks(probe)[before:] == [[json.loads(marker)["events"][0]["event_id"]]]


@pytest.fixture
def probe(broker: Mosquitto) -> Iterator[Probe]:
    """A test client subscribed to kiosk-01's acks: the terminal's side of the wire."""
    client = Probe(broker.url)
    client.subscribe(ACK)
    yield client
    client.close()


def test_a_poison_event_is_refused_alone_and_acknowledged_with_its_stored_batch_mates(
    central_db: str, tmp_path: Path, broker: Mosquitto, probe: Probe
):
    db = central_db
    poison = raw_event(2, captured_at=POISON_TIME)
    events = [raw_event(1), poison, raw_event(3)]
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id=CLIENT_ID))
        probe.publish(EVENTS, batch(events))
        wait_for(lambda: len(_acks(probe)) == 1, what="the ack of the batch")
        # The same batch again, as a terminal whose ack was lost sends it: acknowledged again,
        # recorded once.
        probe.publish(EVENTS, batch(events))
        wait_for(lambda: len(_acks(probe)) == 2, what="the ack of the batch sent again")
    assert _acks(probe) == [_ids(events), _ids(events)]
    store = ReceiverStore(db)
    assert [row["seq"] for row in store.events()] == [1, 3]
    assert store.duplicates() == 2
    (reject,) = store.reject_records()
    assert reject.reason.startswith("events/1: captured_at: ")
    assert "outside the years 1 to 9999" in reject.reason
    assert (reject.terminal_id, reject.event_id) == ("kiosk-01", poison["event_id"])
    assert reject.payload is not None and json.loads(reject.payload) == poison  # to repair from
    _nothing_comes_again(broker, db, probe)


def test_an_event_without_a_readable_id_is_recorded_and_its_batch_mates_acknowledged(
    central_db: str, tmp_path: Path, broker: Mosquitto, probe: Probe
):
    db = central_db
    nameless = raw_event(2, event_id="not-a-uuid", captured_at=POISON_TIME)
    events = [raw_event(1), nameless, raw_event(3)]
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id=CLIENT_ID))
        probe.publish(EVENTS, batch(events))
        wait_for(lambda: len(_acks(probe)) == 1, what="the ack of the batch")
    assert _acks(probe) == [[events[0]["event_id"], events[2]["event_id"]]]  # cannot name it
    store = ReceiverStore(db)
    assert [row["seq"] for row in store.events()] == [1, 3]
    (reject,) = store.reject_records()
    assert reject.event_id is None and reject.payload is not None
    assert json.loads(reject.payload) == nameless
    _nothing_comes_again(broker, db, probe)


def test_an_event_sent_again_with_other_content_is_a_conflict_and_the_first_is_kept(
    central_db: str,
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, logger="central.receiver")
    db = central_db
    first = raw_event(1, person_id="E1001")
    changed = first | {"person_id": "E2002", "distance": 0.5}
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id=CLIENT_ID))
        for count, payload in enumerate([first, changed, changed, first], start=1):
            probe.publish(EVENTS, batch([payload]))
            _wait_for_acks(probe, count)
    assert _acks(probe) == [[first["event_id"]]] * 4  # recorded, so acknowledged
    store = ReceiverStore(db)
    (row,) = store.events()
    assert (row["person_id"], row["distance"]) == ("E1001", 0.38)  # first come, first kept
    (conflict,) = store.conflicts()  # the changed event sent twice is recorded once
    assert conflict.kind is ConflictKind.EVENT_ID
    assert conflict.event_id == conflict.stored_event_id == first["event_id"]
    assert (conflict.terminal_id, conflict.seq) == ("kiosk-01", 1)
    assert conflict.differences == ("person_id", "distance")
    assert json.loads(conflict.payload)["person_id"] == "E2002"
    assert store.duplicates() == 2  # the changed one again, and the first one again
    (summary,) = store.terminals()
    assert (summary.conflicts, summary.reused_seqs, summary.duplicates) == (1, 0, 2)
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1 and first["event_id"] in logged[0].getMessage()
    _nothing_comes_again(broker, db, probe)


def test_a_terminal_counting_its_seqs_again_is_noticed_and_both_events_are_kept(
    central_db: str,
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING, logger="central.receiver")
    db = central_db
    before = [raw_event(seq) for seq in (1, 2, 3)]
    after = [raw_event(seq, person_id=f"E{seq}") for seq in (1, 2)]  # a new kiosk.db, from 1
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id=CLIENT_ID))
        for count, events in enumerate([before, after, after], start=1):
            probe.publish(EVENTS, batch(events))
            _wait_for_acks(probe, count)
    assert _acks(probe) == [_ids(before), _ids(after), _ids(after)]
    store = ReceiverStore(db)
    assert sorted(row["event_id"] for row in store.events()) == sorted(_ids(before + after))
    conflicts = store.conflicts()
    assert [(c.kind, c.terminal_id, c.seq) for c in conflicts] == [
        (ConflictKind.SEQ, "kiosk-01", 1),
        (ConflictKind.SEQ, "kiosk-01", 2),
    ]
    assert [(c.event_id, c.stored_event_id) for c in conflicts] == list(
        zip(_ids(after), _ids(before[:2]), strict=True)
    )
    assert all(c.differences == ("event_id", "person_id") for c in conflicts)
    (summary,) = store.terminals()
    assert (summary.events, summary.highest_seq, summary.missing) == (5, 3, 0)
    assert (summary.reused_seqs, summary.conflicts, summary.duplicates) == (2, 0, 2)
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 2  # once each, not again when the batch came again
    assert all("terminal kiosk-01 used seq" in line for line in critical)
    assert "seq 1 " in critical[0] and "seq 2 " in critical[1]
    _nothing_comes_again(broker, db, probe)


class _FailingChecker(BatchChecker):
    """The real checker, but an unexpected error for any batch holding ``poison`` (a bug, say)."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison
        self.attempts = 0

    def check(self, topic_terminal: str, payload: bytes) -> CheckedBatch:
        if self.poison.encode() in payload:
            self.attempts += 1
            raise RuntimeError("boom")
        return super().check(topic_terminal, payload)


def test_an_unexpected_error_records_the_message_then_acknowledges_it(
    central_db: str, tmp_path: Path, broker: Mosquitto, probe: Probe
):
    db = central_db
    broken, good = raw_event(1), raw_event(2)
    with Threads() as threads:
        receiver = Receiver(broker.url, db, client_id=CLIENT_ID)
        receiver._checker = _FailingChecker(broken["event_id"])
        _start(threads, receiver)
        probe.publish(EVENTS, batch([broken]))
        probe.publish(EVENTS, batch([good]))
        wait_for(lambda: len(_acks(probe)) == 1, what="the ack of the good batch")
    assert _acks(probe) == [[good["event_id"]]]  # the broken one is not acknowledged: resent
    store = ReceiverStore(db)
    assert [row["seq"] for row in store.events()] == [2]
    (reject,) = store.reject_records()
    assert reject.reason == "internal error: RuntimeError: boom"
    assert reject.terminal_id == "kiosk-01" and reject.payload == batch([broken])
    _nothing_comes_again(broker, db, probe)


def test_a_message_that_cannot_even_be_recorded_stays_unacknowledged_and_is_retried_slowly(
    central_db: str,
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    monkeypatch: pytest.MonkeyPatch,
):
    db = central_db
    event = raw_event(1)
    database_down = threading.Event()
    database_down.set()
    real_store = ReceiverStore.store

    def store(self: ReceiverStore, *args: Any, **kwargs: Any) -> StoreOutcome:
        if database_down.is_set():
            raise StoreError(f"{self.name}: database error: disk I/O error")
        return real_store(self, *args, **kwargs)

    monkeypatch.setattr(ReceiverStore, "store", store)
    with Threads() as threads:
        receiver = Receiver(broker.url, db, client_id=CLIENT_ID)
        checker = _FailingChecker(event["event_id"])
        receiver._checker = checker
        _start(threads, receiver)
        probe.publish(EVENTS, batch([event]))
        wait_for(lambda: checker.attempts >= 1, what="the first attempt")
        time.sleep(2.5)
        assert 2 <= checker.attempts <= 3  # at 0, 1 and 3 s: backing off, not spinning
        database_down.clear()  # the database is back; the bug is fixed
        checker.poison = "nothing matches this"
        wait_for(lambda: len(_acks(probe)) == 1, what="the message, tried again")
    assert _acks(probe) == [[event["event_id"]]]
    store_now = ReceiverStore(db)
    assert [row["event_id"] for row in store_now.events()] == [event["event_id"]]
    assert store_now.reject_records() == []
    _nothing_comes_again(broker, db, probe)


def test_messages_queued_together_are_stored_in_one_transaction_and_a_bad_one_alone_refused(
    central_db: str, broker: Mosquitto, probe: Probe, monkeypatch: pytest.MonkeyPatch
):
    db = central_db
    events = [raw_event(seq) for seq in range(1, 21)]
    broken = events[7]
    with Threads() as threads:  # subscribe once, so the broker queues for the session
        _start(threads, Receiver(broker.url, db, client_id=CLIENT_ID))
    for event in events:  # 20 messages wait at the broker while the receiver is down
        probe.publish(EVENTS, batch([event]))
    transactions: list[int] = []
    real = ReceiverStore.store_batches

    def store_batches(self: ReceiverStore, batches: Any) -> Any:
        transactions.append(len(batches))
        return real(self, batches)

    monkeypatch.setattr(ReceiverStore, "store_batches", store_batches)
    with Threads() as threads:
        receiver = Receiver(broker.url, db, client_id=CLIENT_ID)
        receiver._checker = _FailingChecker(broken["event_id"])
        _start(threads, receiver)
        store = ReceiverStore(db)
        _wait_for_acks(probe, 19)
        wait_for(lambda: len(store.reject_records()) == 1, what="the refusal")
    acknowledged = [event_id for ack in _acks(probe) for event_id in ack]
    assert sorted(acknowledged) == sorted(_ids(events[:7] + events[8:]))
    assert max(transactions) > 1  # several messages in one commit
    assert [row["seq"] for row in store.events()] == [e["seq"] for e in events if e != broken]
    (reject,) = store.reject_records()
    assert reject.reason == "internal error: RuntimeError: boom"
    _nothing_comes_again(broker, db, probe)
