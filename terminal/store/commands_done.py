"""Commands carried out, in the terminal database: what makes a command run only once.

``commands_done`` (created with the database: see :mod:`terminal.store.schema`) has one row per
command id this terminal has answered after verifying its signature: the kind, the exact JSON of
the result it published, when, and until when the command was valid. A second delivery of the
same command (the broker redelivers what was not acknowledged, or the central side asks again)
finds the row and gets the same result back, without running anything. The row is written in the
same transaction as the command's effect when that effect is in the database
(``remove_person``); see :mod:`terminal.sync.commands`.

Rows are kept :data:`KEEP_AFTER_EXPIRY` past the command's expiry, then purged, but only while
the clock is synchronised (a command past its expiry is refused anyway, so forgetting it is
safe; a clock running ahead must not purge too early). Unverified messages are never recorded: a
forged message must not be able to claim a command id before the real command arrives.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlite_utils

from common.sqlite import classify
from models.messages import format_rfc3339
from terminal.store.database import db_path, write_transaction

KEEP_AFTER_EXPIRY = timedelta(days=30)


class CommandStore:
    """The ``commands_done`` table on one connection (the sync's)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def result_of(self, command_id: UUID) -> bytes | None:
        """The result published for ``command_id``, or None if it was never carried out."""
        rows = self._read(
            "SELECT result FROM commands_done WHERE command_id = ?", (str(command_id),)
        )
        return str(rows[0][0]).encode() if rows else None

    def kinds(self) -> dict[str, str]:
        """Command id -> kind of every command remembered (for tests and diagnosis)."""
        return {
            str(r[0]): str(r[1]) for r in self._read("SELECT command_id, kind FROM commands_done")
        }

    @staticmethod
    def record(
        conn: sqlite3.Connection, command_id: UUID, kind: str, result: bytes, expires_at: datetime
    ) -> None:
        """Remember the result, inside the caller's write transaction."""
        conn.execute(
            "INSERT INTO commands_done (command_id, kind, result, done_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                str(command_id),
                kind,
                result.decode(),
                format_rfc3339(datetime.now(UTC)),
                format_rfc3339(expires_at),
            ),
        )

    def save(self, command_id: UUID, kind: str, result: bytes, expires_at: datetime) -> None:
        """Remember the result in a transaction of its own (commands whose effect is not stored)."""
        with write_transaction(self.db) as conn:
            self.record(conn, command_id, kind, result, expires_at)

    def purge(self, now: datetime) -> int:
        """Forget commands that expired more than :data:`KEEP_AFTER_EXPIRY` before ``now``."""
        horizon = format_rfc3339(now - KEEP_AFTER_EXPIRY)
        with write_transaction(self.db) as conn:
            return conn.execute(
                "DELETE FROM commands_done WHERE expires_at < ?", (horizon,)
            ).rowcount

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.db.conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise classify(exc, db_path(self.db)) from None
