"""Acks from the central side, parsed without a broker: every reason one is refused.

The sync against a real mosquitto and the reference receiver: tests/integration/test_sync.py.
"""

from __future__ import annotations

import pytest

from common.errors import MessageError
from terminal.sync.messages import parse_ack


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"event_ids": "abc"}', "valid array"),
        (b'{"event_ids": ["not-a-uuid"]}', "UUID"),
        (b'{"event_ids": []}', "at least 1"),
        (
            b'{"schema_version": 2, "event_ids": ["6f1c3b7e-1f4b-4f7a-9a51-2d3c4b5a6978"]}',
            "schema_version",
        ),
        (b'{"event_ids": ["6f1c3b7e-1f4b-4f7a-9a51-2d3c4b5a6978"], "x": 1}', "Extra"),
        (b"[" * 300_000, "bytes"),
    ],
)
def test_parse_ack_rejects_with_a_reason(payload: bytes, reason: str):
    with pytest.raises(MessageError, match=reason):
        parse_ack(payload)
