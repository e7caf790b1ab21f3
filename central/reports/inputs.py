"""What ``kiosk report`` and ``kiosk alerts`` read besides the schedule: the receiver database.

Every problem is a :class:`~common.errors.KioskError` with one line naming the file and what
is wrong with it (for a schedule, the number of problems and the first one), so the CLI prints
it and exits 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from central.db.url import parse_database_url
from central.receiver.store import ReceiverStore
from central.records.store import RecordsStore
from central.reports.adjustments import Adjustments
from central.reports.common import CheckIn
from common.errors import KioskError
from common.progress import counted, progress_wanted
from models.messages import CheckInEvent

EVENTS_FROM = datetime(2000, 1, 1, tzinfo=UTC)
"""Earliest capture time read when all events are wanted."""


def _is_kiosk_database(path: Path) -> bool:
    """Whether the SQLite file at ``path`` is a kiosk's own ``kiosk.db`` (its face
    ``templates`` table, or ``events`` with a delivery ``state`` and no ``terminal_id``), looked
    at read-only so nothing is changed; False when it cannot be read (the receiver store then
    says why)."""
    import sqlite3

    in_use = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = path.absolute().as_uri() + ("?mode=ro" if in_use else "?mode=ro&immutable=1")
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=5.0)
    except sqlite3.Error:
        return False
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "templates" in tables:
            return True
        columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
        return "state" in columns and "terminal_id" not in columns
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def open_store(location: str | Path) -> ReceiverStore:
    """The existing receiver database at ``location`` (a database URL or an SQLite file's
    path; a report never creates an SQLite file). A kiosk's own ``kiosk.db`` is refused before
    it is opened (opening would migrate it as a receiver database)."""
    url = parse_database_url(location)
    if url.dialect == "sqlite" and not (url.path and url.path.is_file()):
        raise KioskError(f"{url}: no such receiver database (run kiosk receive --db first)")
    if url.dialect == "sqlite" and url.path is not None and _is_kiosk_database(url.path):
        raise KioskError(
            f"{url.path} is a kiosk's own database (kiosk.db); reports read the central"
            " database that `kiosk receive --db` writes"
        )
    return ReceiverStore(url)


def load_events(
    db_path: str | Path, start: datetime = EVENTS_FROM, end: datetime | None = None
) -> list[CheckInEvent]:
    """The events of the receiver database captured in ``[start, end)`` (default: all)."""
    store = open_store(db_path)
    try:
        return store.events_between(start, end or datetime.now(UTC) + timedelta(days=366))
    finally:
        store.close()


EVENT_CHUNK = 5000
"""Rows a streamed report reads from the database at a time."""


@contextmanager
def streamed_events(
    location: str | Path, start: datetime, end: datetime, chunk_size: int = EVENT_CHUNK
) -> Iterator[Iterator[CheckIn]]:
    """The events of the receiver database at ``location`` captured in ``[start, end)``, in
    report order (capture time, terminal, seq), read ``chunk_size`` at a time, counted on a
    progress bar when standard error is a terminal; the database is closed when the block
    ends."""
    store = open_store(location)
    try:
        events: Iterator[CheckIn] = store.iter_check_ins(start, end, chunk_size)
        if progress_wanted():
            total = store.count_between(start, end)
            events = counted(events, "check-ins read", total, unit=" check-ins")
        yield events
    finally:
        store.close()


def read_adjustments(location: str | Path, start: datetime, end: datetime) -> Adjustments:
    """The leave and corrections of ``[start, end)`` in the receiver database at ``location``
    (which must exist, as for :func:`open_store`)."""
    open_store(location).close()
    records = RecordsStore(location)
    try:
        return Adjustments.read(records, start, end)
    finally:
        records.close()


def parse_day(value: str, option: str) -> date:
    """``YYYY-MM-DD`` as a date; a one-line error naming ``option`` otherwise."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise KioskError(f"{option} {value!r}: not a date, use YYYY-MM-DD") from None
