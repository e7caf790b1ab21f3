"""What each command kind does on the terminal, once its signature, target and expiry passed.

Every kind ends by handing its outcome to ``answer``, which turns it into the result message and
records it in ``commands_done`` (:mod:`terminal.store.commands_done`): inside the transaction of the
effect when the effect is in the database (``remove_person``, ``set_setting``), so the command
is done exactly once even across a crash; in its own transaction otherwise.

- ``sync_now``: every unacknowledged event is sent again now and a fresh status published
  (the sync does both after the result is recorded; duplicates are harmless centrally).
- ``remove_person``: :meth:`terminal.store.gallery.Gallery.remove` (templates, QR key ids, with
  ``secure_delete`` and the WAL truncated); a person not enrolled is ``done``, "not enrolled".
  Check-in events of the person stay: they are attendance records and leave with retention.
  The result names neither the person nor their id (the central side knows whom it asked
  about), so nothing of them stays in ``commands_done`` either.
- ``set_setting``: validated against the running config, stored in ``settings_override``
  (:mod:`terminal.store.settings`); the daemon then restarts to apply it.
- ``report_diagnostics``: what the daemon hands in as :data:`Diagnose` (``kiosk doctor``'s checks
  but the camera, which the daemon holds), each given at most :data:`DIAGNOSTICS_LIMIT_S` so the
  sync's MQTT connection stays alive. The sync never imports the doctor: the doctor looks at the
  camera, and the sync must not reach the camera.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from common.errors import ConfigError, UnknownPersonError
from models.command import Command, CommandStatus, RemovePersonArgs, SetSettingArgs
from terminal.config import Config
from terminal.store.commands_done import CommandStore
from terminal.store.gallery import Gallery, Person
from terminal.store.outbox import Outbox
from terminal.store.settings import store_setting, with_setting

DIAGNOSTICS_LIMIT_S = 10.0
"""Longest any diagnostic check may take (the sync waits for them; keepalive is >= 5 s)."""
APPLIES_AFTER_RESTART = "applies after restart (the kiosk restarts now)"

Diagnose = Callable[[Config, float], "tuple[str, dict[str, Any]]"]
"""Runs the terminal's diagnostics within a time limit per check: a one-line detail and the data."""

Answer = Callable[[Command, CommandStatus, str, "dict[str, Any] | None"], bytes]
"""Builds a command's result message from its status, detail and data."""


@dataclass(frozen=True)
class Outcome:
    """What the sync does with a command message: publish ``result`` (None: nothing to
    answer), then resend every unacknowledged event and publish a status, then restart."""

    result: bytes | None
    resend_all: bool = False
    restart: bool = False


class Kinds:
    """Carries out verified commands on the sync's database connection."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        config: Config,
        store: CommandStore,
        answer: Answer,
        diagnose: Diagnose | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.store = store
        self.answer = answer
        self.diagnose = diagnose

    def sync_now(self, command: Command, outbox: Outbox) -> Outcome:
        """Resend every unacknowledged event and publish a status (after recording)."""
        counts = outbox.counts()
        unacked = counts["pending"] + counts["sent"]
        detail = f"sending {unacked} unacknowledged events again; status published"
        result = self._done(command, detail, {"unacknowledged": unacked})
        return Outcome(result, resend_all=True)

    def remove_person(self, command: Command) -> Outcome:
        """Delete the person with everything of theirs, recording the result in the same
        transaction; a person not enrolled is done too (nothing to delete)."""
        args = command.typed_args()
        assert isinstance(args, RemovePersonArgs)
        person_id = args.person_id
        (keys,) = self.db.conn.execute(
            "SELECT count(*) FROM person_qr_keys WHERE person_id = ?", (person_id,)
        ).fetchone()
        box: list[bytes] = []

        def record(conn: sqlite3.Connection, person: Person) -> None:
            detail = (
                f"removed: the person, {person.templates} face templates and {keys} QR key ids"
                " (check-in events are kept)"
            )
            data = {"removed": True, "templates": person.templates, "qr_key_ids": keys}
            box.append(self.answer(command, CommandStatus.DONE, detail, data))
            self.store.record(conn, command.command_id, command.kind, box[0], command.expires_at)

        try:
            Gallery(self.db).remove(person_id, also=record)
        except UnknownPersonError:
            data = {"removed": False, "templates": 0, "qr_key_ids": 0}
            return Outcome(self._done(command, "not enrolled: nothing to remove", data))
        return Outcome(box[0])

    def set_setting(self, command: Command) -> Outcome:
        """Store the override with the result; refused (nothing stored) if it may not be set
        or would not validate."""
        args = command.typed_args()
        assert isinstance(args, SetSettingArgs)
        try:
            changed = with_setting(self.config, args.key, args.value)
        except ConfigError as exc:
            detail = f"setting {args.key} = {args.value!r} refused: {exc}"
            return Outcome(self.answer(command, CommandStatus.REFUSED, detail, None))
        restart = changed != self.config
        how = APPLIES_AFTER_RESTART if restart else "already in force"
        detail = f"{args.key} = {args.value!r} stored; {how}"
        result = self.answer(command, CommandStatus.DONE, detail, {args.key: args.value})

        def record(conn: sqlite3.Connection) -> None:
            self.store.record(conn, command.command_id, command.kind, result, command.expires_at)

        store_setting(self.db, args.key, args.value, str(command.command_id), also=record)
        self.config = changed
        return Outcome(result, restart=restart)

    def report_diagnostics(self, command: Command) -> Outcome:
        """The daemon's diagnostics (``kiosk doctor``'s checks but the camera) as the data."""
        if self.diagnose is None:
            detail = "diagnostics are not available in this process"
            return Outcome(self._ended(command, CommandStatus.FAILED, detail, None))
        detail, data = self.diagnose(self.config, DIAGNOSTICS_LIMIT_S)
        return Outcome(self._done(command, detail, data))

    def _done(self, command: Command, detail: str, data: dict[str, Any] | None) -> bytes:
        return self._ended(command, CommandStatus.DONE, detail, data)

    def _ended(
        self, command: Command, status: CommandStatus, detail: str, data: dict[str, Any] | None
    ) -> bytes:
        result = self.answer(command, status, detail, data)
        self.store.save(command.command_id, command.kind, result, command.expires_at)
        return result
