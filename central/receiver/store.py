"""The reference receiver's database: each check-in stored once, keyed by its ``event_id``.

An SQLite file (WAL, ``synchronous=FULL``) or a PostgreSQL database, named by a database URL
(:mod:`central.db`): when :meth:`ReceiverStore.store` returns, the events are committed and
durable, and only then does the receiver acknowledge them. Several receivers may write one
PostgreSQL database (a shared subscription group): their transactions commit one after the
other, so ``events.id`` is the commit order. A repeated ``event_id``
with the same content is counted as a duplicate (per terminal), never stored twice. Messages
that cannot be used, and single events of a batch, are kept in ``rejects`` with the reason and
their full payload (an event's own JSON), so nothing disappears silently; an event the store
itself cannot write (an error of that event alone) becomes such a reject while the rest of its
batch is stored, in the same transaction.

An event that contradicts what is stored is recorded in ``conflicts`` (see
:class:`ConflictKind`), once however often it is delivered: the first-come event stays the
stored one when the ``event_id`` is the same; an event of another ``event_id`` at a (terminal,
``seq``) already stored is a check-in of its own, and is stored too.

The schedule fields of an event (direction, schedule_ref, verdict, verdict_minutes) have their
own columns (NULL for events stored before they existed). The tables are made, and a database
of an earlier release brought up to date, on open by :mod:`central.receiver.schema`.
:meth:`ReceiverStore.events_between` is what the reports read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import UUID

from central.db.connection import Database
from central.db.migrations import open_database
from central.db.url import DatabaseUrl
from central.receiver.schema import RECEIVER_SCHEMA
from models.messages import CheckInEvent, Direction, format_rfc3339

_COLUMNS = (
    "event_id, terminal_id, seq, site, person_id, method, distance, captured_at, clock_synced,"
    " received_at, direction, schedule_ref, verdict, verdict_minutes"
)
_NAMES = [name.strip() for name in _COLUMNS.split(",")]
_MARKS = ",".join("?" * len(_NAMES))

PAYLOAD_HEAD_BYTES = 200
"""How much of a rejected payload ``payload_head`` shows, as text (what a quick look reads)."""

KEPT_PAYLOAD_BYTES = 1024 * 1024
"""The most of a rejected payload kept in full (a batch is at most this long: a longer message
is refused for its size alone, and only its start is worth keeping)."""

_VALUE_ERRORS: tuple[type[Exception], ...] = (ArithmeticError, ValueError, TypeError)
"""Errors of one event's values (a number the database cannot hold, text it cannot encode),
with the driver's own (:attr:`Database.row_errors`): that event becomes a reject and the rest of
its batch is stored. Any other database error (disk full, locked, damaged, connection lost)
fails the whole call, to be retried."""


class _UnstorableEvent(Exception):
    """An event of the batch could not be written: store it again, event by event."""


class ConflictKind(StrEnum):
    """How an event contradicts one already stored."""

    EVENT_ID = "event_id"
    """Same ``event_id``, other content: the first-come event stays stored, this one is not."""
    SEQ = "seq"
    """Same terminal and ``seq``, another ``event_id``: the terminal counted again (its
    database was lost or replaced). Both events are stored."""


@dataclass(frozen=True)
class Conflict:
    """An event that contradicts a stored one: ``event_id`` and ``payload`` (its JSON) are the
    arriving event's, ``stored_event_id`` the one it contradicts, ``differences`` the fields
    in which the two differ (``received_at`` aside)."""

    kind: ConflictKind
    terminal_id: str
    seq: int
    event_id: str
    stored_event_id: str
    differences: tuple[str, ...]
    payload: str
    received_at: str


@dataclass(frozen=True)
class StoreOutcome:
    """What one :meth:`ReceiverStore.store` call did: events stored for the first time (with
    those of a reused seq), events delivered again unchanged (or again with a conflict recorded
    before), conflicts recorded for the first time, and the events the store itself refused
    (recorded in ``rejects``)."""

    new: list[CheckInEvent]
    duplicates: list[CheckInEvent]
    conflicts: list[Conflict] = field(default_factory=list)
    refused: list[Reject] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoredCheckIn:
    """A stored check-in as the reports read it: the fields they use, turned back into their
    types without validating the row again (it was validated before it was stored), several
    times cheaper than a :class:`CheckInEvent` for the year of events a report reads."""

    event_id: str
    terminal_id: str
    seq: int
    person_id: str
    captured_at: datetime
    clock_synced: bool
    direction: Direction | None
    schedule_ref: str | None


_CHECK_IN_COLUMNS = (
    "event_id, terminal_id, seq, person_id, captured_at, clock_synced, direction, schedule_ref"
)


@dataclass(frozen=True)
class Batch:
    """What one message brings to :meth:`ReceiverStore.store_batches`: its events, the
    rejects of its checks, and the topic it came on."""

    events: Sequence[CheckInEvent]
    rejects: Sequence[Reject] = ()
    topic: str = ""


@dataclass(frozen=True)
class StoredEvent:
    """An event as stored: its ``cursor`` (the order the receiver committed events in: every
    event committed later has a higher one, so reading "after cursor N" never misses or
    repeats one) and when it was received."""

    cursor: int
    received_at: str
    event: CheckInEvent


@dataclass(frozen=True)
class Reject:
    """A message, or one event of it, that was not stored, and why; ``payload`` is the
    message, or the event's own JSON; ``terminal_id`` and ``event_id`` when known."""

    topic: str
    reason: str
    payload: bytes
    terminal_id: str | None = None
    event_id: UUID | None = None


@dataclass(frozen=True)
class RejectRecord:
    """A row of ``rejects`` in full: what was refused, why, and the payload to repair it from."""

    received_at: str
    topic: str
    reason: str
    terminal_id: str | None
    event_id: str | None
    payload: bytes | None


@dataclass(frozen=True)
class TerminalSummary:
    """Per-terminal totals; ``missing`` counts seqs below ``highest_seq`` never received;
    ``reused_seqs`` counts events that came at a seq already stored under another ``event_id``
    (the terminal went backwards: its database was lost or replaced), ``conflicts`` events
    that came again with other content, ``rejects`` events and messages refused."""

    terminal_id: str
    events: int
    highest_seq: int
    missing: int
    duplicates: int
    reused_seqs: int = 0
    conflicts: int = 0
    rejects: int = 0


def _event(row: dict[str, Any]) -> CheckInEvent:
    """A stored row back as the event it was (``received_at`` is not part of the event)."""
    fields = {k: v for k, v in row.items() if k != "received_at" and v is not None}
    fields["clock_synced"] = bool(row["clock_synced"])
    return CheckInEvent.model_validate(fields)


def _now() -> str:
    return format_rfc3339(datetime.now(UTC))


def _values(event: CheckInEvent, received_at: str) -> tuple[Any, ...]:
    """The row of ``event`` in ``events``, in the order of its columns."""
    return (
        str(event.event_id),
        event.terminal_id,
        event.seq,
        event.site,
        event.person_id,
        event.method.value,
        event.distance,
        format_rfc3339(event.captured_at),
        int(event.clock_synced),
        received_at,
        None if event.direction is None else str(event.direction),
        event.schedule_ref,
        None if event.verdict is None else str(event.verdict),
        event.verdict_minutes,
    )


def _differences(stored: Sequence[Any], arriving: Sequence[Any]) -> tuple[str, ...]:
    """The columns in which two rows of ``events`` differ, ``received_at`` aside."""
    return tuple(
        name
        for name, old, new in zip(_NAMES, stored, arriving, strict=True)
        if name != "received_at" and old != new
    )


def _event_payload(event: CheckInEvent) -> bytes:
    """The JSON of ``event``, or its repr if even that cannot be written."""
    try:
        return event.model_dump_json().encode()
    except (ArithmeticError, ValueError):
        return repr(event).encode()


class ReceiverStore:
    """One connection to the receiver database at ``location``: a database URL
    (``sqlite:///central.db``, ``postgresql://...``) or an SQLite file's path. An SQLite file is
    created if needed; a PostgreSQL database must exist. Either gets its tables on first open."""

    def __init__(self, location: str | Path | DatabaseUrl) -> None:
        self._db = open_database(location, RECEIVER_SCHEMA)
        self.location = location
        self._event_errors = (*_VALUE_ERRORS, *self._db.row_errors)

    @property
    def name(self) -> str:
        """The database in messages (never with a password)."""
        return self._db.name

    @property
    def database(self) -> Database:
        """The store's connection, for tools that fill or maintain the database in bulk (the
        ingest bench); the receiver itself goes through the methods here."""
        return self._db

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def store(
        self, events: Sequence[CheckInEvent], rejects: Sequence[Reject] = (), topic: str = ""
    ) -> StoreOutcome:
        """Insert the events not seen before, count the others, record conflicts and
        ``rejects``; one transaction, durable on return.

        An event whose values this store cannot write becomes a reject (on ``topic``, the topic
        the events came on) and the others are stored. A reject of an event already recorded
        with the same payload (the terminal sent it again) is not recorded twice.
        """
        return self.store_batches([Batch(events, rejects, topic)])[0]

    def store_batches(self, batches: Sequence[Batch]) -> list[StoreOutcome]:
        """:meth:`store` for several batches (messages) in ONE transaction, one outcome each, in
        order: the receiver commits what arrived together once, not once per message."""
        try:
            return self._store(batches, isolate=False)
        except _UnstorableEvent:
            return self._store(batches, isolate=True)

    def _store(self, batches: Sequence[Batch], isolate: bool) -> list[StoreOutcome]:
        """First without a savepoint per event (half the statements); only when an event
        cannot be written is everything done again (``isolate``), each event in a savepoint
        of its own so that it alone is refused."""
        outcomes: list[StoreOutcome] = []
        now = _now()
        with self._transaction() as conn:
            for batch in batches:
                outcome = StoreOutcome([], [])
                outcomes.append(outcome)
                for reject in batch.rejects:
                    self._insert_reject(conn, reject, now)
                for event in batch.events:
                    self._store_event(conn, event, batch.topic, now, isolate, outcome)
                for event in outcome.duplicates:
                    conn.execute(
                        "INSERT INTO terminals (terminal_id, duplicates) VALUES (?, 1)"
                        " ON CONFLICT (terminal_id)"
                        " DO UPDATE SET duplicates = terminals.duplicates + 1",
                        (event.terminal_id,),
                    )
        return outcomes

    def _store_event(
        self,
        conn: Database,
        event: CheckInEvent,
        topic: str,
        now: str,
        isolate: bool,
        outcome: StoreOutcome,
    ) -> None:
        """Store one event and add what happened to ``outcome``."""
        if isolate:
            conn.execute("SAVEPOINT event")
        try:
            kept, conflict = self._insert_event(conn, event, now)
        except self._event_errors as exc:
            if not isolate:
                raise _UnstorableEvent from None  # the transaction is rolled back
            conn.execute("ROLLBACK TO event")
            conn.execute("RELEASE event")
            refused = Reject(
                topic,
                f"event {event.event_id}: cannot be stored: {type(exc).__name__}: {exc}",
                _event_payload(event),
                event.terminal_id,
                event.event_id,
            )
            self._insert_reject(conn, refused, now)
            outcome.refused.append(refused)
            return
        if isolate:
            conn.execute("RELEASE event")
        if kept:
            outcome.new.append(event)
        elif conflict is None:  # the same again (or a conflict already recorded)
            outcome.duplicates.append(event)
        if conflict is not None:
            outcome.conflicts.append(conflict)

    def _insert_event(
        self, conn: Database, event: CheckInEvent, now: str
    ) -> tuple[bool, Conflict | None]:
        """Store ``event`` if its ``event_id`` is new; whether it was, and the conflict it
        makes if it is the first time it makes one."""
        values = _values(event, now)
        cursor = conn.execute(
            f"INSERT INTO events ({_COLUMNS}) VALUES ({_MARKS}) ON CONFLICT (event_id) DO NOTHING",
            values,
        )
        if cursor.rowcount == 1:
            stored = conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE terminal_id = ? AND seq = ?"
                " AND event_id <> ? ORDER BY id LIMIT 1",
                (event.terminal_id, event.seq, values[0]),
            ).fetchone()
            if stored is None:
                return True, None
            return True, self._record_conflict(conn, ConflictKind.SEQ, event, stored, values, now)
        stored = conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE event_id = ?", (values[0],)
        ).fetchone()
        if not _differences(stored, values):
            return False, None
        return False, self._record_conflict(conn, ConflictKind.EVENT_ID, event, stored, values, now)

    @staticmethod
    def _record_conflict(
        conn: Database,
        kind: ConflictKind,
        event: CheckInEvent,
        stored: Sequence[Any],
        values: Sequence[Any],
        now: str,
    ) -> Conflict | None:
        """Record that ``event`` (its row: ``values``) contradicts the ``stored`` row; None if
        this very conflict is recorded already (the same event delivered again)."""
        conflict = Conflict(
            kind,
            event.terminal_id,
            event.seq,
            str(values[0]),
            str(stored[0]),
            _differences(stored, values),
            event.model_dump_json(),
            now,
        )
        seen = conn.execute(
            "SELECT 1 FROM conflicts WHERE event_id = ? AND kind = ? AND payload = ?",
            (conflict.event_id, kind.value, conflict.payload),
        ).fetchone()
        if seen is not None:
            return None
        conn.execute(
            "INSERT INTO conflicts (kind, terminal_id, seq, event_id, stored_event_id,"
            " differences, payload, received_at) VALUES (?,?,?,?,?,?,?,?)",
            (
                kind.value,
                conflict.terminal_id,
                conflict.seq,
                conflict.event_id,
                conflict.stored_event_id,
                ",".join(conflict.differences),
                conflict.payload,
                now,
            ),
        )
        return conflict

    @staticmethod
    def _insert_reject(conn: Database, reject: Reject, now: str) -> None:
        head = reject.payload[:PAYLOAD_HEAD_BYTES].decode("utf-8", errors="replace")
        head = head.replace("\x00", "\ufffd")  # text columns of PostgreSQL refuse NUL
        kept = reject.payload[:KEPT_PAYLOAD_BYTES]
        event_id = None if reject.event_id is None else str(reject.event_id)
        if event_id is not None:
            seen = conn.execute(
                "SELECT 1 FROM rejects WHERE event_id = ? AND payload = ?", (event_id, kept)
            ).fetchone()
            if seen is not None:
                return
        conn.execute(
            "INSERT INTO rejects (received_at, topic, reason, payload_head, terminal_id,"
            " event_id, payload) VALUES (?,?,?,?,?,?,?)",
            (now, reject.topic, reject.reason, head, reject.terminal_id, event_id, kept),
        )

    def count(self) -> int:
        """Number of distinct events stored."""
        return int(self._query("SELECT count(*) FROM events")[0][0])

    def count_between(self, start: datetime, end: datetime) -> int:
        """Number of events captured in ``[start, end)`` (what a report of that range reads)."""
        rows = self._query(
            "SELECT count(*) FROM events WHERE captured_at >= ? AND captured_at < ?",
            (format_rfc3339(start), format_rfc3339(end)),
        )
        return int(rows[0][0])

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

    def iter_events_between(
        self, start: datetime, end: datetime, chunk_size: int = 5000
    ) -> Iterator[CheckInEvent]:
        """:meth:`events_between`, read ``chunk_size`` rows at a time: memory stays flat
        however many events the range holds."""
        sql = (
            f"SELECT {_COLUMNS} FROM events WHERE captured_at >= ? AND captured_at < ?"
            " ORDER BY captured_at, terminal_id, seq"
        )
        for row in self._db.stream(sql, (format_rfc3339(start), format_rfc3339(end)), chunk_size):
            yield _event(dict(zip(_NAMES, row, strict=True)))

    def iter_check_ins(
        self, start: datetime, end: datetime, chunk_size: int = 5000
    ) -> Iterator[StoredCheckIn]:
        """:meth:`iter_events_between` as :class:`StoredCheckIn` (what reports read)."""
        sql = (
            f"SELECT {_CHECK_IN_COLUMNS} FROM events WHERE captured_at >= ? AND captured_at < ?"
            " ORDER BY captured_at, terminal_id, seq"
        )
        parse_time, directions = datetime.fromisoformat, {d.value: d for d in Direction}
        for row in self._db.stream(sql, (format_rfc3339(start), format_rfc3339(end)), chunk_size):
            yield StoredCheckIn(
                row[0], row[1], row[2], row[3], parse_time(row[4]), bool(row[5]),
                None if row[6] is None else directions[row[6]], row[7],
            )  # fmt: skip

    def events_after(self, cursor: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` events committed after ``cursor`` (0: from the first), in commit
        order; the last one's ``cursor`` is where the next page starts."""
        rows = self._query(
            f"SELECT id, {_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit),
        )
        return [
            StoredEvent(row[0], row[10], _event(dict(zip(_NAMES, row[1:], strict=True))))
            for row in rows
        ]

    def rejects(self) -> list[dict[str, str]]:
        """Rejected messages and events, oldest first: topic, reason and payload start."""
        rows = self._query("SELECT topic, reason, payload_head FROM rejects ORDER BY id")
        return [{"topic": r[0], "reason": r[1], "payload_head": r[2]} for r in rows]

    def reject_records(self) -> list[RejectRecord]:
        """Rejected messages and events in full, oldest first (the payload is None in rows
        recorded before it was kept)."""
        rows = self._query(
            "SELECT received_at, topic, reason, terminal_id, event_id, payload FROM rejects"
            " ORDER BY id"
        )
        return [RejectRecord(*row) for row in rows]

    def conflicts(self) -> list[Conflict]:
        """Events that contradicted a stored one (see :class:`ConflictKind`), oldest first."""
        rows = self._query(
            "SELECT kind, terminal_id, seq, event_id, stored_event_id, differences, payload,"
            " received_at FROM conflicts ORDER BY id"
        )
        return [
            Conflict(ConflictKind(r[0]), r[1], r[2], r[3], r[4], tuple(r[5].split(",")), r[6], r[7])
            for r in rows
        ]

    def terminals(self) -> list[TerminalSummary]:
        """Totals per terminal (every terminal with an event, a conflict or a reject), with
        gaps in the seqs received so far and the seqs it used again."""
        totals: dict[str, dict[str, int]] = {}

        def add(sql: str, *names: str) -> None:
            for terminal_id, *values in self._query(sql):
                totals.setdefault(terminal_id, {}).update(zip(names, values, strict=True))

        add(
            "SELECT terminal_id, count(*), max(seq), count(DISTINCT seq) FROM events"
            " GROUP BY terminal_id",
            "events", "highest_seq", "distinct_seqs",
        )  # fmt: skip
        add("SELECT terminal_id, duplicates FROM terminals", "duplicates")
        add(
            "SELECT terminal_id, count(*) FILTER (WHERE kind = 'seq'),"
            " count(*) FILTER (WHERE kind = 'event_id') FROM conflicts"
            " GROUP BY terminal_id",
            "reused_seqs", "conflicts",
        )  # fmt: skip
        add(
            "SELECT terminal_id, count(*) FROM rejects WHERE terminal_id IS NOT NULL"
            " GROUP BY terminal_id",
            "rejects",
        )
        summaries = []
        for terminal_id, found in sorted(totals.items()):
            highest = found.get("highest_seq", 0)
            summaries.append(
                TerminalSummary(
                    terminal_id,
                    events=found.get("events", 0),
                    highest_seq=highest,
                    missing=highest - found.get("distinct_seqs", 0),
                    duplicates=found.get("duplicates", 0),
                    reused_seqs=found.get("reused_seqs", 0),
                    conflicts=found.get("conflicts", 0),
                    rejects=found.get("rejects", 0),
                )
            )
        return summaries

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return self._db.query(sql, params)

    def _transaction(self) -> AbstractContextManager[Database]:
        return self._db.transaction()
