"""The reference receiver's database: each check-in stored once, keyed by its ``event_id``.

SQLite in WAL mode with ``synchronous=FULL``: when :meth:`ReceiverStore.store` returns, the
events are on disk, and only then does the receiver acknowledge them. A repeated ``event_id``
is counted as a duplicate (per terminal), never stored twice. Messages that cannot be used are
kept in ``rejects`` with the reason, so nothing disappears silently.

The schedule fields of an event (direction, schedule_ref, verdict, verdict_minutes) have their
own columns (NULL for events stored before they existed). The tables are made, and a database
of an earlier release brought up to date, on open by :mod:`central.receiver.schema`.
:meth:`ReceiverStore.events_between` is what the reports read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from central.receiver.schema import MIGRATIONS
from common.sqlite import classify, immediate_transaction, open_central_db
from models.messages import CheckInEvent, format_rfc3339

_COLUMNS = (
    "event_id, terminal_id, seq, site, person_id, method, distance, captured_at, clock_synced,"
    " received_at, direction, schedule_ref, verdict, verdict_minutes"
)
_NAMES = [name.strip() for name in _COLUMNS.split(",")]
_MARKS = ",".join("?" * len(_NAMES))


@dataclass(frozen=True)
class StoreOutcome:
    """What one :meth:`ReceiverStore.store` call did."""

    new: list[CheckInEvent]
    duplicates: list[CheckInEvent]


@dataclass(frozen=True)
class Reject:
    """A message, or one event of it, that was not stored, and why."""

    topic: str
    reason: str
    payload: bytes


@dataclass(frozen=True)
class TerminalSummary:
    """Per-terminal totals; ``missing`` counts seqs below ``highest_seq`` never received."""

    terminal_id: str
    events: int
    highest_seq: int
    missing: int
    duplicates: int


def _event(row: dict[str, Any]) -> CheckInEvent:
    """A stored row back as the event it was (``received_at`` is not part of the event)."""
    fields = {k: v for k, v in row.items() if k != "received_at" and v is not None}
    fields["clock_synced"] = bool(row["clock_synced"])
    return CheckInEvent.model_validate(fields)


def _now() -> str:
    return format_rfc3339(datetime.now(UTC))


class ReceiverStore:
    """One connection to the receiver database at ``db_path`` (created if needed)."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self._conn = open_central_db(db_path, MIGRATIONS, "receiver database")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def store(self, events: Sequence[CheckInEvent], rejects: Sequence[Reject] = ()) -> StoreOutcome:
        """Insert the events not seen before, count the others, record ``rejects``; one
        transaction, durable on return."""
        outcome = StoreOutcome([], [])
        now = _now()
        with self._transaction() as conn:
            for reject in rejects:
                self._insert_reject(conn, reject, now)
            for event in events:
                cursor = conn.execute(
                    f"INSERT OR IGNORE INTO events ({_COLUMNS}) VALUES ({_MARKS})",
                    (
                        str(event.event_id),
                        event.terminal_id,
                        event.seq,
                        event.site,
                        event.person_id,
                        event.method.value,
                        event.distance,
                        format_rfc3339(event.captured_at),
                        int(event.clock_synced),
                        now,
                        None if event.direction is None else str(event.direction),
                        event.schedule_ref,
                        None if event.verdict is None else str(event.verdict),
                        event.verdict_minutes,
                    ),
                )
                (outcome.new if cursor.rowcount == 1 else outcome.duplicates).append(event)
            for event in outcome.duplicates:
                conn.execute(
                    "INSERT INTO terminals (terminal_id, duplicates) VALUES (?, 1)"
                    " ON CONFLICT (terminal_id) DO UPDATE SET duplicates = duplicates + 1",
                    (event.terminal_id,),
                )
        return outcome

    @staticmethod
    def _insert_reject(conn: sqlite3.Connection, reject: Reject, now: str) -> None:
        head = reject.payload[:200].decode("utf-8", errors="replace")
        conn.execute(
            "INSERT INTO rejects (received_at, topic, reason, payload_head) VALUES (?,?,?,?)",
            (now, reject.topic, reject.reason, head),
        )

    def count(self) -> int:
        """Number of distinct events stored."""
        return int(self._query("SELECT count(*) FROM events")[0][0])

    def duplicates(self) -> int:
        """Number of deliveries of an already stored ``event_id``."""
        return int(self._query("SELECT coalesce(sum(duplicates), 0) FROM terminals")[0][0])

    def events(self) -> list[dict[str, Any]]:
        """Every stored event as a dict of its columns, ordered by terminal and seq."""
        rows = self._query(f"SELECT {_COLUMNS} FROM events ORDER BY terminal_id, seq")
        return [dict(zip(_NAMES, row, strict=True)) for row in rows]

    def events_between(self, start: datetime, end: datetime) -> list[CheckInEvent]:
        """The events captured in ``[start, end)`` (aware datetimes), as :class:`CheckInEvent`,
        ordered by ``captured_at``, then terminal and seq: the order reports read them in,
        whatever order they arrived in (each ``event_id`` is stored once)."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM events WHERE captured_at >= ? AND captured_at < ?"
            " ORDER BY captured_at, terminal_id, seq",
            (format_rfc3339(start), format_rfc3339(end)),
        )
        return [_event(dict(zip(_NAMES, row, strict=True))) for row in rows]

    def rejects(self) -> list[dict[str, str]]:
        """Rejected messages and events, oldest first: topic, reason and payload start."""
        rows = self._query("SELECT topic, reason, payload_head FROM rejects ORDER BY id")
        return [{"topic": r[0], "reason": r[1], "payload_head": r[2]} for r in rows]

    def terminals(self) -> list[TerminalSummary]:
        """Totals per terminal, with gaps in the seqs received so far."""
        rows = self._query(
            "SELECT e.terminal_id, count(*), max(e.seq), count(DISTINCT e.seq),"
            " coalesce(t.duplicates, 0) FROM events e"
            " LEFT JOIN terminals t ON t.terminal_id = e.terminal_id"
            " GROUP BY e.terminal_id ORDER BY e.terminal_id"
        )
        return [TerminalSummary(r[0], r[1], r[2], r[2] - r[3], r[4]) for r in rows]

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from None

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._conn, self.path)
