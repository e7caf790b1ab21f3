"""A database schema's numbered migrations, per dialect, and opening a database at its latest.

A :class:`Schema` is owned by one module (the receiver's by :mod:`central.receiver.schema`): its
SQLite migrations are :data:`common.sqlite.Migration` functions tracked by ``PRAGMA
user_version`` (:func:`common.sqlite.migrate`), its PostgreSQL ones SQL scripts tracked in the
table ``kiosk_schema_versions`` (one row per schema, so several schemas can share one
PostgreSQL database). PostgreSQL migrations run in one transaction under an advisory lock: two
services starting at once migrate once, a failed migration changes nothing, and a database
made by a newer release is refused and left untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from central.db.connection import Database, _psycopg
from central.db.url import DatabaseUrl, parse_database_url
from common.errors import StoreError
from common.sqlite import Migration, open_central_db

log = logging.getLogger(__name__)

SCHEMA_LOCK = 0x6B696F736C
"""The advisory lock PostgreSQL migrations hold."""


@dataclass(frozen=True)
class Schema:
    """A database's schema: its ``name`` (the row in ``kiosk_schema_versions``), what the
    database is (for messages), and its migrations per dialect (N-th: version N-1 to N)."""

    name: str
    what: str
    sqlite: Sequence[Migration]
    postgresql: Sequence[str]


def open_database(location: str | Path | DatabaseUrl, schema: Schema) -> Database:
    """The database at ``location`` (an URL or a path), created if needed (an SQLite file; a
    PostgreSQL database must exist) and brought to ``schema``'s latest version. Errors are one
    line, :class:`StoreError` or :class:`~common.errors.ConfigError`."""
    url = location if isinstance(location, DatabaseUrl) else parse_database_url(location)
    database = Database(url, schema.what)
    if url.dialect == "sqlite":
        assert url.path is not None
        database.attach_sqlite(open_central_db(url.path, schema.sqlite, schema.what))
        return database
    try:
        _migrate_postgresql(database, schema)
    except BaseException:
        database.close()
        raise
    return database


def _migrate_postgresql(database: Database, schema: Schema) -> None:
    psycopg = _psycopg()
    latest = len(schema.postgresql)
    conn = database.connection()
    try:
        found = _version(conn, schema.name)
        if found == latest:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kiosk_schema_versions"
                " (schema TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            start = _version(conn, schema.name)
            _refuse_newer(database, schema, start)
            for number in range(start + 1, latest + 1):
                conn.execute(schema.postgresql[number - 1])
            conn.execute(
                "INSERT INTO kiosk_schema_versions (schema, version) VALUES (%s, %s)"
                " ON CONFLICT (schema) DO UPDATE SET version = excluded.version",
                (schema.name, latest),
            )
        if start < latest:
            log.info("%s: %s migrated from version %d to %d", database.name, schema.what,
                     start, latest)  # fmt: skip
    except psycopg.Error as exc:
        raise database.classify(exc) from None


def _version(conn: object, name: str) -> int:
    """The schema's version in ``kiosk_schema_versions`` (0 when it has no row yet)."""
    execute = conn.execute  # type: ignore[attr-defined]
    exists = execute("SELECT to_regclass('kiosk_schema_versions')").fetchone()[0]
    if exists is None:
        return 0
    row = execute("SELECT version FROM kiosk_schema_versions WHERE schema = %s", (name,)).fetchone()
    return 0 if row is None else int(row[0])


def _refuse_newer(database: Database, schema: Schema, version: int) -> None:
    latest = len(schema.postgresql)
    if version > latest:
        raise StoreError(
            f"{database.name}: this {schema.what} is at schema version {version}, newer than"
            f" the {latest} this program knows: upgrade the software (it was left untouched)"
        )
