"""The terminal's side of commands: verify, run once, answer (see :mod:`models.command`).

:class:`CommandHandler` runs in the sync's thread on the sync's database connection. For every
message on ``{prefix}/{terminal id}/commands`` it checks, in order:

1. the envelope and its Ed25519 signature, with the keys of ``[central] public_keys_dir``
   (the roster's :class:`~terminal.sync.rosters.TrustedKeys`): unsigned, unknown key, bad signature
   and malformed envelopes are refused;
2. the payload: a malformed command or an unknown kind is refused;
3. the terminal: a command for another terminal id is refused;
4. ``commands_done``: a command already carried out is answered with the result stored then,
   byte for byte, and not run again;
5. the expiry, against this terminal's clock with :data:`CLOCK_SKEW_S` of slack. The clock is
   the only one there is, so it is used even when it is not NTP-synchronised (as for signed QR
   codes); a refusal then says so, so the admin sees the cause. A clock running behind
   accepts late commands: every kind is idempotent and a command id runs once, so that is
   safe; results carry ``clock_synced`` so the central side can tell.

Refusals change nothing and are not recorded (the same message is refused again for the same
reason); they are answered when a command id can be read (for an unverified message, from the
unverified payload: it only addresses the answer) and logged at WARNING. Then the kind runs
(:mod:`terminal.sync.command_kinds`) and its result is recorded before the sync publishes it and,
only then, acknowledges the message to the broker.

A message is size-checked before any of it is parsed (the envelope against
:data:`~models.command.MAX_ENVELOPE_BYTES`, its payload against
:data:`~models.command.MAX_COMMAND_BYTES`), and every parse goes through pydantic's JSON parser,
which refuses deeply nested input as invalid JSON instead of recursing: such a message is
refused as malformed like any other, never a ``RecursionError``. A kind that fails is answered
``failed`` and recorded (it is not run again), unless the failure is a database error
(:class:`~common.errors.StoreError` or a raw :class:`sqlite3.Error`): that is raised, so the
message is not acknowledged and is tried again (:mod:`terminal.sync.inbound`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlite_utils
from pydantic import ValidationError

from common.errors import RosterError, StoreError
from models.command import (
    MAX_COMMAND_BYTES,
    MAX_ENVELOPE_BYTES,
    Command,
    CommandEnvelope,
    CommandKind,
    CommandResult,
    CommandStatus,
    payload_command_id,
    peek_command_id,
)
from models.messages import format_rfc3339
from models.signed_envelope import EnvelopeRefusal, describe_error, open_envelope
from terminal.config import Config
from terminal.store.commands_done import CommandStore
from terminal.store.outbox import Outbox
from terminal.sync.command_kinds import Diagnose, Kinds, Outcome
from terminal.sync.rosters import TrustedKeys
from terminal.system.clock import ClockState

log = logging.getLogger(__name__)

CLOCK_SKEW_S = 60.0
"""Seconds a command may arrive after its ``expires_at`` by this terminal's clock."""


class CommandHandler:
    """Verifies and carries out command messages; one per sync thread."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        config: Config,
        clock: Callable[[], bool] | None = None,
        diagnose: Diagnose | None = None,
    ) -> None:
        self.terminal_id = config.terminal.id
        self.keys = TrustedKeys(config.central.public_keys_dir)
        self.store = CommandStore(db)
        self.clock = clock or ClockState()
        self.kinds = Kinds(db, config, self.store, self._answer, diagnose)
        self.refused = 0

    def handle(self, data: bytes, outbox: Outbox) -> Outcome:
        """Verify and, unless refused or done before, carry out one command message."""
        try:
            payload, _key_id = open_envelope(
                data, CommandEnvelope, self.keys.get, MAX_ENVELOPE_BYTES, "command envelope"
            )
        except (EnvelopeRefusal, RosterError) as exc:
            return self._refuse(peek_command_id(data), exc.reason)
        if len(payload) > MAX_COMMAND_BYTES:
            reason = f"payload of {len(payload)} bytes, more than the {MAX_COMMAND_BYTES} allowed"
            return self._refuse(None, reason)
        try:
            command = Command.model_validate_json(payload)
        except ValidationError as exc:
            return self._refuse(payload_command_id(payload), _malformed(exc))
        if command.terminal_id != self.terminal_id:
            reason = (
                f"the command is for terminal {command.terminal_id!r}, not {self.terminal_id!r}"
            )
            return self._refuse(command.command_id, reason)
        stored = self.store.result_of(command.command_id)
        if stored is not None:
            log.info(
                "command %s (%s) done before: answered again", command.command_id, command.kind
            )
            return Outcome(stored)
        refusal = self._expired(command)
        if refusal is not None:
            return self._refuse(command.command_id, refusal)
        return self._run(command, outbox)

    def _run(self, command: Command, outbox: Outbox) -> Outcome:
        log.info("command %s: %s", command.command_id, command.kind)  # no args: no person ids
        try:
            if command.kind is CommandKind.SYNC_NOW:
                outcome = self.kinds.sync_now(command, outbox)
            elif command.kind is CommandKind.REMOVE_PERSON:
                outcome = self.kinds.remove_person(command)
            elif command.kind is CommandKind.SET_SETTING:
                outcome = self.kinds.set_setting(command)
            else:
                outcome = self.kinds.report_diagnostics(command)
        except (StoreError, sqlite3.Error):
            raise  # the database, not the command: not answered, the message comes again
        except Exception as exc:
            log.exception("command %s (%s) failed", command.command_id, command.kind)
            detail = f"failed: {type(exc).__name__}: {exc}"
            result = self._answer(command, CommandStatus.FAILED, detail, None)
            self.store.save(command.command_id, command.kind, result, command.expires_at)
            return Outcome(result)
        log.info(
            "command %s: %s", command.command_id, json.loads(outcome.result or b"{}")["detail"]
        )
        return outcome

    def _expired(self, command: Command) -> str | None:
        now = datetime.now(UTC)
        if now <= command.expires_at + timedelta(seconds=CLOCK_SKEW_S):
            if self.clock():
                self.store.purge(now)
            return None
        reason = f"expired at {format_rfc3339(command.expires_at)}"
        if not self.clock():
            reason += (
                f" by this terminal's clock ({format_rfc3339(now)}), which is not"
                " synchronised: check NTP"
            )
        return reason

    def _refuse(self, command_id: UUID | None, reason: str) -> Outcome:
        self.refused += 1
        what = f"command {command_id}" if command_id else "a command message"
        log.warning("refused %s: %s", what, reason)
        if command_id is None:
            return Outcome(None)
        return Outcome(self._result(command_id, CommandStatus.REFUSED, f"refused: {reason}", None))

    def _answer(
        self, command: Command, status: CommandStatus, detail: str, data: dict[str, Any] | None
    ) -> bytes:
        return self._result(command.command_id, status, detail, data)

    def _result(
        self, command_id: UUID, status: CommandStatus, detail: str, data: dict[str, Any] | None
    ) -> bytes:
        result = CommandResult(
            command_id=command_id,
            terminal_id=self.terminal_id,
            status=status,
            detail=detail,
            data=data,
            executed_at=datetime.now(UTC),
            clock_synced=self.clock(),
        )
        return result.model_dump_json().encode()


def _malformed(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first["loc"] == ("kind",) and first["type"] == "enum":
        known = ", ".join(kind.value for kind in CommandKind)
        return f"unknown command kind {first['input']!r} (known: {known})"
    return f"malformed command: {describe_error(exc)}"
