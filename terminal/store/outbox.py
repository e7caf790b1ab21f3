"""The outbox: check-ins committed durably, then handed to the sync for delivery.

The pipeline writes with :meth:`Outbox.commit_checkin`; the sync reads with
:meth:`Outbox.due`, marks with :meth:`Outbox.mark_sent` and :meth:`Outbox.mark_acked`. This
table is their only hand-off. States: ``pending`` (not yet published on this connection),
``sent`` (published, waiting for the central acknowledgement), ``acked`` (stored centrally).
Only ``acked`` events are ever deleted (:meth:`Outbox.purge_acked`, by age); ``seq`` is kept in
the ``meta`` table, not derived from the rows, so deleting events never lets a ``seq`` be reused.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils
import uuid6

from common.errors import StoreError, StoreFullError
from common.sqlite import classify
from models.messages import CheckInEvent, Direction, Method, Verdict, format_rfc3339
from terminal.store.database import db_path, open_database, write_transaction
from terminal.store.disk_room import DiskRoom
from terminal.store.seq_mark import SeqMark

log = logging.getLogger(__name__)

STATES = ("pending", "sent", "acked")
ROOM_CHUNKS = (500, 50, 5)
"""Acknowledged events deleted at once when a full store needs room for a check-in: the next
size is tried when the disk has no room even for the delete."""
ACK_CHUNK = 10
"""Acknowledgements recorded per transaction when a whole ack does not fit on a full disk."""
MAKE_ROOM_ROUNDS = 10
"""Times a check-in that finds the store full makes room and tries again before it is refused."""


@dataclass(frozen=True)
class CheckInDraft:
    """What the pipeline knows about a check-in before it is committed (the attendance fields:
    see :mod:`terminal.checkin.attendance`)."""

    person_id: str
    method: Method
    captured_at: datetime
    distance: float | None = None
    direction: Direction | None = None
    schedule_ref: str | None = None
    verdict: Verdict | None = None
    verdict_minutes: int | None = None


@dataclass(frozen=True)
class OutboxRow:
    """One event in the outbox with its delivery state."""

    event: CheckInEvent
    state: str
    attempts: int
    committed_at: str
    sent_at: str | None
    acked_at: str | None


def _now() -> str:
    return format_rfc3339(datetime.now(UTC))


def next_seq(conn: sqlite3.Connection, mark: int | None) -> int:
    """The ``seq`` of the next check-in: after the database's, unless the database is behind
    the mark kept outside it (it was lost or replaced), then after the mark."""
    (last,) = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    if mark is not None and mark > int(last) + 1:
        return mark + 1
    return int(last) + 1


class Outbox:
    """Durable, ordered store of check-ins for one terminal.

    ``reserve_mb`` is the disk space check-ins leave free for delivery (see
    :mod:`terminal.store.disk_room`); 0: none.
    """

    def __init__(
        self, db: sqlite_utils.Database, terminal_id: str, site: str, reserve_mb: float = 0.0
    ) -> None:
        self.db = db
        self.terminal_id = terminal_id
        self.site = site
        self.room = DiskRoom(Path(db_path(db)), reserve_mb)
        self.seq_mark = SeqMark(Path(db_path(db)))

    @classmethod
    def open(
        cls,
        path: Path,
        terminal_id: str,
        site: str,
        max_size_mb: float | None = None,
        reserve_mb: float = 0.0,
    ) -> Outbox:
        """Open the outbox in the database file at ``path`` (its own connection), capped at
        ``max_size_mb`` (see :func:`~terminal.store.database.limit_size`), leaving
        ``reserve_mb`` of the disk free for delivery."""
        return cls(open_database(path, max_size_mb), terminal_id, site, reserve_mb)

    def close(self) -> None:
        """Close this connection."""
        self.db.conn.close()

    def commit_checkin(
        self,
        draft: CheckInDraft,
        clock_synced: bool,
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> CheckInEvent:
        """Assign the next ``seq`` and a new ``event_id`` and commit; durable on return.

        ``also`` runs inside the same transaction first (the pipeline burns the check-in's
        single-use code there); whatever it raises rolls the whole check-in back and is raised.

        When the store is full (its cap, or the disk down to the reserve kept for delivery),
        acknowledged events (already safe at the central side) are deleted early, oldest
        first, to make room. Raises
        :class:`~common.errors.StoreFullError` when there is still no room (nothing is
        half-written, nothing unacknowledged is deleted) and other
        :class:`~common.errors.StoreError` on database failures.
        """
        for _ in range(MAKE_ROOM_ROUNDS):
            try:
                return self._commit(draft, clock_synced, also)
            except StoreFullError:
                if not self._make_room():
                    raise
        return self._commit(draft, clock_synced, also)

    def _make_room(self) -> int:
        deleted = 0
        for chunk in ROOM_CHUNKS:  # on a full disk only a small delete fits in the WAL
            try:
                deleted = self.purge_acked(0, limit=chunk)
                break
            except StoreFullError:
                continue
            except StoreError:
                return 0
        if deleted:
            log.warning(
                "store full: deleted %d acknowledged events early to make room"
                " (they are already at the central side)",
                deleted,
            )
        return deleted

    def _commit(
        self,
        draft: CheckInDraft,
        clock_synced: bool,
        also: Callable[[sqlite3.Connection], None] | None,
    ) -> CheckInEvent:
        with write_transaction(self.db) as conn:
            room = self.room.measure(conn)
            if not room.allows_checkin:
                conn.execute("ROLLBACK")
                self.room.checkpoint(conn)
                raise StoreFullError(
                    f"{db_path(self.db)}: disk nearly full ({room.describe()}), new check-ins"
                    " are refused until delivery frees room"
                )
            if also is not None:
                also(conn)
            mark = self.seq_mark.read()
            seq = next_seq(conn, mark)
            if mark is None or seq > mark:
                self.seq_mark.write(seq)
            event = CheckInEvent(
                event_id=uuid6.uuid7(),  # time-ordered: indexes on it grow at their end
                seq=seq,
                terminal_id=self.terminal_id,
                site=self.site,
                person_id=draft.person_id,
                method=draft.method,
                distance=None if draft.distance is None else round(draft.distance, 4),
                captured_at=draft.captured_at,
                clock_synced=clock_synced,
                direction=draft.direction,
                schedule_ref=draft.schedule_ref,
                verdict=draft.verdict,
                verdict_minutes=draft.verdict_minutes,
            )
            conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(seq),))
            conn.execute(
                "INSERT INTO events (seq, event_id, person_id, method, captured_at, payload,"
                " committed_at, direction, schedule_ref, verdict, verdict_minutes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    str(event.event_id),
                    event.person_id,
                    event.method.value,
                    format_rfc3339(event.captured_at),
                    event.model_dump_json(),
                    _now(),
                    None if event.direction is None else event.direction.value,
                    event.schedule_ref,
                    None if event.verdict is None else event.verdict.value,
                    event.verdict_minutes,
                ),
            )
        return event

    def due(self, limit: int, exclude_sent: bool = True) -> list[CheckInEvent]:
        """Oldest events not yet acknowledged; only ``pending`` ones when ``exclude_sent``."""
        states = ("pending",) if exclude_sent else ("pending", "sent")
        marks = ",".join("?" for _ in states)
        rows = self._read(
            f"SELECT payload FROM events WHERE state IN ({marks}) ORDER BY seq LIMIT ?",
            (*states, limit),
        )
        return [CheckInEvent.model_validate_json(row[0]) for row in rows]

    def checkins_of(self, person_id: str, since: datetime) -> list[CheckInEvent]:
        """``person_id``'s committed check-ins captured at or after ``since``, oldest first
        (whatever their delivery state; acknowledged ones purged by retention are gone)."""
        rows = self._read(
            "SELECT payload FROM events WHERE person_id = ? AND captured_at >= ? ORDER BY seq",
            (person_id, format_rfc3339(since)),
        )
        return [CheckInEvent.model_validate_json(row[0]) for row in rows]

    def mark_sent(self, seqs: Iterable[int]) -> None:
        """Record that these events were published (and count the attempt)."""
        seq_list = list(seqs)
        if not seq_list:
            return
        now = _now()
        with write_transaction(self.db) as conn:
            conn.executemany(
                "UPDATE events SET state = 'sent', attempts = attempts + 1, sent_at = ?"
                " WHERE seq = ? AND state != 'acked'",
                [(now, seq) for seq in seq_list],
            )

    def requeue(self, seqs: Iterable[int] | None = None) -> int:
        """Put ``sent`` events back to ``pending`` (all of them when ``seqs`` is None)."""
        with write_transaction(self.db) as conn:
            if seqs is None:
                cursor = conn.execute("UPDATE events SET state = 'pending' WHERE state = 'sent'")
                return cursor.rowcount
            cursor = conn.executemany(
                "UPDATE events SET state = 'pending' WHERE seq = ? AND state = 'sent'",
                [(seq,) for seq in seqs],
            )
            return cursor.rowcount

    def mark_acked(self, event_ids: Iterable[str]) -> int:
        """Record central acknowledgements; return how many events changed to ``acked``."""
        ids = [str(event_id) for event_id in event_ids]
        try:
            return self._mark_acked(ids)
        except StoreFullError:
            self.room.release_ballast()
        # On a full disk a big transaction may not fit in the WAL; smaller ones reuse its room.
        return sum(self._mark_acked(ids[i : i + ACK_CHUNK]) for i in range(0, len(ids), ACK_CHUNK))

    def _mark_acked(self, ids: list[str]) -> int:
        if not ids:
            return 0
        now = _now()
        with write_transaction(self.db) as conn:
            cursor = conn.executemany(
                "UPDATE events SET state = 'acked', acked_at = ?"
                " WHERE event_id = ? AND state != 'acked'",
                [(now, event_id) for event_id in ids],
            )
            return cursor.rowcount

    def purge_acked(
        self,
        older_than: timedelta | float,
        limit: int | None = None,
        now: datetime | None = None,
    ) -> int:
        """Delete ``acked`` events acknowledged more than ``older_than`` (seconds or timedelta)
        before ``now`` (default: the current time); return how many were deleted.

        ``pending`` and ``sent`` events are never deleted, whatever their age. At most ``limit``
        events go (oldest ``seq`` first), all in one write transaction, so a caller can purge a
        large backlog in short steps without holding up the pipeline's commits.
        """
        age = older_than if isinstance(older_than, timedelta) else timedelta(seconds=older_than)
        cutoff = format_rfc3339((now or datetime.now(UTC)) - age)
        select = "SELECT seq FROM events WHERE state = 'acked' AND acked_at < ? ORDER BY seq"
        params: tuple[object, ...] = (cutoff,)
        if limit is not None:
            select += " LIMIT ?"
            params = (cutoff, limit)
        sql = f"DELETE FROM events WHERE state = 'acked' AND seq IN ({select})"
        try:
            return self._write(sql, params)
        except StoreFullError:
            if not self.room.release_ballast():
                raise
        return self._write(sql, params)

    def _write(self, sql: str, params: tuple[object, ...]) -> int:
        with write_transaction(self.db) as conn:
            return conn.execute(sql, params).rowcount

    def counts(self) -> dict[str, int]:
        """Number of events in each state (every state present, zero when none)."""
        counts = dict.fromkeys(STATES, 0)
        for state, count in self._read("SELECT state, count(*) FROM events GROUP BY state"):
            counts[str(state)] = int(count)
        return counts

    def backlog(self) -> int:
        """Events committed but not yet acknowledged centrally."""
        rows = self._read("SELECT count(*) FROM events WHERE state IN ('pending', 'sent')")
        return int(rows[0][0])

    def rows(self, state: str | None = None, limit: int | None = None) -> list[OutboxRow]:
        """Events with their delivery state, oldest first, optionally of one state."""
        sql = "SELECT payload, state, attempts, committed_at, sent_at, acked_at FROM events"
        params: list[object] = []
        if state is not None:
            sql += " WHERE state = ?"
            params.append(state)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [
            OutboxRow(CheckInEvent.model_validate_json(r[0]), r[1], r[2], r[3], r[4], r[5])
            for r in self._read(sql, tuple(params))
        ]

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.db.conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise classify(exc, db_path(self.db)) from None
