"""The face processing log: an append-only account of what the kiosk did with face data.

The Face Recognition Technology Application Security Management Measures and PIPL article 56
ask the processor to keep records of the processing for its impact assessment. Each row says
when, what and whose (by a keyed hash of the person's id, ``person_ref``: see
:func:`terminal.store.schema.register_person_ref`), never a face or a template:

- ``consent_recorded``: a person's consent was recorded or changed (``detail``: scope, the day
  given, who recorded it, and where from: ``roster``, ``enroll`` or ``code``);
- ``template_created``: ``templates`` face templates were stored (``detail``: ``local`` photos
  or camera, or ``roster``);
- ``template_deleted``: ``templates`` templates were deleted (``detail``: why).

Face check-ins (``template_used``) are counted, not listed: one row per person and UTC day in
``face_uses`` (:func:`count_use`), so three years of a 2,000-person site stay a few tens of MB
in ``kiosk.db`` rather than one row per check-in.

Every row is written in the transaction that made the change, so the log and the data cannot
disagree. A trigger refuses any ``UPDATE`` of ``processing_log``; rows of both tables are
deleted only by :func:`prune`, once older than ``[privacy] processing_log_days`` (at least
three years). ``kiosk privacy log`` exports both (:func:`export_rows`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlite_utils

from common.sqlite import classify
from models.messages import format_rfc3339
from terminal.store.database import db_path, write_transaction

Action = Literal["consent_recorded", "template_created", "template_deleted"]
ACTIONS: tuple[str, ...] = (
    "consent_recorded",
    "template_created",
    "template_used",
    "template_deleted",
)
"""Every action an export shows (``template_used``: the day's count from ``face_uses``)."""
PRUNE_CHUNK = 5_000


def record(
    conn: sqlite3.Connection,
    action: Action,
    person_id: str,
    templates: int = 0,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Append one row, inside the caller's open transaction (the one making the change)."""
    when = format_rfc3339(at or datetime.now(UTC))
    conn.execute(
        "INSERT INTO processing_log (at, action, person_ref, templates, detail)"
        " VALUES (?, ?, person_ref(?), ?, ?)",
        (when, action, person_id, templates, detail),
    )


def count_use(conn: sqlite3.Connection, person_id: str, at: datetime | None = None) -> None:
    """Count one face check-in of ``person_id`` on its UTC day, in the caller's transaction
    (the check-in's)."""
    day = (at or datetime.now(UTC)).astimezone(UTC).date().isoformat()
    conn.execute(
        "INSERT INTO face_uses (day, person_ref, uses) VALUES (?, person_ref(?), 1)"
        " ON CONFLICT (day, person_ref) DO UPDATE SET uses = uses + 1",
        (day, person_id),
    )


@dataclass(frozen=True)
class LogRow:
    """One exported row: a logged step, or (``template_used``) a day's count for a person."""

    at: str
    """The step's time (RFC 3339 UTC); for a count, the day (``YYYY-MM-DD``, UTC)."""
    action: str
    person_id: str
    """The person's id while they are enrolled here; empty once removed."""
    person_ref: str
    templates: int
    uses: int
    """``template_used``: face check-ins that day; else 0."""
    detail: str


EXPORT_COLUMNS = ("at", "action", "person_id", "person_ref", "templates", "uses", "detail")


def export_rows(
    db: sqlite_utils.Database, since: datetime | None = None, until: datetime | None = None
) -> Iterator[LogRow]:
    """The log from ``since`` to before ``until`` (UTC), oldest first; each person's
    ``template_used`` rows folded into one count per UTC day (no event ids)."""
    low = format_rfc3339(since) if since else ""
    high = format_rfc3339(until) if until else "9999"
    sql = (  # by day: the day's steps in order, then its counts
        "SELECT seq, at, action, person_ref, templates, 0, detail, substr(at, 1, 10), 0"
        " FROM processing_log WHERE at >= :low AND at < :high"
        " UNION ALL SELECT 0, day, 'template_used', person_ref, 0, uses, '', day, 1"
        " FROM face_uses WHERE day >= substr(:low, 1, 10) AND day < substr(:high, 1, 10)"
        " ORDER BY 8, 9, 1, 4"
    )
    try:
        enrolled = dict(
            db.conn.execute("SELECT person_ref(person_id), person_id FROM people").fetchall()
        )
        cursor = db.conn.execute(sql, {"low": low, "high": high})
        for row in cursor:
            whose = str(enrolled.get(row[3], ""))
            yield LogRow(str(row[1]), str(row[2]), whose, str(row[3]), int(row[4]), int(row[5]),
                         str(row[6]))  # fmt: skip
    except sqlite3.Error as exc:
        raise classify(exc, db_path(db)) from None


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    """How many rows of each action the log holds, and how many face check-ins it counted
    (``template_used``)."""
    try:
        rows = db.conn.execute(
            "SELECT action, count(*) FROM processing_log GROUP BY action"
            " UNION ALL SELECT 'template_used', coalesce(sum(uses), 0) FROM face_uses"
        ).fetchall()
    except sqlite3.Error as exc:
        raise classify(exc, db_path(db)) from None
    found = {str(action): int(n) for action, n in rows}
    return {action: found.get(action, 0) for action in ACTIONS}


def prune(
    db: sqlite_utils.Database, keep_days: int, now: datetime | None = None,
    limit: int = PRUNE_CHUNK,
) -> int:  # fmt: skip
    """Delete at most ``limit`` rows (of each table) older than ``keep_days``; return how
    many."""
    cutoff = format_rfc3339((now or datetime.now(UTC)) - timedelta(days=keep_days))
    with write_transaction(db) as conn:
        steps = conn.execute(
            "DELETE FROM processing_log WHERE seq IN (SELECT seq FROM processing_log"
            " WHERE at < ? ORDER BY seq LIMIT ?)",
            (cutoff, limit),
        ).rowcount
        counts = conn.execute(
            "DELETE FROM face_uses WHERE (day, person_ref) IN (SELECT day, person_ref"
            " FROM face_uses WHERE day < ? ORDER BY day LIMIT ?)",
            (cutoff[:10], limit),
        ).rowcount
        return int(steps) + int(counts)
