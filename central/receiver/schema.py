"""The schema of the reference receiver's database: its numbered migrations, the only place its
tables are created.

:data:`MIGRATIONS` is applied by :func:`common.sqlite.migrate` when
:class:`central.receiver.store.ReceiverStore` opens the file: migration N takes a file at
``PRAGMA user_version`` N-1 to N, and a file at :data:`LATEST` is only read.

Releases before these migrations never set ``user_version``, so every receiver file in the
field is at 0, in one of the shapes they made: the first release's ``events`` (without the
schedule columns, without the index ``events_captured``); the schedule release's, created with
the columns or given them by ``ALTER TABLE`` on open, one at a time, so a file may have only
some of them; ``kiosk alerts`` added ``alerts_sent`` (the alerts the broker acknowledged) to
the same file when it first ran. Migration 1 takes any of these (``CREATE ... IF NOT EXISTS``,
a column added only if missing) to version 1, the same in every file. Migrations from 2 on are
plain: they may assume version N-1 exactly.

2. What a refused or contradictory event leaves: ``rejects`` gets the terminal, the
   ``event_id`` (when one could be read) and the full ``payload`` of what was refused: the
   event's own JSON for one event of a batch (``payload_head`` stays: its first 200 bytes as
   text; rows of earlier releases have no ``payload``). ``conflicts`` records an event that
   contradicts one already stored: the same ``event_id`` with other content, or the same
   (terminal, ``seq``) under another ``event_id`` (a terminal whose database was lost or
   replaced counts again from 1).
3. ``webhook_sent``: the alerts an HTTP webhook (the HR system's SMS or app-message gateway)
   has accepted, so a restart never posts the same alert again.
4. ``events.id``: the commit order (the HR API's cursor), an ``INTEGER PRIMARY KEY``.
5. What HR records beside the check-ins (:mod:`models.hr_records`, kept by
   :mod:`central.records`): ``leave_periods`` (approved leave and excused absence, one row per
   ``leave_id``, cancelled ones kept) and ``corrections`` (supervisors' added and voided
   check-ins, only ever added).

The same schema for PostgreSQL is :data:`POSTGRESQL_MIGRATIONS` (its own numbering, tracked in
``kiosk_schema_versions``); :data:`RECEIVER_SCHEMA` holds both.
"""

from __future__ import annotations

import sqlite3

from central.db.migrations import Schema
from common.sqlite import Migration, add_missing_columns, execute_script

SCHEDULE_COLUMNS = (
    ("direction", "TEXT"),
    ("schedule_ref", "TEXT"),
    ("verdict", "TEXT"),
    ("verdict_minutes", "INTEGER"),
)
"""The schedule fields of an event, added to ``events`` after the first release (NULL in the
events stored before them: not known)."""


def _baseline(conn: sqlite3.Connection) -> None:
    """1: every table, column and index, from any shape an earlier release left."""
    execute_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS events (
            event_id TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            site TEXT NOT NULL,
            person_id TEXT NOT NULL,
            method TEXT NOT NULL,
            distance REAL,
            captured_at TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            direction TEXT,
            schedule_ref TEXT,
            verdict TEXT,
            verdict_minutes INTEGER
        );
        CREATE INDEX IF NOT EXISTS events_terminal_seq ON events (terminal_id, seq);
        CREATE TABLE IF NOT EXISTS terminals (
            terminal_id TEXT PRIMARY KEY,
            duplicates INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE IF NOT EXISTS rejects (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            topic TEXT NOT NULL,
            reason TEXT NOT NULL,
            payload_head TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS alerts_sent (
            alert_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            person_id TEXT,
            sent_at TEXT NOT NULL
        );
        """,
    )
    add_missing_columns(conn, "events", SCHEDULE_COLUMNS)
    # The order reports read events in (ReceiverStore.events_between).
    conn.execute(
        "CREATE INDEX IF NOT EXISTS events_captured ON events (captured_at, terminal_id, seq)"
    )


def _rejected_and_conflicting_events(conn: sqlite3.Connection) -> None:
    """2: the full payload, terminal and event id of a reject; the table ``conflicts``."""
    execute_script(
        conn,
        """
        ALTER TABLE rejects ADD COLUMN terminal_id TEXT;
        ALTER TABLE rejects ADD COLUMN event_id TEXT;
        ALTER TABLE rejects ADD COLUMN payload BLOB;
        CREATE INDEX rejects_event ON rejects (event_id);
        CREATE TABLE conflicts (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('event_id', 'seq')),
            terminal_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            event_id TEXT NOT NULL,
            stored_event_id TEXT NOT NULL,
            differences TEXT NOT NULL,
            payload TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE INDEX conflicts_event ON conflicts (event_id);
        CREATE INDEX conflicts_terminal ON conflicts (terminal_id, seq);
        """,
    )


def _webhook_deliveries(conn: sqlite3.Connection) -> None:
    """3: ``webhook_sent``, the alerts an HTTP webhook has accepted (a 2xx answer)."""
    execute_script(
        conn,
        """
        CREATE TABLE webhook_sent (
            alert_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            person_id TEXT,
            sent_at TEXT NOT NULL,
            attempts INTEGER NOT NULL
        );
        """,
    )


_EVENT_COLUMNS = (
    "event_id, terminal_id, seq, site, person_id, method, distance, captured_at, clock_synced,"
    " received_at, direction, schedule_ref, verdict, verdict_minutes"
)


def _event_cursor(conn: sqlite3.Connection) -> None:
    """4: ``events.id``, the order events were committed in (the HR API's cursor): the table
    made again with ``id INTEGER PRIMARY KEY`` (the old rowid, which ``VACUUM`` may renumber)
    and ``event_id`` UNIQUE."""
    execute_script(
        conn,
        f"""
        CREATE TABLE events_v4 (
            id INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            terminal_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            site TEXT NOT NULL,
            person_id TEXT NOT NULL,
            method TEXT NOT NULL,
            distance REAL,
            captured_at TEXT NOT NULL,
            clock_synced INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            direction TEXT,
            schedule_ref TEXT,
            verdict TEXT,
            verdict_minutes INTEGER
        );
        INSERT INTO events_v4 (id, {_EVENT_COLUMNS})
            SELECT rowid, {_EVENT_COLUMNS} FROM events ORDER BY rowid;
        DROP TABLE events;
        ALTER TABLE events_v4 RENAME TO events;
        CREATE INDEX events_terminal_seq ON events (terminal_id, seq);
        CREATE INDEX events_captured ON events (captured_at, terminal_id, seq);
        """,
    )


_HR_RECORDS = """
    CREATE TABLE leave_periods (
        leave_id {key} PRIMARY KEY,
        person_id {key} NOT NULL,
        kind TEXT NOT NULL,
        start_at {key} NOT NULL,
        end_at {key} NOT NULL,
        whole_days INTEGER NOT NULL,
        note TEXT NOT NULL,
        approved_by TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        cancelled_at TEXT,
        cancelled_by TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX leave_periods_time ON leave_periods (start_at, end_at);
    CREATE TABLE corrections (
        correction_id {key} PRIMARY KEY,
        action TEXT NOT NULL CHECK (action IN ('add', 'void')),
        reason TEXT NOT NULL,
        signed_off_by TEXT NOT NULL,
        recorded_at {key} NOT NULL,
        person_id {key},
        captured_at {key},
        direction TEXT,
        schedule_ref TEXT,
        event_id {key} UNIQUE
    );
    CREATE INDEX corrections_captured ON corrections (captured_at);
"""
"""Migration 5's tables (``{key}``: the text key type of the dialect). ``corrections.event_id``
is UNIQUE: a check-in is voided at most once."""


def _hr_records(conn: sqlite3.Connection) -> None:
    """5: ``leave_periods`` and ``corrections``."""
    execute_script(conn, _HR_RECORDS.format(key="TEXT"))


MIGRATIONS: tuple[Migration, ...] = (
    _baseline,
    _rejected_and_conflicting_events,
    _webhook_deliveries,
    _event_cursor,
    _hr_records,
)
"""Migration N (1-based) takes the receiver's file from ``user_version`` N-1 to N. Append only."""

LATEST = len(MIGRATIONS)
"""The schema version this release makes and expects."""

_TEXT_KEY = 'TEXT COLLATE "C"'
"""Text PostgreSQL compares byte by byte, as SQLite does: ids, terminals and RFC 3339 times
sort the same in both (a database's own collation may ignore the punctuation of a time)."""

POSTGRESQL_MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        event_id {_TEXT_KEY} NOT NULL UNIQUE,
        terminal_id {_TEXT_KEY} NOT NULL,
        seq BIGINT NOT NULL,
        site TEXT NOT NULL,
        person_id {_TEXT_KEY} NOT NULL,
        method TEXT NOT NULL,
        distance DOUBLE PRECISION,
        captured_at {_TEXT_KEY} NOT NULL,
        clock_synced INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        direction TEXT,
        schedule_ref TEXT,
        verdict TEXT,
        verdict_minutes INTEGER
    );
    CREATE INDEX events_terminal_seq ON events (terminal_id, seq);
    CREATE INDEX events_captured ON events (captured_at, terminal_id, seq);
    CREATE TABLE terminals (
        terminal_id {_TEXT_KEY} PRIMARY KEY,
        duplicates BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE rejects (
        id BIGSERIAL PRIMARY KEY,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload_head TEXT NOT NULL,
        terminal_id {_TEXT_KEY},
        event_id {_TEXT_KEY},
        payload BYTEA
    );
    CREATE INDEX rejects_event ON rejects (event_id);
    CREATE TABLE conflicts (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('event_id', 'seq')),
        terminal_id {_TEXT_KEY} NOT NULL,
        seq BIGINT NOT NULL,
        event_id {_TEXT_KEY} NOT NULL,
        stored_event_id {_TEXT_KEY} NOT NULL,
        differences TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    CREATE INDEX conflicts_event ON conflicts (event_id);
    CREATE INDEX conflicts_terminal ON conflicts (terminal_id, seq);
    CREATE TABLE alerts_sent (
        alert_id {_TEXT_KEY} PRIMARY KEY,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        person_id TEXT,
        sent_at TEXT NOT NULL
    );
    CREATE TABLE webhook_sent (
        alert_id {_TEXT_KEY} PRIMARY KEY,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        person_id TEXT,
        sent_at TEXT NOT NULL,
        attempts INTEGER NOT NULL
    );
    """,
    _HR_RECORDS.format(key=_TEXT_KEY),
)
"""The same schema on PostgreSQL: migration 1 is SQLite's 1 to 4 at once (there are no
PostgreSQL databases of earlier releases), 2 is SQLite's 5. Append only."""

RECEIVER_SCHEMA = Schema("receiver", "receiver database", MIGRATIONS, POSTGRESQL_MIGRATIONS)
"""The receiver database's schema, for :func:`central.db.migrations.open_database`."""
