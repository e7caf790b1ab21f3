"""SQLite as every database of ours opens it: errors as :class:`StoreError`, explicit
transactions.

Both sides use it (the kiosk's ``kiosk.db``, the central receiver's and enrollment tokens'
files); it imports nothing of ours but :mod:`common.errors`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common.errors import StoreCorruptError, StoreError, StoreFullError

_CORRUPT_MARKERS = ("file is not a database", "malformed", "corrupt")


def classify(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """Turn an sqlite3 error into the matching :class:`StoreError` with a readable message."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and "full" in text:
        return StoreFullError(f"{path}: disk full, new check-ins are refused until space returns")
    if any(marker in text for marker in _CORRUPT_MARKERS):
        return StoreCorruptError(f"{path}: database is damaged ({text})")
    return StoreError(f"{path}: database error: {text}")


def open_central_db(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """A central-side SQLite file (the receiver's, the enrollment tokens'), created if needed:
    WAL, ``synchronous = FULL``, autocommit (transactions are explicit: see
    :func:`immediate_transaction`), usable from any thread, ``schema`` applied. Errors are
    :class:`StoreError` naming the file (``what``: what it is, for the message)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(schema)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open the {what}: {exc}") from None
    except sqlite3.Error as exc:
        raise classify(exc, path) from None
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
