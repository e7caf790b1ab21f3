"""Validation of incoming event batches against the published JSON Schemas (draft 2020-12).

The batch envelope is checked first (a bad envelope rejects the whole message), then every
event on its own, so one bad event does not reject its siblings. This uses the checked-in
schema files, exactly what an integrator in any language would use.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError

from common.errors import MessageError
from models.messages import CheckInEvent, EventBatch
from models.schema_export import load_schema

MAX_BATCH_BYTES = 1024 * 1024

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    # jsonschema checks date-time only with an optional extra package; RFC 3339 needs a zone.
    if not isinstance(value, str):
        return True
    return "T" in value.upper() and datetime.fromisoformat(value).tzinfo is not None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


@dataclass
class CheckedBatch:
    """The valid events of a batch, and one reason per event that was rejected."""

    terminal_id: str
    events: list[CheckInEvent] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _describe(error: SchemaError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "message"
    return f"{where}: {error.message}"


class BatchChecker:
    """Checks raw ``{prefix}/{terminal}/events`` payloads."""

    def __init__(self) -> None:
        envelope = copy.deepcopy(load_schema("event-batch.v1.json"))
        envelope["properties"]["events"]["items"] = True
        self._envelope = Draft202012Validator(envelope, format_checker=FORMATS)
        self._event = Draft202012Validator(
            load_schema("checkin-event.v1.json"), format_checker=FORMATS
        )

    def check(self, topic_terminal: str, payload: bytes) -> CheckedBatch:
        """The valid events of ``payload`` sent on ``topic_terminal``'s events topic.

        Raises :class:`MessageError` when the whole message is unusable (too large, not JSON,
        bad envelope, or a batch from another terminal than the topic names).
        """
        if len(payload) > MAX_BATCH_BYTES:
            raise MessageError(f"{len(payload)} bytes, more than the {MAX_BATCH_BYTES} allowed")
        try:
            document: Any = json.loads(payload, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise MessageError(f"not JSON: {exc}") from None
        fast = self._all_valid(topic_terminal, payload, document)
        if fast is not None:
            return fast
        error = best_match(self._envelope.iter_errors(document))
        if error is not None:
            raise MessageError(f"not an event batch: {_describe(error)}")
        if document["terminal_id"] != topic_terminal:
            raise MessageError(
                f"batch of terminal {document['terminal_id']!r} on the topic of {topic_terminal!r}"
            )
        checked = CheckedBatch(topic_terminal)
        for index, raw in enumerate(document["events"]):
            try:
                checked.events.append(self._check_event(topic_terminal, raw))
            except MessageError as exc:
                checked.rejected.append(f"events/{index}: {exc}")
        return checked

    @staticmethod
    def _all_valid(topic_terminal: str, payload: bytes, document: Any) -> CheckedBatch | None:
        """The common case, about 15 times cheaper: the whole batch passes the pydantic types
        the schemas are exported from, in strict JSON mode (no coercion: what they accept, the
        schemas accept; a test checks the two agree on every rejected sample). None sends the
        batch through the schemas, event by event, for the reasons."""
        try:
            batch = EventBatch.model_validate_json(payload, strict=True)
        except ValidationError:
            return None
        raw_events = document.get("events") if isinstance(document, dict) else None
        if (
            batch.terminal_id != topic_terminal
            or any(event.terminal_id != topic_terminal for event in batch.events)
            or not isinstance(raw_events, list)
            or not all(_is_rfc3339(raw.get("captured_at")) for raw in raw_events)
        ):
            return None
        return CheckedBatch(topic_terminal, list(batch.events))

    def _check_event(self, topic_terminal: str, raw: Any) -> CheckInEvent:
        error = best_match(self._event.iter_errors(raw))
        if error is not None:
            raise MessageError(_describe(error))
        try:
            event = CheckInEvent.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise MessageError(f"{'/'.join(map(str, first['loc']))}: {first['msg']}") from None
        if event.terminal_id != topic_terminal:
            raise MessageError(f"event of terminal {event.terminal_id!r} in a batch of another")
        return event
