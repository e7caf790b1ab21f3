"""What each command kind does on the terminal, once its signature, target and expiry passed.

Every kind ends by handing its outcome to ``answer``, which turns it into the result message and
records it in ``commands_done`` (:mod:`terminal.command_store`): inside the transaction of the
effect when the effect is in the database (``remove_person``, ``set_setting``), so the command
is done exactly once even across a crash; in its own transaction otherwise.

- ``sync_now``: every unacknowledged event is sent again now and a fresh status published
  (the sync does both after the result is recorded; duplicates are harmless centrally).
- ``remove_person``: :meth:`terminal.gallery.Gallery.remove` (templates, QR key ids, with
  ``secure_delete`` and the WAL truncated); a person not enrolled is ``done``, "not enrolled".
  Check-in events of the person stay: they are attendance records and leave with retention.
  The result names neither the person nor their id (the central side knows whom it asked
  about), so nothing of them stays in ``commands_done`` either.
- ``set_setting``: validated against the running config, stored in ``settings_override``
  (:mod:`terminal.settings_override`); the daemon then restarts to apply it.
- ``report_diagnostics``: ``kiosk doctor``'s checks but the camera (the daemon holds it), each
  given at most :data:`DIAGNOSTICS_LIMIT_S` so the sync's MQTT connection stays alive.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from models.command import Command, CommandStatus, RemovePersonArgs, SetSettingArgs
from terminal.command_store import CommandStore
from terminal.config import Config
from terminal.errors import ConfigError, UnknownPersonError
from terminal.gallery import Gallery, Person
from terminal.outbox import Outbox
from terminal.roster_tables import create_tables
from terminal.settings_override import store_setting, with_setting

DIAGNOSTICS_LIMIT_S = 10.0
"""Longest any diagnostic check may take (the sync waits for them; keepalive is >= 5 s)."""
APPLIES_AFTER_RESTART = "applies after restart (the kiosk restarts now)"

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
        self, db: sqlite_utils.Database, config: Config, store: CommandStore, answer: Answer
    ) -> None:
        self.db = db
        self.config = config
        self.store = store
        self.answer = answer
        create_tables(db)  # person_qr_keys, whose rows remove_person counts

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
        """The doctor's checks except the camera, as the result's data."""
        from terminal.doctor import CHECKS, run_loaded  # cv2 and paho: loaded when needed

        checks = [
            dataclasses.replace(check, timeout_s=min(check.timeout_s, DIAGNOSTICS_LIMIT_S))
            for check in CHECKS
            if check.name != "camera"
        ]
        results = run_loaded(self.config, checks)
        failed = [r.name for r in results if r.failed]
        warned = [r.name for r in results if r.status.value == "warn"]
        detail = f"{len(results)} checks (camera skipped): {len(failed)} failed, {len(warned)} warn"
        data = {
            "ok": not failed,
            "failed": failed,
            "warnings": warned,
            "checks": [r.as_dict() for r in results],
        }
        return Outcome(self._done(command, detail, data))

    def _done(self, command: Command, detail: str, data: dict[str, Any] | None) -> bytes:
        result = self.answer(command, CommandStatus.DONE, detail, data)
        self.store.save(command.command_id, command.kind, result, command.expires_at)
        return result
