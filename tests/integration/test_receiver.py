"""The reference receiver against a real mosquitto: idempotent storage, acks, bad input.

Batches checked without a broker: tests/unit/test_receiver_batches.py.
"""

from __future__ import annotations

from pathlib import Path

from central.receiver.service import Receiver, ReceiverStore, describe_event
from models.messages import AckMessage, CheckInEvent
from terminal.sync.messages import batch_payload
from tests.delivery_tools import Probe, Threads, wait_for
from tests.mosquitto import Mosquitto
from tests.receiver_tools import batch, raw_event

EVENTS = "attendance/v1/kiosk-01/events"
ACK = "attendance/v1/kiosk-01/ack"


def _events(first: int, count: int) -> list[CheckInEvent]:
    return [CheckInEvent.model_validate(raw_event(s)) for s in range(first, first + count)]


def _acks(probe: Probe) -> list[AckMessage]:
    return [AckMessage.model_validate_json(p) for p in probe.payloads(ACK)]


def _start(threads: Threads, receiver: Receiver) -> None:
    threads.start(lambda: receiver.run(threads.stop), receiver.options.client_id)
    assert receiver.ready.wait(10), "the receiver did not subscribe"


def test_a_duplicate_batch_is_counted_not_stored_and_acknowledged_again(
    central_db: str, tmp_path: Path, broker: Mosquitto
):
    events = _events(1, 3)
    payload = batch_payload("kiosk-01", events)
    printed: list[str] = []
    probe = Probe(broker.url)
    probe.subscribe(ACK)
    try:
        with Threads() as threads:
            receiver = Receiver(
                broker.url, central_db, client_id="central-test",
                on_event=lambda e: printed.append(describe_event(e)),
            )  # fmt: skip
            _start(threads, receiver)
            probe.publish(EVENTS, payload)
            probe.publish(EVENTS, payload)
            wait_for(lambda: len(probe.payloads(ACK)) == 2, what="two acks")
    finally:
        probe.close()
    store = ReceiverStore(central_db)
    assert (store.count(), store.duplicates()) == (3, 3)
    assert [r["event_id"] for r in store.events()] == [str(e.event_id) for e in events]
    assert all(ack.event_ids == [e.event_id for e in events] for ack in _acks(probe))
    assert printed == [describe_event(e) for e in events]


def test_malformed_batches_are_rejected_and_the_receiver_keeps_going(
    central_db: str, tmp_path: Path, broker: Mosquitto
):
    good = [raw_event(1), raw_event(3)]
    mixed = [good[0], raw_event(2, event_id="nope"), good[1], raw_event(4, terminal_id="k2")]
    last = raw_event(5)
    probe = Probe(broker.url)
    probe.subscribe(ACK)
    try:
        with Threads() as threads:
            _start(threads, Receiver(broker.url, central_db, client_id="central-test"))
            probe.publish(EVENTS, b"not json at all")
            probe.publish(EVENTS, b'{"terminal_id": "kiosk-01"}')
            probe.publish(EVENTS, batch([raw_event(9)], schema_version=2))
            probe.publish(EVENTS, batch([raw_event(9, terminal_id="kiosk-02")], "kiosk-02"))
            probe.publish("attendance/v1/bad id/events", batch([raw_event(9)]))
            probe.publish(EVENTS, batch(mixed))
            probe.publish(EVENTS, batch([last]))
            wait_for(lambda: len(probe.payloads(ACK)) == 2, what="the acks of the good events")
    finally:
        probe.close()
    store = ReceiverStore(central_db)
    assert [r["seq"] for r in store.events()] == [1, 3, 5]
    assert [[str(i) for i in ack.event_ids] for ack in _acks(probe)] == [
        [good[0]["event_id"], good[1]["event_id"], mixed[3]["event_id"]],  # not "nope"
        [last["event_id"]],
    ]
    reasons = [r["reason"] for r in store.rejects()]
    assert len(reasons) == 7
    assert reasons[0].startswith("not JSON") and "schema_version" in reasons[2]
    assert "'kiosk-02' on the topic of 'kiosk-01'" in reasons[3]
    assert "not an events topic" in reasons[4]
    assert reasons[5].startswith("events/1: ") and reasons[6].startswith("events/3: ")


def test_batches_wait_at_the_broker_while_the_receiver_is_down(
    central_db: str, tmp_path: Path, broker: Mosquitto
):
    db = central_db
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
    locations = [tmp_path / "a.db", tmp_path / "b.db"]
    stores = [ReceiverStore(location) for location in locations]
    with Threads() as threads:
        for name, location in zip("ab", locations, strict=True):
            _start(threads, Receiver(broker.url, location, group="hr", client_id=f"rx-{name}"))
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
