"""The wire and storage contract of the attendance terminal.

Everything another system may read (MQTT payloads, exported JSON Schemas) is declared here as
pydantic types. This package imports nothing of ours (checked by ``lint-imports``).
"""

from models.messages import (
    SCHEMA_VERSION,
    AckMessage,
    CheckInEvent,
    EventBatch,
    Method,
    TerminalState,
    TerminalStatus,
)

__all__ = [
    "SCHEMA_VERSION",
    "AckMessage",
    "CheckInEvent",
    "EventBatch",
    "Method",
    "TerminalState",
    "TerminalStatus",
]
