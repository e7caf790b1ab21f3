"""The schema of ``kiosk.db``: its numbered migrations, the only place its tables are created.

:data:`MIGRATIONS` is applied by :func:`common.sqlite.migrate` when the database is opened
(:func:`terminal.store.database.open_database`): migration N takes a file at ``PRAGMA
user_version`` N-1 to N, and a file at :data:`LATEST` is only read. Once the database is open,
every table below exists; no other module creates one.

Releases before these migrations wrote ``user_version`` 1 or 2 on every open without reading it
and created some tables lazily, so files in the field at 0, 1 or 2 do not all have the same
tables. Migrations 1 to 3 are therefore written to take any of them (``CREATE ... IF NOT
EXISTS``, a column added only if missing) and reproduce, in order, what those releases made:

1. The first release: ``meta`` (with ``last_seq``), ``events`` without the attendance
   columns, ``people``, ``templates``. A file at 0 is new, or was left by a crash between its
   creation and the version write, with any of the later tables.
2. Signed QR codes and attendance: ``used_codes`` and ``used_codes_horizon`` (the QR release
   still wrote version 1), the columns ``direction``, ``schedule_ref``, ``verdict`` and
   ``verdict_minutes`` of ``events`` and its index ``events_captured`` (already there in a
   version-2 file that an older release opened again and set back to 1).
3. The tables created lazily until now: the roster tables (``roster_staging_schedule`` and
   ``roster_schedule`` came after the others), ``commands_done``, ``settings_override``.

Version 3 is thus the same in every file. Migrations from 4 on are plain: they may assume
version N-1 exactly.

4. ``liveness_calibration``: the passive liveness cut-offs ``kiosk calibrate --liveness`` fits on
   the kiosk's own camera (:mod:`terminal.store.liveness_calibration`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3

from common.sqlite import Migration, add_missing_columns, execute_script


def _first_release(conn: sqlite3.Connection) -> None:
    """1: the tables of the first release, and ``meta.last_seq``."""
    execute_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            person_id TEXT NOT NULL,
            method TEXT NOT NULL,
            captured_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'acked')),
            attempts INTEGER NOT NULL DEFAULT 0,
            committed_at TEXT NOT NULL,
            sent_at TEXT,
            acked_at TEXT
        );
        CREATE INDEX IF NOT EXISTS events_state_seq ON events (state, seq);
        CREATE TABLE IF NOT EXISTS people (
            person_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS templates (
            id INTEGER PRIMARY KEY,
            person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
            engine TEXT NOT NULL,
            model_digest TEXT NOT NULL,
            dim INTEGER NOT NULL,
            embedding BLOB NOT NULL,
            source TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS templates_person ON templates (person_id);
        INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', '0');
        """,
    )


def _codes_and_attendance(conn: sqlite3.Connection) -> None:
    """2: the used-code tables, the attendance columns of ``events`` and their index."""
    execute_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS used_codes (
            key_id TEXT NOT NULL,
            nonce TEXT NOT NULL,
            person_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at TEXT NOT NULL,
            PRIMARY KEY (key_id, nonce)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS used_codes_expiry ON used_codes (expires_at);
        CREATE TABLE IF NOT EXISTS used_codes_horizon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            horizon INTEGER NOT NULL
        );
        """,
    )
    add_missing_columns(
        conn,
        "events",
        (
            ("direction", "TEXT"),
            ("schedule_ref", "TEXT"),
            ("verdict", "TEXT"),
            ("verdict_minutes", "INTEGER"),
        ),
    )
    # For a person's check-ins since a time (Outbox.checkins_of). On captured_at alone, which
    # only grows, so new entries go at its end like the rows themselves: an index by person
    # would take each check-in to the middle, where a full store may still have room for it
    # after the table had none.
    conn.execute("CREATE INDEX IF NOT EXISTS events_captured ON events (captured_at)")


def _tables_made_lazily(conn: sqlite3.Connection) -> None:
    """3: the roster, command and setting tables, created lazily by earlier releases."""
    execute_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS person_qr_keys (
            person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
            key_id TEXT NOT NULL,
            PRIMARY KEY (person_id, key_id)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS roster_staging (
            roster_version INTEGER NOT NULL,
            chunk_index INTEGER NOT NULL,
            chunk_count INTEGER NOT NULL,
            key_id TEXT NOT NULL,
            issued_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            PRIMARY KEY (roster_version, chunk_index)
        );
        CREATE TABLE IF NOT EXISTS roster_staging_people (
            roster_version INTEGER NOT NULL,
            person_id TEXT NOT NULL,
            name TEXT NOT NULL,
            qr_key_ids TEXT NOT NULL,
            PRIMARY KEY (roster_version, person_id)
        );
        CREATE TABLE IF NOT EXISTS roster_staging_templates (
            roster_version INTEGER NOT NULL,
            person_id TEXT NOT NULL,
            engine TEXT NOT NULL,
            model_digest TEXT NOT NULL,
            dim INTEGER NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS roster_staging_schedule (
            roster_version INTEGER PRIMARY KEY,
            schedule TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS roster_schedule (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            roster_version INTEGER NOT NULL,
            schedule TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS commands_done (
            command_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            result TEXT NOT NULL,
            done_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS settings_override (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            set_at TEXT NOT NULL,
            command_id TEXT
        );
        """,
    )


def _liveness_calibration(conn: sqlite3.Connection) -> None:
    """4: the passive liveness stage's cut-offs fitted on this kiosk's camera (one row)."""
    execute_script(
        conn,
        """
        CREATE TABLE liveness_calibration (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            calibrated_at TEXT NOT NULL,
            pass_below REAL NOT NULL,
            refuse_above REAL NOT NULL,
            model TEXT NOT NULL,
            genuine_count INTEGER NOT NULL,
            attack_count INTEGER NOT NULL,
            source TEXT NOT NULL
        );
        """,
    )


def _face_data_law(conn: sqlite3.Connection) -> None:
    """5: consent per person, template origin, and the append-only processing log."""
    execute_script(
        conn,
        """
        ALTER TABLE people ADD COLUMN consent_scope TEXT
            CHECK (consent_scope IN ('none', 'on_device', 'transfer'));
        ALTER TABLE people ADD COLUMN consent_given_at TEXT;
        ALTER TABLE people ADD COLUMN consent_recorded_by TEXT;
        ALTER TABLE people ADD COLUMN consent_source TEXT;
        ALTER TABLE templates ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'
            CHECK (origin IN ('roster', 'local'));
        UPDATE templates SET origin = 'roster' WHERE source LIKE 'roster %';
        ALTER TABLE templates ADD COLUMN digest TEXT;
        ALTER TABLE roster_staging_people ADD COLUMN consent TEXT;
        ALTER TABLE roster_staging_templates ADD COLUMN digest TEXT;
        CREATE TABLE processing_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN
                ('consent_recorded', 'template_created', 'template_deleted')),
            person_ref TEXT NOT NULL,
            templates INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX processing_log_at ON processing_log (at);
        CREATE TABLE face_uses (
            day TEXT NOT NULL,
            person_ref TEXT NOT NULL,
            uses INTEGER NOT NULL,
            PRIMARY KEY (day, person_ref)
        ) WITHOUT ROWID;
        CREATE TABLE enrollment_notices (
            person_id TEXT PRIMARY KEY,
            state TEXT NOT NULL CHECK (state IN ('enrolled', 'removed')),
            templates INTEGER NOT NULL,
            at TEXT NOT NULL,
            published INTEGER NOT NULL DEFAULT 0,
            announced INTEGER NOT NULL DEFAULT 0
        );
        CREATE TRIGGER processing_log_append_only BEFORE UPDATE ON processing_log
        BEGIN
            SELECT RAISE(ABORT, 'the processing log is append-only');
        END;
        """,
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)", (PERSON_REF_KEY, secrets.token_hex(32))
    )
    rows = conn.execute("SELECT id, embedding FROM templates").fetchall()
    conn.executemany(
        "UPDATE templates SET digest = ? WHERE id = ?",
        [(template_digest(blob), row_id) for row_id, blob in rows],
    )


PERSON_REF_KEY = "person_ref_key"
"""The ``meta`` key of this database's random key for :func:`register_person_ref`."""


def register_person_ref(conn: sqlite3.Connection) -> None:
    """Make SQL ``person_ref(person_id)`` available on ``conn``: the first 8 bytes (hex) of
    HMAC-SHA-256 of the id under this database's own random key. The processing log names
    people by it, so removing a person leaves no id of theirs in the file, while the log of
    someone still enrolled maps back to them (``kiosk privacy log``). Before migration 5 (no
    key yet) it is not registered."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (PERSON_REF_KEY,)).fetchone()
    if row is None:
        return
    key = bytes.fromhex(str(row[0]))

    def person_ref(person_id: str) -> str:
        return hmac.new(key, str(person_id).encode(), hashlib.sha256).hexdigest()[:16]

    conn.create_function("person_ref", 1, person_ref, deterministic=True)


def template_digest(embedding: bytes) -> str:
    """The SHA-256 (hex) of a template's plain embedding bytes: tells a roster's templates the
    kiosk already has from new ones without comparing (possibly sealed) blobs."""
    return hashlib.sha256(embedding).hexdigest()


MIGRATIONS: tuple[Migration, ...] = (
    _first_release,
    _codes_and_attendance,
    _tables_made_lazily,
    _liveness_calibration,
    _face_data_law,
)
"""Migration N (1-based) takes ``kiosk.db`` from ``user_version`` N-1 to N. Append only."""

LATEST = len(MIGRATIONS)
"""The schema version this release makes and expects."""
