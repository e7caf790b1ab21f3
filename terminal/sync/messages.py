"""The terminal's side of the wire format: batches, status and enrollment notices out, acks in
(rosters: roster.py), and the sync's MQTT connection settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from common.errors import ConfigError, MessageError
from common.mqtt.broker_url import TlsOptions
from common.mqtt.topics import Topics
from common.mqtt.types import LastWill, LinkOptions
from models.enrollment_notice import EnrollmentNotice
from models.messages import (
    SCHEMA_VERSION,
    AckMessage,
    CheckInEvent,
    EventBatch,
    TerminalState,
    TerminalStatus,
)
from models.signed_envelope import describe_error
from terminal.config import Config, read_secret
from terminal.store import enrollment_notices
from terminal.sync.rosters import RosterState

MAX_ACK_BYTES = 256 * 1024


def parse_ack(payload: bytes) -> AckMessage:
    """Parse an ack message; raise :class:`MessageError` with the reason it is unusable.

    The size is checked first; pydantic's parser refuses JSON nested too deeply (it does not
    recurse into it), so no payload raises anything but :class:`MessageError`.
    """
    if len(payload) > MAX_ACK_BYTES:
        raise MessageError(f"{len(payload)} bytes, more than the {MAX_ACK_BYTES} allowed")
    try:
        return AckMessage.model_validate_json(payload)
    except ValidationError as exc:
        raise MessageError(describe_error(exc)) from None


def batch_payload(terminal_id: str, events: Sequence[CheckInEvent]) -> bytes:
    """The JSON of an :class:`EventBatch` of ``events`` (oldest first)."""
    batch = EventBatch(schema_version=SCHEMA_VERSION, terminal_id=terminal_id, events=list(events))
    return batch.model_dump_json().encode()


def notice_payload(terminal_id: str, notice: enrollment_notices.EnrollmentNotice) -> bytes:
    """The retained payload for ``notice``: the JSON of an :class:`EnrollmentNotice` (the fact
    and the template count, never a template) while enrolled; empty (clearing the broker's
    retained message) once removed."""
    if notice.state != "enrolled" or notice.templates < 1:
        return b""
    message = EnrollmentNotice(
        schema_version=SCHEMA_VERSION,
        terminal_id=terminal_id,
        person_id=notice.person_id,
        state="enrolled",
        templates=notice.templates,
        at=datetime.fromisoformat(notice.at),
    )
    return message.model_dump_json().encode()


def status_payload(
    terminal_id: str,
    version: str,
    state: TerminalState,
    backlog: int | None,
    stamped: bool,
    roster: RosterState | None = None,
) -> bytes:
    """The JSON of a :class:`TerminalStatus`; ``stamped`` adds the current time as ``at``.

    ``roster`` (None: not known, as in the last will) gives the roster version in force and why
    the last roster message was refused, if one was since.
    """
    status = TerminalStatus(
        schema_version=SCHEMA_VERSION,
        terminal_id=terminal_id,
        state=state,
        version=version,
        backlog=backlog,
        roster_version=roster.version if roster else None,
        roster_error=roster.last_refusal if roster else None,
        at=datetime.now(UTC) if stamped else None,
    )
    return status.model_dump_json().encode()


def link_options(
    config: Config, will: bytes, subscriptions: tuple[tuple[str, int], ...], max_inflight: int
) -> LinkOptions:
    """The sync's connection: its session, the ``offline`` last will (``will``), manual acks."""
    mqtt = config.mqtt
    if mqtt is None:
        raise ConfigError("no [mqtt] section in the config: the terminal is offline-only")
    password = read_secret(mqtt.password_file) if mqtt.password_file else None
    status_topic = Topics(mqtt.topic_prefix).status(config.terminal.id)
    return LinkOptions(
        url=mqtt.url,
        client_id=mqtt.client_id or config.terminal.id,
        keepalive_s=mqtt.keepalive_s,
        username=mqtt.username,
        password=password,
        clean_start=mqtt.session_expiry_s == 0,
        session_expiry_s=mqtt.session_expiry_s,
        will=LastWill(status_topic, will, qos=1, retain=True),
        subscriptions=subscriptions,
        reconnect_min_s=mqtt.reconnect_min_s,
        reconnect_max_s=mqtt.reconnect_max_s,
        max_inflight=max_inflight,
        manual_ack=True,
        tls=TlsOptions(mqtt.ca_file, mqtt.cert_file, mqtt.key_file),
    )
