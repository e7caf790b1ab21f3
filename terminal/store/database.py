"""Opening the terminal's SQLite database: durability settings, schema, damage handling.

One file (``kiosk.db``) holds the outbox of check-ins and the enrolled people. Every thread
opens its own connection with :func:`open_database`. Writes are durable when they return:
WAL journal with ``synchronous=FULL``.

The schema is made on open by the numbered migrations of :mod:`terminal.store.schema`, which
also bring a database made by an earlier release up to date (tables and columns added, never
dropped), so an upgraded kiosk keeps its outbox. Once open, every table exists.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path

import sqlite_utils

from common.errors import StoreCorruptError, StoreError
from common.sqlite import classify, immediate_transaction, migrate, refuse_newer
from terminal.store.disk_room import DiskRoom, configure_wal
from terminal.store.schema import LATEST, MIGRATIONS

log = logging.getLogger(__name__)

_WHAT = "kiosk database"
SCHEMA_USER_VERSION = LATEST
"""The schema version this release makes (see :mod:`terminal.store.schema`)."""
BUSY_TIMEOUT_MS = 10_000


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _configure(conn: sqlite3.Connection) -> None:
    """The connection's settings; on a file already in WAL mode none of them writes."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted people, templates and purged events are overwritten, not just unlinked.
    conn.execute("PRAGMA secure_delete = ON")
    configure_wal(conn)


def quarantine(path: Path) -> Path:
    """Move a damaged database (and its WAL/SHM files) aside; return where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(path) + suffix)
        if source.exists():
            source.rename(Path(str(target) + suffix))
    return target


def limit_size(conn: sqlite3.Connection, max_size_mb: float | None) -> None:
    """Cap what this connection may grow the database to (``PRAGMA max_page_count``).

    A write past the cap fails as "database or disk is full", like a full disk. SQLite keeps
    the cap at least at the current size, so a smaller cap never damages a larger file.
    """
    if max_size_mb is None:
        return
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.execute(f"PRAGMA max_page_count = {max(1, int(max_size_mb * 2**20 // page_size))}")


def open_database(path: Path, max_size_mb: float | None = None) -> sqlite_utils.Database:
    """Open (creating if needed) the terminal database at ``path``, at most ``max_size_mb``.

    The schema is brought up to date (:mod:`terminal.store.schema`); an up-to-date file is only
    read. On a full disk, where even the WAL's index cannot be made, the kiosk's ballast is
    released and the file opened again (:mod:`terminal.store.disk_room`). A file that is not a
    database or fails SQLite's quick check raises :class:`StoreCorruptError`; one made by a
    newer release (a schema version this one does not know) raises :class:`StoreError`.
    Neither is changed.
    """
    try:
        return _open(path, max_size_mb)
    except StoreCorruptError:
        raise
    except StoreError:
        if not DiskRoom(path, 0).release_ballast():
            raise
    return _open(path, max_size_mb)


def _open(path: Path, max_size_mb: float | None) -> sqlite_utils.Database:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path.parent}: cannot create data directory: {exc.strerror}") from None
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise classify(exc, path) from None
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise StoreCorruptError(f"{path}: database failed its integrity check ({check})")
        refuse_newer(conn, path, LATEST, _WHAT)  # before WAL: a newer file is not touched
        _configure(conn)
        migrate(conn, path, MIGRATIONS, _WHAT)
        limit_size(conn, max_size_mb)
    except sqlite3.Error as exc:
        conn.close()
        raise classify(exc, path) from None
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def _salvage_last_seq(damaged: Path) -> int:
    """The highest seq readable from a damaged database, or a time-based floor.

    The floor (milliseconds since the epoch) is above any seq a terminal can have reached, so
    seq stays strictly increasing and the central side sees a gap, which is the truth: events
    may be stranded in the damaged file.
    """
    floor = int(time.time() * 1000)
    try:
        conn = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT max(CAST(value AS INTEGER)) FROM meta WHERE key = 'last_seq'"
            ).fetchone()
            top = conn.execute("SELECT max(seq) FROM events").fetchone()
        finally:
            conn.close()
        found = max(int(row[0] or 0), int(top[0] or 0))
    except sqlite3.Error:
        return floor
    return found if found > 0 else floor


def open_or_quarantine(
    path: Path, max_size_mb: float | None = None
) -> tuple[sqlite_utils.Database, Path | None]:
    """Open the database; if it is damaged, move it aside and start a new one.

    Returns the database and, when a damaged file was quarantined, where it went. The new
    database continues ``seq`` after the damaged one, so no sequence number is ever reused.
    """
    try:
        return open_database(path, max_size_mb), None
    except StoreCorruptError as exc:
        log.critical("%s", exc)
    moved = quarantine(path)
    last_seq = _salvage_last_seq(moved)
    db = open_database(path, max_size_mb)
    with write_transaction(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(last_seq),))
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('quarantined', ?)", (str(moved),)
        )
    log.critical(
        "damaged database moved to %s (kept for recovery, never deleted); started a new one,"
        " seq continues after %d",
        moved,
        last_seq,
    )
    return db, moved


def write_transaction(db: sqlite_utils.Database) -> AbstractContextManager[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; sqlite errors become StoreErrors."""
    return immediate_transaction(db.conn, db_path(db))


def db_path(db: sqlite_utils.Database) -> str:
    """The file name behind a database connection (for messages)."""
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "<memory>"
