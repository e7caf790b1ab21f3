"""What the central side is told about faces enrolled at this kiosk: that a person is enrolled
here (and how many templates), or no longer is; never a template.

A person enrolled at the kiosk (from a signed enrollment code, or ``kiosk enroll``) gets a row
in ``enrollment_notices`` (state ``enrolled``), in the transaction that stores their templates.
When those templates go (person removed, consent withdrawn), the row turns ``removed``, or is
deleted at once if the central side was never told of the enrollment (``announced = 0``). Rows
with ``published = 0`` are waiting for the sync to publish them; an ``enrolled`` row is kept,
marked published and announced, and a ``removed`` row is deleted once published, so nothing of
a removed person stays once the central side has been told.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from models.messages import format_rfc3339


@dataclass(frozen=True)
class EnrollmentNotice:
    """One notice waiting to be published."""

    person_id: str
    state: str
    templates: int
    at: str


def note_enrolled(conn: sqlite3.Connection, person_id: str) -> None:
    """In the open transaction: ``person_id`` has templates made here (counted now)."""
    conn.execute(
        "INSERT INTO enrollment_notices (person_id, state, templates, at, published)"
        " SELECT :p, 'enrolled', count(*), :at, 0 FROM templates"
        " WHERE person_id = :p AND origin = 'local'"
        " ON CONFLICT (person_id) DO UPDATE SET state = excluded.state,"
        " templates = excluded.templates, at = excluded.at, published = 0",
        {"p": person_id, "at": format_rfc3339(datetime.now(UTC))},
    )


def note_gone(conn: sqlite3.Connection, where: str = "1", params: tuple[object, ...] = ()) -> None:
    """In the open transaction: notices of people who no longer have local templates (among
    those matching ``where``, an SQL condition on ``person_id``) turn ``removed``, or go at
    once when never announced."""
    gone = (
        f"state = 'enrolled' AND ({where}) AND person_id NOT IN"
        " (SELECT person_id FROM templates WHERE origin = 'local')"
    )
    args = tuple(params)
    conn.execute(f"DELETE FROM enrollment_notices WHERE announced = 0 AND {gone}", args)
    conn.execute(
        "UPDATE enrollment_notices SET state = 'removed', templates = 0, at = ?, published = 0"
        f" WHERE {gone}",
        (format_rfc3339(datetime.now(UTC)), *args),
    )


def pending(conn: sqlite3.Connection, limit: int = 100) -> list[EnrollmentNotice]:
    """Notices not yet published, oldest first."""
    rows = conn.execute(
        "SELECT person_id, state, templates, at FROM enrollment_notices WHERE published = 0"
        " ORDER BY at, person_id LIMIT ?",
        (limit,),
    ).fetchall()
    return [EnrollmentNotice(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]


def mark_published(conn: sqlite3.Connection, notice: EnrollmentNotice) -> None:
    """After the broker took ``notice``: keep an ``enrolled`` row (published), delete a
    ``removed`` one. A notice changed since it was read stays pending."""
    conn.execute(
        "UPDATE enrollment_notices SET published = 1, announced = 1 WHERE person_id = ?"
        " AND at = ? AND state = 'enrolled'",
        (notice.person_id, notice.at),
    )
    conn.execute(
        "DELETE FROM enrollment_notices WHERE person_id = ? AND at = ? AND state = 'removed'",
        (notice.person_id, notice.at),
    )
