"""The terminal's side of the wire format: batches and status out, acks in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from models.messages import (
    SCHEMA_VERSION,
    AckMessage,
    CheckInEvent,
    EventBatch,
    TerminalState,
    TerminalStatus,
)
from terminal.errors import MessageError

MAX_ACK_BYTES = 256 * 1024


def parse_ack(payload: bytes) -> AckMessage:
    """Parse an ack message; raise :class:`MessageError` with the reason it is unusable."""
    if len(payload) > MAX_ACK_BYTES:
        raise MessageError(f"{len(payload)} bytes, more than the {MAX_ACK_BYTES} allowed")
    try:
        return AckMessage.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "message"
        raise MessageError(f"{where}: {first['msg']}") from None


def batch_payload(terminal_id: str, events: Sequence[CheckInEvent]) -> bytes:
    """The JSON of an :class:`EventBatch` of ``events`` (oldest first)."""
    batch = EventBatch(schema_version=SCHEMA_VERSION, terminal_id=terminal_id, events=list(events))
    return batch.model_dump_json().encode()


def status_payload(
    terminal_id: str, version: str, state: TerminalState, backlog: int | None, stamped: bool
) -> bytes:
    """The JSON of a :class:`TerminalStatus`; ``stamped`` adds the current time as ``at``."""
    status = TerminalStatus(
        schema_version=SCHEMA_VERSION,
        terminal_id=terminal_id,
        state=state,
        version=version,
        backlog=backlog,
        at=datetime.now(UTC) if stamped else None,
    )
    return status.model_dump_json().encode()
