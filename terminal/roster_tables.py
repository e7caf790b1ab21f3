"""The tables of rosters, besides ``people`` and ``templates`` (see :mod:`terminal.database`).

``person_qr_keys`` holds the QR key ids a roster lists per person (deleted with the person).
``roster_staging`` has one row per chunk received of a version not yet applied;
``roster_staging_people`` and ``roster_staging_templates`` hold those chunks' people and
templates as rows, so applying a roster is a few set-based statements (see
:mod:`terminal.roster_store`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlite_utils

from models.messages import format_rfc3339
from models.roster import RosterChunk
from terminal.database import classify, db_path

SCHEMA = """
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
"""
STAGING_TABLES = ("roster_staging", "roster_staging_people", "roster_staging_templates")


def create_tables(db: sqlite_utils.Database) -> None:
    """Create the roster tables if they are missing."""
    try:
        db.conn.executescript(SCHEMA)
    except sqlite3.Error as exc:
        raise classify(exc, db_path(db)) from None


def insert_chunk(conn: sqlite3.Connection, chunk: RosterChunk, key_id: str) -> None:
    """Stage one chunk: a row for it, one per person and one per template."""
    version = chunk.roster_version
    conn.execute(
        "INSERT INTO roster_staging (roster_version, chunk_index, chunk_count, key_id,"
        " issued_at, received_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            version,
            chunk.chunk_index,
            chunk.chunk_count,
            key_id,
            format_rfc3339(chunk.issued_at),
            format_rfc3339(datetime.now(UTC)),
        ),
    )
    conn.executemany(
        "INSERT INTO roster_staging_people (roster_version, person_id, name, qr_key_ids)"
        " VALUES (?, ?, ?, ?)",
        [(version, p.person_id, p.name, json.dumps(p.qr_key_ids)) for p in chunk.people],
    )
    conn.executemany(
        "INSERT INTO roster_staging_templates (roster_version, person_id, engine,"
        " model_digest, dim, embedding) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (version, p.person_id, t.engine, t.model_digest, t.dim, t.embedding)
            for p in chunk.people
            for t in p.templates
        ],
    )


@contextmanager
def secure_delete(conn: sqlite3.Connection) -> Iterator[None]:
    """Deleted content is overwritten with zeros while the block runs."""
    (previous,) = conn.execute("PRAGMA secure_delete").fetchone()
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(previous)}")
