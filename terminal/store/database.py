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
from terminal.store.schema import LATEST, MIGRATIONS, register_person_ref
from terminal.store.seq_mark import SeqMark

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
        register_person_ref(conn)
        limit_size(conn, max_size_mb)
    except sqlite3.Error as exc:
        conn.close()
        raise classify(exc, path) from None
    except BaseException:
        conn.close()
        raise
    return sqlite_utils.Database(conn)


def _salvage_last_seq(damaged: Path) -> int:
    """The highest seq readable from a damaged database (0 when none can be read)."""
    try:
        conn = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT max(CAST(value AS INTEGER)) FROM meta WHERE key = 'last_seq'"
            ).fetchone()
            top = conn.execute("SELECT max(seq) FROM events").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return max(int(row[0] or 0), int(top[0] or 0))


def _last_seq(db: sqlite_utils.Database) -> int:
    (value,) = db.conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    return int(value)


def _continue_seq(db: sqlite_utils.Database, last_seq: int, moved: Path | None) -> None:
    with write_transaction(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'last_seq'", (str(last_seq),))
        if moved is not None:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('quarantined', ?)", (str(moved),)
            )


def open_or_quarantine(
    path: Path, max_size_mb: float | None = None
) -> tuple[sqlite_utils.Database, Path | None]:
    """Open the database; if it is damaged or empty, move it aside and start a new one.

    Returns the database and, when a file was quarantined, where it went. ``seq`` goes on
    after the highest one this terminal ever committed (:mod:`terminal.store.seq_mark`), so no
    sequence number is ever reused, whatever happened to the file: damaged, truncated to zero
    length, deleted or replaced by an older copy. Each of these is logged as CRITICAL.
    """
    mark = SeqMark(path).read()
    moved: Path | None = None
    lost = ""
    if mark and path.exists() and path.stat().st_size == 0:
        moved, lost = quarantine(path), "is empty (zero length)"
    elif mark and not path.exists():
        lost = "is missing"
    if moved is None:
        try:
            db = open_database(path, max_size_mb)
        except StoreCorruptError as exc:
            log.critical("%s", exc)
            moved, lost = quarantine(path), "is damaged"
    if moved is not None:
        db = open_database(path, max_size_mb)
        found = _salvage_last_seq(moved)
    else:
        found = _last_seq(db)
    # An intact file one below the mark only missed a commit that failed after the mark.
    if mark and mark > found + 1 and not lost:
        lost = f"holds seq only up to {found} (an older copy?)"
    if not lost:
        if mark is None or mark < found:
            _keep_mark(path, found)
        return db, None
    last_seq = max(found, mark or 0) or int(time.time() * 1000)  # ms: above any seq reached
    try:
        _continue_seq(db, last_seq, moved)
    except StoreError as exc:  # the next check-in goes on after the mark all the same
        log.error("%s", exc)
    _keep_mark(path, last_seq)
    log.critical(
        "%s %s: this terminal had committed seq %d; events of it not yet delivered are lost"
        " and the central side sees them as a gap; seq continues after %d%s",
        path,
        lost,
        last_seq,
        last_seq,
        "" if moved is None else f"; the file was moved to {moved} (kept for recovery)",
    )
    return db, moved


def _keep_mark(path: Path, last_seq: int) -> None:
    try:
        SeqMark(path).advance(last_seq)
    except StoreError as exc:
        log.warning("%s (tried again at the next check-in)", exc)


def write_transaction(db: sqlite_utils.Database) -> AbstractContextManager[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; sqlite errors become StoreErrors."""
    return immediate_transaction(db.conn, db_path(db))


def db_path(db: sqlite_utils.Database) -> str:
    """The file name behind a database connection (for messages)."""
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row else "<memory>"
