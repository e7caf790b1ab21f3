"""The reference receiver against a real mosquitto: idempotent storage, acks, bad input."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from central.receiver.batch_check import BatchChecker
from central.receiver.service import Receiver, ReceiverStore, describe_event
from common.errors import MessageError
from models.messages import AckMessage, CheckInEvent
from terminal.sync.messages import batch_payload
from tests.delivery_tools import Probe, Threads, wait_for
from tests.mosquitto import Mosquitto

EVENTS = "attendance/v1/kiosk-01/events"
ACK = "attendance/v1/kiosk-01/ack"


def _raw_event(seq: int, terminal_id: str = "kiosk-01", **changes: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "seq": seq,
        "terminal_id": terminal_id,
        "site": "hq",
        "person_id": f"E{1000 + seq}",
        "method": "face",
        "distance": 0.38,
        "captured_at": "2026-11-22T10:00:01.123Z",
        "clock_synced": True,
        **changes,
    }


def _events(first: int, count: int) -> list[CheckInEvent]:
    return [CheckInEvent.model_validate(_raw_event(s)) for s in range(first, first + count)]


def _batch(events: list[dict[str, Any]], terminal_id: str = "kiosk-01", **extra: Any) -> bytes:
    return json.dumps({"terminal_id": terminal_id, "events": events, **extra}).encode()


def _acks(probe: Probe) -> list[AckMessage]:
    return [AckMessage.model_validate_json(p) for p in probe.payloads(ACK)]


def _start(threads: Threads, receiver: Receiver) -> None:
    threads.start(lambda: receiver.run(threads.stop), receiver.options.client_id)
    assert receiver.ready.wait(10), "the receiver did not subscribe"


def test_describe_event_is_one_line():
    event = CheckInEvent.model_validate(_raw_event(42, person_id="E1001"))
    assert describe_event(event) == "2026-11-22T10:00:01.123Z kiosk-01 #42 E1001 face 0.38"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"event_id": "not-a-uuid"}, "uuid"),
        ({"captured_at": "2026-11-22T10:00:01"}, "date-time"),
        ({"seq": 0}, "minimum"),
        ({"method": "iris"}, "iris"),
        ({"terminal_id": "kiosk-02"}, "another"),
    ],
)
def test_one_bad_event_does_not_reject_its_siblings(change: dict[str, Any], reason: str):
    raw = [_raw_event(1), _raw_event(2) | change, _raw_event(3)]
    checked = BatchChecker().check("kiosk-01", _batch(raw))
    assert [e.seq for e in checked.events] == [1, 3]
    assert len(checked.rejected) == 1 and checked.rejected[0].startswith("events/1: ")
    assert reason in checked.rejected[0]


SCHEMA_REJECTS: list[dict[str, Any]] = [
    {"event_id": "not-a-uuid"},
    {"captured_at": "2026-11-22T10:00:01"},
    {"captured_at": "2026-11-22 10:00:01Z"},
    {"captured_at": 1795000000},
    {"seq": 0},
    {"seq": "7"},
    {"seq": 7.5},
    {"clock_synced": "true"},
    {"clock_synced": 1},
    {"distance": "0.4"},
    {"distance": -0.1},
    {"method": "iris"},
    {"method": "FACE"},
    {"schema_version": 2},
    {"terminal_id": "kiosk-02"},
    {"person_id": ""},
    {"site": ""},
    {"extra": 1},
]


@pytest.mark.parametrize("change", SCHEMA_REJECTS)
def test_the_fast_path_never_accepts_what_the_schema_refuses(change: dict[str, Any]):
    raw = _raw_event(2) | change
    slow = BatchChecker().check("kiosk-01", _batch([_raw_event(1), raw]))
    assert [e.seq for e in slow.events] == [1], "the schema was expected to refuse this event"
    payload = _batch([raw])
    assert BatchChecker._all_valid("kiosk-01", payload, json.loads(payload)) is None


def test_the_fast_path_and_the_schema_agree_on_valid_batches():
    raw = [_raw_event(s) for s in range(1, 6)] + [_raw_event(6, distance=None, method="qr")]
    payload = _batch(raw)
    fast = BatchChecker._all_valid("kiosk-01", payload, json.loads(payload))
    assert fast is not None and not fast.rejected
    slow = [BatchChecker()._check_event("kiosk-01", event) for event in raw]
    assert fast.events == slow


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff not json", "not JSON"),
        (b'{"terminal_id": "kiosk-01", "events": [{"distance": NaN}]}', "NaN"),
        (b'{"terminal_id": "kiosk-01"}', "events"),
        (b'{"terminal_id": "kiosk-01", "events": []}', "events"),
        (_batch([_raw_event(1)], schema_version=2), "schema_version"),
        (_batch([_raw_event(1, terminal_id="kiosk-02")], "kiosk-02"), "on the topic of"),
        (b"[" + b" " * 2_000_000 + b"]", "bytes"),
    ],
)
def test_unusable_batches_are_rejected_whole(payload: bytes, reason: str):
    with pytest.raises(MessageError, match=reason):
        BatchChecker().check("kiosk-01", payload)


def test_a_duplicate_batch_is_counted_not_stored_and_acknowledged_again(
    tmp_path: Path, broker: Mosquitto
):
    events = _events(1, 3)
    payload = batch_payload("kiosk-01", events)
    printed: list[str] = []
    probe = Probe(broker.url)
    probe.subscribe(ACK)
    try:
        with Threads() as threads:
            receiver = Receiver(
                broker.url, tmp_path / "central.db", client_id="central-test",
                on_event=lambda e: printed.append(describe_event(e)),
            )  # fmt: skip
            _start(threads, receiver)
            probe.publish(EVENTS, payload)
            probe.publish(EVENTS, payload)
            wait_for(lambda: len(probe.payloads(ACK)) == 2, what="two acks")
    finally:
        probe.close()
    store = ReceiverStore(tmp_path / "central.db")
    assert (store.count(), store.duplicates()) == (3, 3)
    assert [r["event_id"] for r in store.events()] == [str(e.event_id) for e in events]
    assert all(ack.event_ids == [e.event_id for e in events] for ack in _acks(probe))
    assert printed == [describe_event(e) for e in events]


def test_malformed_batches_are_rejected_and_the_receiver_keeps_going(
    tmp_path: Path, broker: Mosquitto
):
    good = [_raw_event(1), _raw_event(3)]
    mixed = [good[0], _raw_event(2, event_id="nope"), good[1], _raw_event(4, terminal_id="k2")]
    last = _raw_event(5)
    probe = Probe(broker.url)
    probe.subscribe(ACK)
    try:
        with Threads() as threads:
            _start(threads, Receiver(broker.url, tmp_path / "c.db", client_id="central-test"))
            probe.publish(EVENTS, b"not json at all")
            probe.publish(EVENTS, b'{"terminal_id": "kiosk-01"}')
            probe.publish(EVENTS, _batch([_raw_event(9)], schema_version=2))
            probe.publish(EVENTS, _batch([_raw_event(9, terminal_id="kiosk-02")], "kiosk-02"))
            probe.publish("attendance/v1/bad id/events", _batch([_raw_event(9)]))
            probe.publish(EVENTS, _batch(mixed))
            probe.publish(EVENTS, _batch([last]))
            wait_for(lambda: len(probe.payloads(ACK)) == 2, what="the acks of the good events")
    finally:
        probe.close()
    store = ReceiverStore(tmp_path / "c.db")
    assert [r["seq"] for r in store.events()] == [1, 3, 5]
    assert [[str(i) for i in ack.event_ids] for ack in _acks(probe)] == [
        [good[0]["event_id"], good[1]["event_id"]],
        [last["event_id"]],
    ]
    reasons = [r["reason"] for r in store.rejects()]
    assert len(reasons) == 7
    assert reasons[0].startswith("not JSON") and "schema_version" in reasons[2]
    assert "'kiosk-02' on the topic of 'kiosk-01'" in reasons[3]
    assert "not an events topic" in reasons[4]
    assert reasons[5].startswith("events/1: ") and reasons[6].startswith("events/3: ")


def test_batches_wait_at_the_broker_while_the_receiver_is_down(tmp_path: Path, broker: Mosquitto):
    db = tmp_path / "central.db"
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id="central-test"))
    probe = Probe(broker.url)
    try:
        probe.publish(EVENTS, batch_payload("kiosk-01", _events(1, 2)))
        probe.publish(EVENTS, batch_payload("kiosk-01", _events(3, 2)))
    finally:
        probe.close()
    store = ReceiverStore(db)
    assert store.count() == 0
    with Threads() as threads:
        _start(threads, Receiver(broker.url, db, client_id="central-test"))
        wait_for(lambda: store.count() == 4, what="the queued batches")
    assert [r["seq"] for r in store.events()] == [1, 2, 3, 4]


def test_a_shared_group_splits_batches_between_receivers(tmp_path: Path, broker: Mosquitto):
    stores = [ReceiverStore(tmp_path / "a.db"), ReceiverStore(tmp_path / "b.db")]
    with Threads() as threads:
        for name, store in zip("ab", stores, strict=True):
            _start(threads, Receiver(broker.url, store.path, group="hr", client_id=f"rx-{name}"))
        probe = Probe(broker.url)
        try:
            for seq in range(1, 21):
                probe.publish(EVENTS, batch_payload("kiosk-01", _events(seq, 1)))
        finally:
            probe.close()
        wait_for(lambda: sum(s.count() for s in stores) == 20, what="20 events in total")
    ids = [{r["seq"] for r in s.events()} for s in stores]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == set(range(1, 21))
