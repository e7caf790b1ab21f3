"""The reference receiver's batch checks, without a broker: one bad event among good ones, the
fast path against the schema, batches rejected whole; one line per event.

The receiver against a real mosquitto: tests/integration/test_receiver.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from central.receiver.batch_check import BatchChecker
from central.receiver.service import describe_event
from common.errors import MessageError
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
