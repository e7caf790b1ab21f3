"""One connection to a central database, SQLite or PostgreSQL, with their differences in one place.

Callers write SQL once, with ``?`` placeholders and what both dialects accept (``INSERT ... ON
CONFLICT``, ``count(*) FILTER (WHERE ...)``, ``SAVEPOINT``); for PostgreSQL the placeholders
become psycopg's ``%s``. What differs:

- :meth:`Database.transaction`: SQLite's ``BEGIN IMMEDIATE`` (one writer at a time); on
  PostgreSQL a transaction that first takes one advisory lock of the database, so writers commit
  one after the other and ids from a sequence are committed in increasing order: a reader
  asking for "ids after N" never misses one committed late (the HR API's cursor).
- :meth:`Database.stream`: rows read ``chunk_size`` at a time (``fetchmany``; on PostgreSQL a
  server-side cursor), so a report over a year holds one chunk, not the year.
- errors become :class:`~common.errors.StoreError` naming the database (never its password);
  inside a transaction the driver's own errors are raised as they are, so a caller can roll one
  row back to a savepoint (:attr:`Database.row_errors`) and go on.
- a PostgreSQL connection that broke (the server restarted) is made again on next use.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from central.db.url import DatabaseUrl
from common.errors import StoreCorruptError, StoreError, StoreFullError
from common.sqlite import classify as classify_sqlite
from common.sqlite import immediate_transaction

WRITE_LOCK = 0x6B696F736B
"""The PostgreSQL advisory lock every write transaction holds (b"kiosk" as a number)."""

_SQLITE_ROW_ERRORS: tuple[type[Exception], ...] = (
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
)


class Cursor(Protocol):
    """What :meth:`Database.execute` returns (a DB-API cursor of either driver)."""

    @property
    def rowcount(self) -> int:
        """Rows the statement changed."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""


def _psycopg() -> Any:
    import psycopg  # the [central] extra; imported only for a postgresql:// URL

    return psycopg


class Database:
    """One connection to the database at ``url``; ``what`` names it in messages. Open with
    :func:`central.db.migrations.open_database`, which also brings its schema up to date."""

    def __init__(self, url: DatabaseUrl, what: str) -> None:
        self.url = url
        self.what = what
        self.dialect = url.dialect
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._sql: dict[str, str] = {}
        self.row_errors: tuple[type[Exception], ...] = _SQLITE_ROW_ERRORS
        self._database_errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        if self.dialect == "postgresql":
            psycopg = _psycopg()
            self.row_errors = (psycopg.DataError, psycopg.IntegrityError)
            self._database_errors = (sqlite3.Error, psycopg.Error)

    @property
    def name(self) -> str:
        """The database in messages (a path, or a URL without its password)."""
        return str(self.url)

    # -- connections -------------------------------------------------------------------------

    def attach_sqlite(self, conn: sqlite3.Connection) -> None:
        """Use ``conn`` (opened and migrated by :func:`common.sqlite.open_central_db`)."""
        self._sqlite = conn

    def connection(self) -> Any:
        """The driver's connection (PostgreSQL: made again if it broke)."""
        if self._sqlite is not None:
            return self._sqlite
        if self._pg is None or self._pg.closed or self._pg.broken:
            psycopg = _psycopg()
            try:
                self._pg = psycopg.connect(self.url.conninfo, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise StoreError(
                    f"{self.name}: cannot connect to the {self.what}: {_first(exc)}"
                ) from None
        return self._pg

    def close(self) -> None:
        """Close the connection."""
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()

    # -- statements ----------------------------------------------------------------------------

    def sql(self, text: str) -> str:
        """``text`` in this dialect's placeholder style."""
        if self.dialect == "sqlite":
            return text
        converted = self._sql.get(text)
        if converted is None:
            converted = self._sql[text] = text.replace("%", "%%").replace("?", "%s")
        return converted

    def execute(self, text: str, params: Sequence[object] = ()) -> Cursor:
        """Run one statement; the driver's errors are raised as they are (for use inside
        :meth:`transaction`, which turns the ones the caller does not handle into
        :class:`StoreError`)."""
        cursor: Cursor = self.connection().execute(self.sql(text), params)
        return cursor

    def query(self, text: str, params: Sequence[object] = ()) -> list[Any]:
        """Every row of a query; errors as :class:`StoreError`."""
        try:
            return list(self.connection().execute(self.sql(text), params).fetchall())
        except self._database_errors as exc:
            raise self.classify(exc) from None

    def stream(
        self, text: str, params: Sequence[object] = (), chunk_size: int = 5000
    ) -> Iterator[Any]:
        """The rows of a query, fetched ``chunk_size`` at a time; errors as
        :class:`StoreError`."""
        try:
            if self.dialect == "sqlite":
                cursor = self.connection().execute(text, params)
                while rows := cursor.fetchmany(chunk_size):
                    yield from rows
                return
            conn = self.connection()
            with conn.transaction(), conn.cursor(name="kiosk_stream") as cursor:
                cursor.itersize = chunk_size
                cursor.execute(self.sql(text), params)
                yield from cursor
        except self._database_errors as exc:
            raise self.classify(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """One write transaction, committed on return and rolled back on error (the error as
        :class:`StoreError` if it came from the database). Durable when it returns."""
        if self._sqlite is not None:
            with immediate_transaction(self._sqlite, self.name):
                yield self
            return
        conn = self.connection()
        psycopg = _psycopg()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                yield self
        except psycopg.Error as exc:
            raise self.classify(exc) from None

    # -- errors ----------------------------------------------------------------------------------

    def classify(self, exc: Exception) -> StoreError:
        """The :class:`StoreError` for a driver error, naming this database."""
        if isinstance(exc, sqlite3.Error):
            return classify_sqlite(exc, self.name)
        errors = _psycopg().errors
        text = _first(exc)
        if isinstance(exc, errors.DiskFull):
            return StoreFullError(f"{self.name}: the database server's disk is full ({text})")
        if isinstance(exc, errors.DataCorrupted | errors.IndexCorrupted):
            return StoreCorruptError(f"{self.name}: database is damaged ({text})")
        return StoreError(f"{self.name}: database error: {text}")


def _first(exc: Exception) -> str:
    """The first line of a driver's message (libpq's run over several)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
