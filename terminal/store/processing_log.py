"""The face processing log: an append-only account of what the kiosk did with face data.

The Face Recognition Technology Application Security Management Measures and PIPL article 56
ask the processor to keep records of the processing for its impact assessment. Each row says
when, what and whose (by a keyed hash of the person's id, ``person_ref``: see
:func:`terminal.store.schema.register_person_ref`), never a face or a template:

- ``consent_recorded``: a person's consent was recorded or changed (``detail``: scope, the day
  given, who recorded it, and where from: ``roster``, ``enroll`` or ``code``);
- ``template_created``: ``templates`` face templates were stored (``detail``: ``local`` photos
  or camera, or ``roster``);
- ``template_used``: a face check-in matched the person's templates (``detail``: its event id);
- ``template_deleted``: ``templates`` templates were deleted (``detail``: why).

Every row is written in the transaction that made the change, so the log and the data cannot
disagree. A trigger refuses any ``UPDATE`` of the table; rows are deleted only by
:func:`prune`, once older than ``[privacy] processing_log_days`` (at least three years).
``kiosk privacy log`` exports it: ``template_used`` rows are given as counts per person and
day (:func:`export_rows`).
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

Action = Literal["consent_recorded", "template_created", "template_used", "template_deleted"]
ACTIONS: tuple[Action, ...] = (
    "consent_recorded",
    "template_created",
    "template_used",
    "template_deleted",
)
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
        " FROM processing_log WHERE action != 'template_used' AND at >= :low AND at < :high"
        " UNION ALL SELECT max(seq), substr(at, 1, 10), action, person_ref, 0, count(*), '',"
        " substr(at, 1, 10), 1 FROM processing_log"
        " WHERE action = 'template_used' AND at >= :low AND at < :high"
        " GROUP BY substr(at, 1, 10), person_ref ORDER BY 8, 9, 1"
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
    """How many rows of each action the log holds (for ``kiosk doctor`` and tests)."""
    try:
        rows = db.conn.execute(
            "SELECT action, count(*) FROM processing_log GROUP BY action"
        ).fetchall()
    except sqlite3.Error as exc:
        raise classify(exc, db_path(db)) from None
    found = {str(action): int(n) for action, n in rows}
    return {action: found.get(action, 0) for action in ACTIONS}


def prune(
    db: sqlite_utils.Database, keep_days: int, now: datetime | None = None,
    limit: int = PRUNE_CHUNK,
) -> int:  # fmt: skip
    """Delete at most ``limit`` rows older than ``keep_days``; return how many."""
    cutoff = format_rfc3339((now or datetime.now(UTC)) - timedelta(days=keep_days))
    with write_transaction(db) as conn:
        return conn.execute(
            "DELETE FROM processing_log WHERE seq IN (SELECT seq FROM processing_log"
            " WHERE at < ? ORDER BY seq LIMIT ?)",
            (cutoff, limit),
        ).rowcount
