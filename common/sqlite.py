"""SQLite as every database of ours opens it: errors as :class:`StoreError`, explicit
transactions, and the runner of numbered schema migrations.

Both sides use it (the kiosk's ``kiosk.db``, the central receiver's and enrollment tokens'
files); it imports nothing of ours but :mod:`common.errors`.

Each database has one module that owns its schema: an ordered list of :data:`Migration`
functions, the N-th taking a file at ``PRAGMA user_version`` N-1 to N
(:mod:`terminal.store.schema`, :mod:`central.receiver.schema`,
:mod:`central.onboarding.token_schema`). :func:`migrate` applies the missing ones at open, all in
one transaction; a file already at the latest version is only read, so it opens on a full disk.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from common.errors import StoreCorruptError, StoreError, StoreFullError

log = logging.getLogger(__name__)

_CORRUPT_MARKERS = ("file is not a database", "malformed", "corrupt")

Migration = Callable[[sqlite3.Connection], None]
"""One step of a schema: takes a database from ``user_version`` N-1 to N. It runs inside the
transaction :func:`migrate` holds, so it must not commit (no ``executescript``: see
:func:`execute_script`) and must not set ``user_version`` itself."""


def classify(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """Turn an sqlite3 error into the matching :class:`StoreError` with a readable message."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "full" in text:
        return StoreFullError(f"{path}: disk full, new check-ins are refused until space returns")
    if any(marker in text for marker in _CORRUPT_MARKERS):
        return StoreCorruptError(f"{path}: database is damaged ({text})")
    return StoreError(f"{path}: database error: {text}")


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (``PRAGMA user_version``; 0 in a new file)."""
    rows = conn.execute("PRAGMA user_version").fetchall()
    return int(rows[0][0])


def refuse_newer(conn: sqlite3.Connection, path: Path | str, latest: int, what: str) -> int:
    """The file's schema version; :class:`StoreError` if it is above ``latest`` (made by a newer
    release of this software, whose schema this one does not know). Reads only."""
    version = user_version(conn)
    if version > latest:
        raise StoreError(
            f"{path}: this {what} is at schema version {version}, newer than the {latest} this"
            " program knows: upgrade the software (the file was left untouched)"
        )
    return version


def migrate(
    conn: sqlite3.Connection, path: Path | str, migrations: Sequence[Migration], what: str
) -> int:
    """Bring the database on ``conn`` (autocommit mode) to version ``len(migrations)``.

    A file at that version is only read: nothing is written. An older one gets every missing
    migration and its new ``user_version`` in ONE ``BEGIN IMMEDIATE`` transaction, in which the
    version is read again, so two processes opening the same old file at once migrate it once
    (the second waits for the first's lock, then finds nothing to do). A newer one is refused
    (see :func:`refuse_newer`) and left untouched. Errors are :class:`StoreError` naming
    ``path``; a failed migration leaves the file as it was. Returns the version the file had.
    """
    latest = len(migrations)
    try:
        found = refuse_newer(conn, path, latest, what)
    except sqlite3.Error as exc:
        raise classify(exc, path) from None
    if found == latest:
        return found
    # A new, empty file is created, not migrated: worth a log line only when debugging (the
    # commands say where their database is); a file with tables is an upgrade, worth one.
    try:
        empty = found == 0 and not conn.execute("SELECT 1 FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise classify(exc, path) from None
    report = log.debug if empty else log.info
    report("%s: %s at schema version %d, migrating to %d", path, what, found, latest)
    with immediate_transaction(conn, path):
        start = refuse_newer(conn, path, latest, what)
        for number in range(start + 1, latest + 1):
            migrations[number - 1](conn)
        if start < latest:
            conn.execute(f"PRAGMA user_version = {latest}")
    if start < latest:
        report("%s: %s migrated from schema version %d to %d", path, what, start, latest)
    else:
        report("%s: %s already migrated to version %d by another process", path, what, latest)
    return found


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` on ``conn`` in the caller's transaction.

    :meth:`sqlite3.Connection.executescript` commits any open transaction first; this keeps a
    migration's statements inside :func:`migrate`'s transaction.
    """
    pending = ""
    for part in script.split(";")[:-1]:
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            conn.execute(pending)
            pending = ""
    rest = pending + script.split(";")[-1]
    if rest.strip():
        raise ValueError(f"SQL script does not end with a complete statement: {rest.strip()!r}")


def add_missing_columns(
    conn: sqlite3.Connection, table: str, columns: Sequence[tuple[str, str]]
) -> None:
    """``ALTER TABLE table ADD COLUMN`` each (name, declaration) the table does not have yet, in
    order (for field files that may or may not have them)."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})").fetchall()}
    for name, declaration in columns:
        if name not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")


def open_central_db(path: Path, migrations: Sequence[Migration], what: str) -> sqlite3.Connection:
    """A central-side SQLite file (the receiver's, the enrollment tokens'), created if needed:
    WAL, ``synchronous = FULL``, autocommit (transactions are explicit: see
    :func:`immediate_transaction`), usable from any thread, brought to the latest of
    ``migrations`` (see :func:`migrate`; an up-to-date file is only read). Errors are
    :class:`StoreError` naming the file (``what``: what it is, for the messages)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the {what}: {exc}") from None
    except sqlite3.Error as exc:
        raise classify(exc, path) from None
    try:
        refuse_newer(conn, path, len(migrations), what)  # before WAL: a newer file is not touched
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn, path, migrations, what)
    except sqlite3.Error as exc:
        conn.close()
        raise classify(exc, path) from None
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def immediate_transaction(
    conn: sqlite3.Connection, path: str | Path
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on a plain connection, rolled back on error; sqlite errors
    become StoreErrors naming ``path``."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise classify(exc, str(path)) from None
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise classify(exc, str(path)) from None
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
