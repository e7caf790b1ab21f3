"""The reference receiver's batch checks, without a broker: one bad event among good ones, the
fast path against the schema, batches rejected whole; one line per event. Events the store
could not keep are refused alone, and the store refuses alone any it still cannot write.

The receiver against a real mosquitto: tests/integration/test_receiver.py.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from central.receiver.batch_check import BatchChecker
from central.receiver.service import ConflictKind, ReceiverStore, Reject, describe_event
from common.errors import MessageError, StoreError
from models.messages import CheckInEvent
from tests.receiver_tools import batch, raw_event


def test_describe_event_is_one_line():
    event = CheckInEvent.model_validate(raw_event(42, person_id="E1001"))
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
    raw = [raw_event(1), raw_event(2) | change, raw_event(3)]
    checked = BatchChecker().check("kiosk-01", batch(raw))
    assert [e.seq for e in checked.events] == [1, 3]
    assert len(checked.rejected) == 1 and checked.rejected[0].reason.startswith("events/1: ")
    assert reason in checked.rejected[0].reason


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
    raw = raw_event(2) | change
    slow = BatchChecker().check("kiosk-01", batch([raw_event(1), raw]))
    assert [e.seq for e in slow.events] == [1], "the schema was expected to refuse this event"
    payload = batch([raw])
    assert BatchChecker._all_valid("kiosk-01", payload, json.loads(payload)) is None


def test_the_fast_path_and_the_schema_agree_on_valid_batches():
    raw = [raw_event(s) for s in range(1, 6)] + [raw_event(6, distance=None, method="qr")]
    payload = batch(raw)
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
        (batch([raw_event(1)], schema_version=2), "schema_version"),
        (batch([raw_event(1, terminal_id="kiosk-02")], "kiosk-02"), "on the topic of"),
        (b"[" + b" " * 2_000_000 + b"]", "bytes"),
    ],
)
def test_unusable_batches_are_rejected_whole(payload: bytes, reason: str):
    with pytest.raises(MessageError, match=reason):
        BatchChecker().check("kiosk-01", payload)


UNSTORABLE: list[tuple[str, str, dict[str, Any], str]] = [
    ("captured_at", '"0001-01-01T00:00:00+01:00"', {}, "outside the years 1 to 9999"),
    ("captured_at", '"9999-12-31T23:59:59-01:00"', {}, "outside the years 1 to 9999"),
    ("seq", "9223372036854775808", {}, "the largest integer the store keeps"),
    ("verdict_minutes", "9223372036854775808", {"verdict": "late"}, "the largest integer"),
    ("distance", "1e400", {}, "inf is not a finite number"),
]
"""Values the schemas allow but the store cannot keep: the field, its value as JSON text, other
changes to the event, the end of the reason."""


@pytest.mark.parametrize(("field", "value", "changes", "why"), UNSTORABLE)
def test_an_event_the_store_cannot_keep_is_refused_alone_and_the_rest_are_stored(
    tmp_path: Path, field: str, value: str, changes: dict[str, Any], why: str
):
    raw = [raw_event(1), raw_event(2, **changes) | {field: "VALUE"}, raw_event(3)]
    payload = batch(raw).replace(b'"VALUE"', value.encode())
    assert BatchChecker._all_valid("kiosk-01", payload, json.loads(payload)) is None
    checked = BatchChecker().check("kiosk-01", payload)
    assert [e.seq for e in checked.events] == [1, 3]
    (rejected,) = checked.rejected
    assert rejected.reason.startswith(f"events/1: {field}: ") and why in rejected.reason
    assert str(rejected.event_id) == raw[1]["event_id"]
    assert json.loads(rejected.payload)["event_id"] == raw[1]["event_id"]
    assert [str(i) for i in checked.event_ids] == [event["event_id"] for event in raw]
    store = ReceiverStore(tmp_path / "central.db")
    outcome = store.store(checked.events, [Reject("t", rejected.reason, rejected.payload)])
    assert [e.seq for e in outcome.new] == [1, 3] and not outcome.refused


def test_an_event_the_store_cannot_write_becomes_a_reject_and_its_batch_mates_are_stored(
    tmp_path: Path,
):
    good = [CheckInEvent.model_validate(raw_event(seq)) for seq in (1, 3)]
    # What validation should have refused and did not (a bug, a new field): seq beyond SQLite.
    bad_id = uuid.uuid4()
    bad = CheckInEvent.model_construct(
        **(good[0].model_dump() | {"seq": 2**63, "event_id": bad_id})
    )
    store = ReceiverStore(tmp_path / "central.db")
    outcome = store.store([good[0], bad, good[1]], topic="attendance/v1/kiosk-01/events")
    assert outcome.new == good
    (refused,) = outcome.refused
    assert "cannot be stored: OverflowError" in refused.reason
    assert [row["seq"] for row in store.events()] == [1, 3]
    (record,) = store.reject_records()
    assert (record.topic, record.reason, record.event_id) == (
        "attendance/v1/kiosk-01/events",
        refused.reason,
        str(bad_id),
    )
    assert record.terminal_id == "kiosk-01" and record.payload is not None
    assert b"9223372036854775808" in record.payload  # the event in full, to repair it from


def test_a_database_error_stores_nothing_of_the_batch(tmp_path: Path):
    store = ReceiverStore(tmp_path / "central.db")
    first, same_seq = raw_event(1), raw_event(1)  # the second makes a conflict to record
    conn = sqlite3.connect(tmp_path / "central.db")
    conn.execute("DROP TABLE conflicts")  # so that recording it fails, as a full disk would
    conn.commit()
    conn.close()
    checked = BatchChecker().check("kiosk-01", batch([raw_event(2), first, same_seq]))
    with pytest.raises(StoreError, match="no such table: conflicts"):
        store.store(checked.events)
    assert store.events() == [] and store.reject_records() == []


def test_a_rejected_event_sent_again_is_recorded_once(tmp_path: Path):
    raw = [raw_event(1), raw_event(2, captured_at="0001-01-01T00:00:00+01:00")]
    store = ReceiverStore(tmp_path / "central.db")
    for _ in range(2):
        checked = BatchChecker().check("kiosk-01", batch(raw))
        rejects = [
            Reject("t", r.reason, r.payload, "kiosk-01", r.event_id) for r in checked.rejected
        ]
        store.store(checked.events, rejects)
    assert len(store.reject_records()) == 1 and store.duplicates() == 1


def test_conflicts_within_one_batch_keep_the_first_come(tmp_path: Path):
    first = raw_event(1)
    changed = first | {"person_id": "E9"}
    same_seq = raw_event(1)
    store = ReceiverStore(tmp_path / "central.db")
    checked = BatchChecker().check("kiosk-01", batch([first, changed, same_seq]))
    outcome = store.store(checked.events)
    assert [str(e.event_id) for e in outcome.new] == [first["event_id"], same_seq["event_id"]]
    assert outcome.duplicates == []
    assert [(c.kind, c.differences) for c in outcome.conflicts] == [
        (ConflictKind.EVENT_ID, ("person_id",)),
        (ConflictKind.SEQ, ("event_id",)),
    ]
    assert store.conflicts() == outcome.conflicts
