"""Signed commands from the central (HR) system to one terminal, and the terminal's results.

Topic ``{prefix}/{terminal id}/commands`` (central -> terminal, QoS 1, not retained: the
terminal's persistent session holds it while the terminal is away) carries a
:class:`CommandEnvelope`, the signed envelope of rosters (:mod:`models.signed_envelope`) around
the exact JSON bytes of a :class:`Command`. The terminal answers every command it can read a
``command_id`` from with a :class:`CommandResult` on ``{prefix}/{terminal id}/results`` (QoS 1).

Kinds and their ``args``:

- ``sync_now`` ``{}``: resend every unacknowledged event now and publish a fresh status.
- ``remove_person`` ``{"person_id": "E1001"}``: delete the person, every template and QR key
  id (idempotent: a person not enrolled is ``done``, "not enrolled").
- ``set_setting`` ``{"key": "terminal.language", "value": "en"}``: a runtime-safe setting
  (:data:`SETTABLE_KEYS`), kept in the terminal's database and applied by restarting.
- ``report_diagnostics`` ``{}``: the ``kiosk doctor`` checks except the camera, as ``data``.

A command runs at most once per terminal (its ``command_id`` is remembered with its result; a
second delivery gets the stored result again) and not after ``expires_at``.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import from_json

from models.messages import TERMINAL_ID_PATTERN, UtcTimestamp
from models.signed_envelope import (
    KEY_ID_PATTERN,
    Base64Blob,
    SignedEnvelope,
    describe_error,
    sign_payload,
)

COMMAND_SCHEMA_VERSION: Literal[1] = 1
MAX_COMMAND_BYTES = 16 * 1024
"""Largest command payload; the envelope may be a third larger (base64) plus a little."""
MAX_ENVELOPE_BYTES = MAX_COMMAND_BYTES * 4 // 3 + 1024
MAX_VALIDITY = timedelta(days=7)
"""Longest time between ``issued_at`` and ``expires_at``."""
DEFAULT_TTL_S = 3600.0
SETTABLE_KEYS = (
    "terminal.language",
    "verification.mode",
    "liveness.mode",
    "qr.static_badges",
    "recognition.repeat_window_s",
)
"""The settings ``set_setting`` may change (checked by the terminal too)."""

Scalar = str | int | float | bool


class CommandKind(StrEnum):
    """What a command asks the terminal to do."""

    SYNC_NOW = "sync_now"
    REMOVE_PERSON = "remove_person"
    SET_SETTING = "set_setting"
    REPORT_DIAGNOSTICS = "report_diagnostics"


class CommandStatus(StrEnum):
    """How a command ended: carried out, refused without doing anything, or failed."""

    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(_Message):
    """``args`` of ``sync_now`` and ``report_diagnostics``: none."""


class RemovePersonArgs(_Message):
    """``args`` of ``remove_person``."""

    person_id: str = Field(min_length=1, max_length=64, description="Whom to remove.")


class SetSettingArgs(_Message):
    """``args`` of ``set_setting``."""

    key: str = Field(min_length=1, max_length=64, description="`section.key`, e.g. qr.enabled.")
    value: Scalar = Field(description="The new value (validated as in the TOML config).")


ARGS: dict[CommandKind, type[_Message]] = {
    CommandKind.SYNC_NOW: NoArgs,
    CommandKind.REMOVE_PERSON: RemovePersonArgs,
    CommandKind.SET_SETTING: SetSettingArgs,
    CommandKind.REPORT_DIAGNOSTICS: NoArgs,
}


class Command(_Message):
    """The signed payload: one command to one terminal."""

    schema_version: Literal[1] = Field(COMMAND_SCHEMA_VERSION, description="Schema version.")
    command_id: UUID = Field(description="Unique per command; a terminal runs each id once.")
    terminal_id: str = Field(
        pattern=TERMINAL_ID_PATTERN, description="The only terminal it is for."
    )
    issued_at: UtcTimestamp = Field(description="When the central system made it, RFC 3339.")
    expires_at: UtcTimestamp = Field(description="Not carried out after this (terminal's clock).")
    kind: CommandKind = Field(description="What to do.")
    args: dict[str, Scalar] = Field(
        default_factory=dict,
        description="sync_now, report_diagnostics: {}; remove_person: {person_id};"
        " set_setting: {key, value}.",
    )

    @model_validator(mode="after")
    def _check(self) -> Command:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        if self.expires_at - self.issued_at > MAX_VALIDITY:
            raise ValueError(f"valid for longer than {MAX_VALIDITY.days} days")
        try:
            self.typed_args()
        except ValidationError as exc:
            raise ValueError(f"args of {self.kind.value}: {describe_error(exc)}") from None
        return self

    def typed_args(self) -> _Message:
        """``args`` validated for ``kind`` (:class:`NoArgs`, :class:`RemovePersonArgs`, ...)."""
        return ARGS[self.kind].model_validate(self.args)


class CommandEnvelope(SignedEnvelope):
    """What travels on the commands topic: a payload and the HR system's signature over it."""

    schema_version: Literal[1] = Field(COMMAND_SCHEMA_VERSION, description="Schema version.")
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="Which HR key signed the payload.")
    payload: Base64Blob = Field(description="The exact JSON bytes of a Command, base64.")
    signature: Base64Blob = Field(description="Ed25519 signature over the payload bytes, base64.")


class CommandResult(_Message):
    """A terminal's answer on ``{prefix}/{terminal}/results``; the same for every delivery."""

    schema_version: Literal[1] = Field(COMMAND_SCHEMA_VERSION, description="Schema version.")
    command_id: UUID = Field(description="The command answered.")
    terminal_id: str = Field(pattern=TERMINAL_ID_PATTERN, description="The terminal answering.")
    status: CommandStatus = Field(description="done, refused (nothing was done) or failed.")
    detail: str = Field(description="What was done, or why not, in one line.")
    data: dict[str, Any] | None = Field(None, description="Figures (e.g. diagnostics).")
    executed_at: UtcTimestamp = Field(description="When the terminal answered (its clock).")
    clock_synced: bool = Field(description="Whether that clock was NTP-synchronised.")


def build_command(
    private_key: Ed25519PrivateKey,
    key_id: str,
    terminal_id: str,
    kind: CommandKind | str,
    args: Mapping[str, Scalar] | None = None,
    ttl_s: float = DEFAULT_TTL_S,
    command_id: UUID | None = None,
    issued_at: datetime | None = None,
) -> tuple[Command, bytes]:
    """A command and its signed message, ready to publish on the terminal's commands topic.

    Publishing the same bytes again (or a new message with the same ``command_id``) never
    runs the command twice: the terminal answers with the result it stored the first time.
    Raises ``ValueError`` (pydantic's ``ValidationError``) for an invalid command.
    """
    issued = issued_at or datetime.now(UTC)
    command = Command(
        command_id=command_id or uuid.uuid4(),
        terminal_id=terminal_id,
        issued_at=issued,
        expires_at=issued + timedelta(seconds=ttl_s),
        kind=CommandKind(kind),
        args=dict(args or {}),
    )
    payload = command.model_dump_json().encode()
    return command, sign_payload(CommandEnvelope, payload, private_key, key_id)


def peek_command_id(data: bytes) -> UUID | None:
    """The ``command_id`` in a command message, without verifying anything (None: none).

    Only to address a refusal of a message that cannot be verified: never trust it otherwise.
    A message over :data:`MAX_ENVELOPE_BYTES` is not looked into at all, and the JSON parser
    (pydantic's, with its nesting limit) refuses deeply nested input instead of recursing.
    """
    if len(data) > MAX_ENVELOPE_BYTES:
        return None
    try:
        payload = base64.b64decode(from_json(data)["payload"], validate=True)
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return payload_command_id(payload)


def payload_command_id(payload: bytes) -> UUID | None:
    """The ``command_id`` in a command payload that did not validate (None: none, or a payload
    over :data:`MAX_COMMAND_BYTES`); as :func:`peek_command_id`, only to address a refusal."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        return UUID(str(from_json(payload)["command_id"]))
    except (ValueError, TypeError, KeyError, IndexError):
        return None
