"""Validation of incoming event batches against the published JSON Schemas (draft 2020-12).

The batch envelope is checked first (a bad envelope rejects the whole message), then every
event on its own, so one bad event does not reject its siblings. This uses the checked-in
schema files, exactly what an integrator in any language would use.

Beyond the schemas, an event must be one the store can keep (:func:`storage_problem`): a
``captured_at`` whose UTC time falls outside the years 1 to 9999 (``0001-01-01T00:00:00+01:00``
is valid RFC 3339, but 23:00 on the last day of year 0 in UTC), an integer beyond SQLite's 64
bits, a distance that reads as infinity. Such an event is refused on its own, like any other
bad event, with its ``event_id`` when one can be read (so that it can be acknowledged and the
terminal stops sending it) and its own JSON (so that it can be repaired).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from pydantic import ValidationError

from common.errors import MessageError
from models.messages import CheckInEvent, EventBatch, format_rfc3339
from models.schema_export import load_schema

MAX_BATCH_BYTES = 1024 * 1024

SQLITE_MAX_INTEGER = 2**63 - 1
"""The largest integer an SQLite column holds; a larger one cannot be stored at all."""

FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_rfc3339(value: object) -> bool:
    # jsonschema checks date-time only with an optional extra package; RFC 3339 needs a zone.
    # A time that cannot be converted to UTC is refused with the reason (a ValueError).
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        return False
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return False
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("in UTC it falls outside the years 1 to 9999") from None
    return True


def _passes_rfc3339(value: object) -> bool:
    """Whether :func:`_is_rfc3339` accepts ``value`` (False where it would give a reason)."""
    try:
        return _is_rfc3339(value)
    except ValueError:
        return False


def storage_problem(event: CheckInEvent) -> str | None:
    """Why a valid ``event`` cannot be stored as it is, or None if it can: an integer beyond
    :data:`SQLITE_MAX_INTEGER`, a distance that is not a finite number (a JSON number too large
    for a float reads as infinity), a ``captured_at`` that cannot be written in UTC."""
    for name in ("seq", "verdict_minutes"):
        value = getattr(event, name)
        if value is not None and value > SQLITE_MAX_INTEGER:
            return f"{name}: more than {SQLITE_MAX_INTEGER}, the largest integer the store keeps"
    if event.distance is not None and not math.isfinite(event.distance):
        return f"distance: {event.distance} is not a finite number"
    try:
        format_rfc3339(event.captured_at)
    except (OverflowError, ValueError) as exc:
        return f"captured_at: cannot be written in UTC ({exc})"
    return None


def readable_event_id(raw: Any) -> UUID | None:
    """The ``event_id`` of a raw event, if it has one that reads as a UUID (what an ack names)."""
    value = raw.get("event_id") if isinstance(raw, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def event_json(raw: Any) -> bytes:
    """A raw event as JSON bytes, to keep with its reject. Non-ASCII text stays readable; a
    lone surrogate (which JSON escapes allow, UTF-8 does not) is written back as its escape."""
    text = json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8", errors="backslashreplace")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


@dataclass(frozen=True)
class RejectedEvent:
    """One event of a batch, refused on its own: why (``events/<index>: ...``), its
    ``event_id`` if one could be read, and its own JSON."""

    reason: str
    event_id: UUID | None
    payload: bytes


@dataclass
class CheckedBatch:
    """The valid events of a batch, the events rejected one by one, and ``event_ids``: every
    ``event_id`` that could be read, valid or not, in batch order (what the ack of the handled
    batch names)."""

    terminal_id: str
    events: list[CheckInEvent] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)
    event_ids: list[UUID] = field(default_factory=list)


def _describe(error: SchemaError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "message"
    if error.cause is not None:  # a format check that said why
        return f"{where}: {error.message} ({error.cause})"
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
            event_id = readable_event_id(raw)
            if event_id is not None:
                checked.event_ids.append(event_id)
            try:
                checked.events.append(self._check_event(topic_terminal, raw))
            except MessageError as exc:
                reject = RejectedEvent(f"events/{index}: {exc}", event_id, event_json(raw))
                checked.rejected.append(reject)
        return checked

    @staticmethod
    def _all_valid(topic_terminal: str, payload: bytes, document: Any) -> CheckedBatch | None:
        """The common case, about 15 times cheaper: the whole batch passes the pydantic types
        the schemas are exported from, in strict JSON mode (no coercion: what they accept, the
        schemas accept; a test checks the two agree on every rejected sample). None sends the
        batch through the schemas, event by event, for the reasons; so does an event the store
        could not keep (see :func:`storage_problem`)."""
        try:
            batch = EventBatch.model_validate_json(payload, strict=True)
        except (ValidationError, OverflowError):  # OverflowError: a time beyond year 9999 in UTC
            return None
        raw_events = document.get("events") if isinstance(document, dict) else None
        if (
            batch.terminal_id != topic_terminal
            or any(event.terminal_id != topic_terminal for event in batch.events)
            or not isinstance(raw_events, list)
            or not all(_passes_rfc3339(raw.get("captured_at")) for raw in raw_events)
            or any(storage_problem(event) is not None for event in batch.events)
        ):
            return None
        ids = [event.event_id for event in batch.events]
        return CheckedBatch(topic_terminal, list(batch.events), event_ids=ids)

    def _check_event(self, topic_terminal: str, raw: Any) -> CheckInEvent:
        error = best_match(self._event.iter_errors(raw))
        if error is not None:
            raise MessageError(_describe(error))
        try:
            event = CheckInEvent.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise MessageError(f"{'/'.join(map(str, first['loc']))}: {first['msg']}") from None
        except ArithmeticError as exc:  # a value the schema allows but Python cannot hold
            raise MessageError(f"cannot be read: {type(exc).__name__}: {exc}") from None
        if event.terminal_id != topic_terminal:
            raise MessageError(f"event of terminal {event.terminal_id!r} in a batch of another")
        problem = storage_problem(event)
        if problem is not None:
            raise MessageError(problem)
        return event
