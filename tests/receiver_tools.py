"""Helpers for the receiver tests: check-in events as raw JSON objects, and batches of them."""

from __future__ import annotations

import json
import uuid
from typing import Any


def raw_event(seq: int, terminal_id: str = "kiosk-01", **changes: Any) -> dict[str, Any]:
    """Check-in ``seq`` of ``terminal_id`` as the JSON object a terminal sends, with ``changes``."""
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


def batch(events: list[dict[str, Any]], terminal_id: str = "kiosk-01", **extra: Any) -> bytes:
    """The payload of a batch of ``events`` (any JSON objects) from ``terminal_id``."""
    return json.dumps({"terminal_id": terminal_id, "events": events, **extra}).encode()
