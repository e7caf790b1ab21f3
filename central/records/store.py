"""The HR records of the receiver's database: leave periods and check-in corrections.

:class:`RecordsStore` opens the receiver's database (an SQLite file or PostgreSQL, created and
migrated as :class:`~central.receiver.store.ReceiverStore` does) and keeps:

- **leave**: :meth:`put_leave` stores periods by ``leave_id`` in one transaction (a period
  imported again replaces the stored one, and is no longer cancelled); :meth:`cancel_leave`
  marks one cancelled (kept, with who and when); :meth:`leave_between` is what reports read;
- **corrections**: :meth:`add_correction` records an added or voided check-in after checking
  it against what is stored (a void must name a stored check-in, terminal's or added, not yet
  voided; voids of voids are refused); nothing is ever updated or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from central.db.migrations import open_database
from central.db.url import DatabaseUrl
from central.receiver.schema import RECEIVER_SCHEMA
from common.errors import RecordError, UnknownRecordError
from models.hr_records import CheckInCorrection, LeavePeriod, StoredCorrection, StoredLeave
from models.messages import format_rfc3339

_LEAVE_COLUMNS = (
    "leave_id, person_id, kind, start_at, end_at, note, approved_by, imported_at,"
    " cancelled_at, cancelled_by, whole_days"
)
_CORRECTION_COLUMNS = (
    "correction_id, action, reason, signed_off_by, recorded_at, person_id, captured_at,"
    " direction, schedule_ref, event_id"
)


def _time(value: datetime | None) -> str | None:
    return None if value is None else format_rfc3339(value)


def _leave(row: Sequence[Any]) -> StoredLeave:
    return StoredLeave(
        leave_id=row[0], person_id=row[1], kind=row[2], start=row[3], end=row[4], note=row[5],
        approved_by=row[6], imported_at=row[7], cancelled_at=row[8], cancelled_by=row[9],
        whole_days=bool(row[10]),
    )  # fmt: skip


def _correction(row: Sequence[Any]) -> StoredCorrection:
    return StoredCorrection(
        correction_id=row[0], action=row[1], reason=row[2], signed_off_by=row[3],
        recorded_at=row[4], person_id=row[5], captured_at=row[6], direction=row[7],
        schedule_ref=row[8], event_id=row[9],
    )  # fmt: skip


class RecordsStore:
    """Leave and corrections in the receiver database at ``location`` (a database URL or an
    SQLite file's path)."""

    def __init__(self, location: str | Path | DatabaseUrl) -> None:
        self._db = open_database(location, RECEIVER_SCHEMA)

    @property
    def name(self) -> str:
        """The database in messages (never with a password)."""
        return self._db.name

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    # -- leave -----------------------------------------------------------------------------------

    def put_leave(self, periods: Iterable[LeavePeriod]) -> tuple[int, int]:
        """Store ``periods`` in one transaction: (new, replaced). A ``leave_id`` given twice
        is refused (:class:`RecordError`) and nothing is stored."""
        wanted = list(periods)
        ids = [p.leave_id for p in wanted]
        if len(ids) != len(set(ids)):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise RecordError(f"leave id(s) given twice: {', '.join(twice[:5])}")
        now = format_rfc3339(datetime.now(UTC))
        new = replaced = 0
        with self._db.transaction() as db:
            for p in wanted:
                found = db.execute(
                    "SELECT 1 FROM leave_periods WHERE leave_id = ?", (p.leave_id,)
                ).fetchone()
                values = (p.person_id, p.kind, _time(p.start), _time(p.end), p.note,
                          p.approved_by, now, int(p.whole_days))  # fmt: skip
                if found:
                    replaced += 1
                    db.execute(
                        "UPDATE leave_periods SET person_id = ?, kind = ?, start_at = ?,"
                        " end_at = ?, note = ?, approved_by = ?, imported_at = ?, whole_days = ?,"
                        " cancelled_at = NULL, cancelled_by = '' WHERE leave_id = ?",
                        (*values, p.leave_id),
                    )
                else:
                    new += 1
                    db.execute(
                        "INSERT INTO leave_periods (leave_id, person_id, kind, start_at, end_at,"
                        " note, approved_by, imported_at, whole_days)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (p.leave_id, *values),
                    )
        return new, replaced

    def cancel_leave(self, leave_id: str, cancelled_by: str) -> StoredLeave:
        """Mark ``leave_id`` cancelled (it stops counting; the row is kept);
        :class:`UnknownRecordError` if there is no such leave, :class:`RecordError` if it is
        already cancelled."""
        now = format_rfc3339(datetime.now(UTC))
        with self._db.transaction() as db:
            row = db.execute(
                f"SELECT {_LEAVE_COLUMNS} FROM leave_periods WHERE leave_id = ?", (leave_id,)
            ).fetchone()
            if row is None:
                raise UnknownRecordError(f"no leave {leave_id!r} in {self.name}")
            if row[8] is not None:
                raise RecordError(f"leave {leave_id!r} was already cancelled at {row[8]}")
            db.execute(
                "UPDATE leave_periods SET cancelled_at = ?, cancelled_by = ? WHERE leave_id = ?",
                (now, cancelled_by, leave_id),
            )
        return _leave((*row[:8], now, cancelled_by, row[10]))

    def leave_between(
        self, start: datetime, end: datetime, include_cancelled: bool = False
    ) -> list[StoredLeave]:
        """The leave periods meeting ``[start, end)``, by start then id (cancelled ones only
        when asked)."""
        cancelled = "" if include_cancelled else " AND cancelled_at IS NULL"
        rows = self._db.query(
            f"SELECT {_LEAVE_COLUMNS} FROM leave_periods WHERE start_at < ? AND end_at > ?"
            f"{cancelled} ORDER BY start_at, leave_id",
            (format_rfc3339(end), format_rfc3339(start)),
        )
        return [_leave(row) for row in rows]

    # -- corrections -----------------------------------------------------------------------------

    def add_correction(self, correction: CheckInCorrection) -> StoredCorrection:
        """Record ``correction`` and return it with its id; a void is checked first
        (:class:`RecordError`: no such check-in, a void, or already voided)."""
        correction_id = uuid4()
        now = datetime.now(UTC)
        with self._db.transaction() as db:
            if correction.event_id is not None:
                self._check_void(db, str(correction.event_id))
            db.execute(
                f"INSERT INTO corrections ({_CORRECTION_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(correction_id), correction.action, correction.reason,
                    correction.signed_off_by, format_rfc3339(now), correction.person_id,
                    _time(correction.captured_at),
                    None if correction.direction is None else correction.direction.value,
                    correction.schedule_ref,
                    None if correction.event_id is None else str(correction.event_id),
                ),
            )  # fmt: skip
        return StoredCorrection(
            **correction.model_dump(), correction_id=correction_id, recorded_at=now
        )

    @staticmethod
    def _check_void(db: Any, event_id: str) -> None:
        voided = db.execute(
            "SELECT correction_id, recorded_at FROM corrections WHERE event_id = ?", (event_id,)
        ).fetchone()
        if voided is not None:
            raise RecordError(
                f"check-in {event_id} was already voided (correction {voided[0]}, {voided[1]})"
            )
        if db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone():
            return
        target = db.execute(
            "SELECT action FROM corrections WHERE correction_id = ?", (event_id,)
        ).fetchone()
        if target is None:
            raise UnknownRecordError(
                f"no check-in {event_id} is stored (nor added by a correction)"
            )
        if target[0] != "add":
            raise RecordError(f"{event_id} is a void, not a check-in: it cannot be voided")

    def corrections(self) -> list[StoredCorrection]:
        """Every correction, in the order recorded."""
        rows = self._db.query(
            f"SELECT {_CORRECTION_COLUMNS} FROM corrections ORDER BY recorded_at, correction_id"
        )
        return [_correction(row) for row in rows]

    def corrections_between(self, start: datetime, end: datetime) -> list[StoredCorrection]:
        """The check-ins added for ``[start, end)`` and every void (a void is of any time)."""
        rows = self._db.query(
            f"SELECT {_CORRECTION_COLUMNS} FROM corrections WHERE action = 'void'"
            " OR (captured_at >= ? AND captured_at < ?) ORDER BY recorded_at, correction_id",
            (format_rfc3339(start), format_rfc3339(end)),
        )
        return [_correction(row) for row in rows]

    def correction(self, correction_id: UUID) -> StoredCorrection | None:
        """One correction by id, or None."""
        rows = self._db.query(
            f"SELECT {_CORRECTION_COLUMNS} FROM corrections WHERE correction_id = ?",
            (str(correction_id),),
        )
        return _correction(rows[0]) if rows else None
