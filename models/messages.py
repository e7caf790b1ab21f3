"""Messages exchanged between a terminal and the central server over MQTT.

Topics (``{p}`` is the configured ``topic_prefix``, ``{t}`` the terminal id):

- ``{p}/{t}/events``  terminal -> central, QoS 1: an :class:`EventBatch`.
- ``{p}/{t}/ack``     central -> terminal, QoS 1: an :class:`AckMessage`.
- ``{p}/{t}/status``  terminal -> central, retained: a :class:`TerminalStatus`
  (``online`` on connect, ``offline`` as the last will).

Every message carries ``schema_version``; a consumer must reject versions it does not know.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

SCHEMA_VERSION: Literal[1] = 1

TERMINAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Terminal ids are used in MQTT topics, so no ``/``, ``+``, ``#`` or spaces."""

MAX_EVENTS_PER_BATCH = 500
MAX_ACK_IDS = 5000


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset")
    return value.astimezone(UTC)


def format_rfc3339(value: datetime) -> str:
    """Render a datetime as RFC 3339 in UTC with millisecond precision and a ``Z`` suffix."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


UtcTimestamp = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(format_rfc3339, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]


class Method(StrEnum):
    """How the person was identified (face_and_qr: a QR code named them, their face confirmed)."""

    FACE = "face"
    QR = "qr"
    FACE_AND_QR = "face_and_qr"


class Direction(StrEnum):
    """Whether a check-in is an arrival (in) or a departure (out)."""

    IN = "in"
    OUT = "out"


class Verdict(StrEnum):
    """What a schedule said about a check-in, as the terminal told the person."""

    ON_TIME = "on_time"
    LATE = "late"
    EARLY_LEAVE = "early_leave"
    LEFT_ON_TIME = "left_on_time"
    NO_VERDICT_CLOCK = "no_verdict_clock"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckInEvent(_Message):
    """One check-in, as committed to the terminal's outbox and delivered to the central server.

    ``event_id`` is the idempotency key: the central side stores each id once, however often it
    is delivered. ``seq`` is a per-terminal counter that only grows and is never reused, so a
    gap tells the central side that something is missing.
    """

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    event_id: UUID = Field(description="Unique forever; the idempotency key.")
    seq: int = Field(ge=1, description="Per-terminal sequence number, strictly increasing.")
    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN, description="Terminal that recorded it.")
    site: str = Field(min_length=1, max_length=64, description="Site the terminal belongs to.")
    person_id: str = Field(min_length=1, max_length=64, description="Enrolled person's id.")
    method: Method = Field(description="How the person was identified.")
    distance: float | None = Field(
        None,
        ge=0,
        description="Face distance to the matched template (face and face_and_qr methods).",
    )
    captured_at: UtcTimestamp = Field(description="When the frame was captured, RFC 3339 UTC.")
    clock_synced: bool = Field(
        description="Whether the terminal's clock was synchronised (NTP) at capture time."
    )
    direction: Direction | None = Field(
        None,
        description="in (arrival, entry) or out (departure, exit), as the terminal decided it"
        " (its [attendance] direction); null: not known (terminals before schema 1.1).",
    )
    schedule_ref: str | None = Field(
        None,
        max_length=140,
        description="The schedule item the check-in counts for: '<shift id>@<YYYY-MM-DD>' (the"
        " local start date) or 'session:<session id>'; null: none applies.",
    )
    verdict: Verdict | None = Field(
        None,
        description="What the terminal told the person: on_time, late, early_leave,"
        " left_on_time, or no_verdict_clock when its clock was not synchronised; null: no"
        " schedule applies. Informative: the central reports decide with their own rules.",
    )
    verdict_minutes: int | None = Field(
        None, ge=0, description="Minutes late or early (rounded up), with late and early_leave."
    )


class EventBatch(_Message):
    """A batch of check-ins published on ``{prefix}/{terminal}/events``, oldest first."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN, description="Sending terminal.")
    events: list[CheckInEvent] = Field(
        min_length=1, max_length=MAX_EVENTS_PER_BATCH, description="Events, oldest first."
    )


class AckMessage(_Message):
    """End-to-end acknowledgement published by the central side on ``{prefix}/{terminal}/ack``.

    Sent only after the listed events are committed centrally: stored, or recorded as refused
    or conflicting (so they are not sent again for ever); duplicates are acknowledged too.
    """

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    event_ids: list[UUID] = Field(
        min_length=1,
        max_length=MAX_ACK_IDS,
        description="Event ids now stored or recorded centrally.",
    )


class TerminalState(StrEnum):
    """Connection state reported on the retained status topic."""

    ONLINE = "online"
    OFFLINE = "offline"


class TerminalStatus(_Message):
    """Retained status of a terminal on ``{prefix}/{terminal}/status``."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, description="Version of this schema.")
    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN, description="Terminal reporting.")
    state: TerminalState = Field(description="online, or offline (the last will).")
    version: str = Field(description="Software version of the terminal.")
    backlog: int | None = Field(
        None, ge=0, description="Events committed but not yet acknowledged centrally."
    )
    roster_version: int | None = Field(
        None, ge=1, description="Roster version in force; null: none yet, or not known (last will)."
    )
    roster_error: str | None = Field(
        None, description="Why the last roster message was refused (cleared when a roster applies)."
    )
    at: UtcTimestamp | None = Field(None, description="When the status was published.")
