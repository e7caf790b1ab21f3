"""Export the JSON Schemas of the wire messages; the checked-in copies live in ``schemas/``.

Run ``python -m models.schema_export`` after changing a message type; a test fails when the
checked-in files drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from models.alert import Alert
from models.command import Command, CommandEnvelope, CommandResult
from models.enrollment import EnrollReply, EnrollRequest
from models.enrollment_notice import EnrollmentNotice
from models.messages import AckMessage, CheckInEvent, EventBatch, TerminalStatus
from models.roster import RosterChunk, RosterEnvelope
from models.schedule import Schedule

SCHEMA_DIR = Path(__file__).parent / "schemas"

EXPORTED: dict[str, type[BaseModel]] = {
    "checkin-event.v1.json": CheckInEvent,
    "event-batch.v1.json": EventBatch,
    "ack.v1.json": AckMessage,
    "status.v1.json": TerminalStatus,
    "roster-envelope.v1.json": RosterEnvelope,
    "roster-chunk.v2.json": RosterChunk,
    "command-envelope.v1.json": CommandEnvelope,
    "command.v1.json": Command,
    "command-result.v1.json": CommandResult,
    "enroll-request.v1.json": EnrollRequest,
    "enroll-reply.v1.json": EnrollReply,
    "enrollment-notice.v1.json": EnrollmentNotice,
    "schedule.v1.json": Schedule,
    "alert.v1.json": Alert,
}


def render_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one message type, with ``$schema`` and ``$id`` set."""
    schema = model.model_json_schema(mode="serialization")
    name = next(n for n, m in EXPORTED.items() if m is model)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://schemas.kiosk-terminal.example/attendance/{name}",
        **schema,
    }


def render_all() -> dict[str, str]:
    """File name -> file text for every exported schema."""
    return {
        name: json.dumps(render_schema(model), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
        for name, model in EXPORTED.items()
    }


def load_schema(name: str) -> dict[str, Any]:
    """The checked-in schema ``name`` (for validators such as the reference receiver)."""
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return loaded


def main() -> int:
    """Write every schema to ``models/schemas``; with ``--check`` only report drift."""
    check = "--check" in sys.argv[1:]
    drift = []
    for name, text in render_all().items():
        path = SCHEMA_DIR / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                drift.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if drift:
        print("schemas out of date: " + ", ".join(drift) + " (run python -m models.schema_export)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
