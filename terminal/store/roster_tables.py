"""The tables of rosters, besides ``people`` and ``templates`` (all created with the database:
see :mod:`terminal.store.schema`).

``person_qr_keys`` holds the QR key ids a roster lists per person (deleted with the person).
``roster_staging`` has one row per chunk received of a version not yet applied;
``roster_staging_people`` and ``roster_staging_templates`` hold those chunks' people and
templates as rows, so applying a roster is a few set-based statements (see
:mod:`terminal.store.rosters`). ``roster_staging_schedule`` holds the schedule chunk 0 of a
version carried, if it did; ``roster_schedule`` (one row at most) the schedule of the roster in
force, replaced or removed in the transaction that applies a roster (read by
:mod:`terminal.store.roster_schedule`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from models.messages import format_rfc3339
from models.roster import RosterChunk
from terminal.store.schema import template_digest
from terminal.store.template_seal import TemplateSeal

STAGING_TABLES = (
    "roster_staging",
    "roster_staging_people",
    "roster_staging_templates",
    "roster_staging_schedule",
)


def insert_chunk(
    conn: sqlite3.Connection, chunk: RosterChunk, key_id: str, seal: TemplateSeal | None = None
) -> None:
    """Stage one chunk: a row for it, one per person, one per template (sealed with ``seal``
    when given), one for a schedule."""
    version = chunk.roster_version
    conn.execute(
        "INSERT INTO roster_staging (roster_version, chunk_index, chunk_count, key_id,"
        " issued_at, received_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            version,
            chunk.chunk_index,
            chunk.chunk_count,
            key_id,
            format_rfc3339(chunk.issued_at),
            format_rfc3339(datetime.now(UTC)),
        ),
    )
    conn.executemany(
        "INSERT INTO roster_staging_people (roster_version, person_id, name, qr_key_ids, consent)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (
                version,
                p.person_id,
                p.name,
                json.dumps(p.qr_key_ids),
                None if p.consent is None else p.consent.model_dump_json(),
            )
            for p in chunk.people
        ],
    )
    conn.executemany(
        "INSERT INTO roster_staging_templates (roster_version, person_id, engine,"
        " model_digest, dim, embedding, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (
                version,
                p.person_id,
                t.engine,
                t.model_digest,
                t.dim,
                t.embedding if seal is None else seal.seal(t.embedding, p.person_id),
                template_digest(t.embedding),
            )
            for p in chunk.people
            for t in p.templates
        ],
    )
    if chunk.schedule is not None:
        conn.execute(
            "INSERT INTO roster_staging_schedule (roster_version, schedule) VALUES (?, ?)",
            (version, chunk.schedule.model_dump_json()),
        )


@contextmanager
def secure_delete(conn: sqlite3.Connection) -> Iterator[None]:
    """Deleted content is overwritten with zeros while the block runs."""
    (previous,) = conn.execute("PRAGMA secure_delete").fetchone()
    conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(previous)}")


def forget_in_schedules(conn: sqlite3.Connection, person_id: str) -> None:
    """Take ``person_id`` out of the stored roster schedules (in force and staged): shift
    people, group members and session participants, so that deleting a person leaves nothing
    of them in the database. Run inside the deleting transaction."""
    for table, key in (("roster_schedule", "id"), ("roster_staging_schedule", "roster_version")):
        rows = conn.execute(f"SELECT {key}, schedule FROM {table}").fetchall()
        for row_key, text in rows:
            document = json.loads(text)
            lists = [shift.get("people", []) for shift in document.get("shifts", [])]
            lists += [s.get("participants", []) for s in document.get("sessions", [])]
            lists += list(document.get("groups", {}).values())
            if not any(person_id in members for members in lists):
                continue
            for members in lists:
                while person_id in members:
                    members.remove(person_id)
            scrubbed = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            conn.execute(f"UPDATE {table} SET schedule = ? WHERE {key} = ?", (scrubbed, row_key))
