"""Enrolled people, their consent to face recognition and their face templates, kept in the
terminal database.

A person's face is used only with their consent (:mod:`models.consent`): templates are stored
only for a person whose consent allows it, and :meth:`Gallery.matrix` hands the matcher only
theirs, so a person with no consent recorded (or ``none``) is never matched: they check in
with their QR code. Recording ``none`` deletes their templates. Every template stored, deleted
and consent recorded is written to the processing log in the same transaction
(:mod:`terminal.store.processing_log`).

A person may have several templates (one per enrollment photo). Enrolling an id that exists
adds the new templates to the old ones and updates the name: enroll again with more photos to
make recognition more robust; ``kiosk people remove`` then enroll to start over. A person with
no templates can still check in with a QR badge.

Every change bumps ``meta.gallery_rev`` in the same transaction, so a running pipeline notices
enrollments made by another process with one cheap query.
"""

from __future__ import annotations

import logging
import sqlite3
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from common.errors import EnrollmentError, StoreError, UnknownPersonError
from common.sqlite import classify
from models.consent import FACE_SCOPES, Consent
from models.messages import format_rfc3339
from terminal.store import damaged_copies, enrollment_notices, processing_log
from terminal.store.database import db_path, write_transaction
from terminal.store.roster_tables import forget_in_schedules, secure_delete
from terminal.store.schema import template_digest
from terminal.store.template_seal import MAGIC, TemplateSeal, is_sealed

log = logging.getLogger(__name__)

PERSON_ID_MAX = 64
NAME_MAX = 128
_REVISION_KEY = "gallery_rev"
_PEOPLE_SQL = (
    "SELECT p.person_id, p.name, count(t.id), p.created_at, p.consent_scope,"
    " p.consent_given_at, p.consent_recorded_by, p.consent_source FROM people p"
    " LEFT JOIN templates t ON t.person_id = p.person_id"
)
_FACE_ALLOWED = "consent_scope IN ('on_device', 'transfer')"


@dataclass(frozen=True)
class Person:
    """An enrolled person, how many face templates they have (of any engine), and their
    consent (None: none recorded, so no face recognition) and where it was recorded."""

    person_id: str
    name: str
    templates: int
    created_at: str
    consent: Consent | None = None
    consent_source: str | None = None

    @property
    def face_allowed(self) -> bool:
        """Whether their consent allows their face to be encoded and matched."""
        return self.consent is not None and self.consent.allows_face


def _person(row: tuple[Any, ...]) -> Person:
    consent = None
    if row[4] is not None:
        consent = Consent(scope=row[4], given_at=row[5], recorded_by=row[6])
    return Person(str(row[0]), str(row[1]), int(row[2]), str(row[3]), consent,
                  None if row[7] is None else str(row[7]))  # fmt: skip


def write_consent(conn: sqlite3.Connection, person_id: str, consent: Consent, source: str) -> bool:
    """Record ``consent`` for an existing person in the open transaction, and log it; delete
    their templates (logged too) when it no longer allows face recognition. False when it
    was already recorded exactly so (nothing written)."""
    row = conn.execute(
        "SELECT consent_scope, consent_given_at, consent_recorded_by FROM people"
        " WHERE person_id = ?",
        (person_id,),
    ).fetchone()
    new = (consent.scope, consent.given_at.isoformat(), consent.recorded_by)
    if row is not None and tuple(row) == new:
        return False
    conn.execute(
        "UPDATE people SET consent_scope = ?, consent_given_at = ?, consent_recorded_by = ?,"
        " consent_source = ? WHERE person_id = ?",
        (*new, source, person_id),
    )
    detail = f"{consent.scope}, given {new[1]}, recorded by {consent.recorded_by}, from {source}"
    processing_log.record(conn, "consent_recorded", person_id, detail=detail)
    if consent.scope not in FACE_SCOPES:
        delete_templates(conn, person_id, f"consent {consent.scope}")
    return True


def delete_templates(conn: sqlite3.Connection, person_id: str, why: str) -> int:
    """Delete every template of ``person_id`` in the open transaction and log how many."""
    deleted = conn.execute("DELETE FROM templates WHERE person_id = ?", (person_id,)).rowcount
    if deleted:
        processing_log.record(conn, "template_deleted", person_id, deleted, why)
        enrollment_notices.note_gone(conn, "person_id = ?", (person_id,))
    return int(deleted)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


def check_person_id(person_id: str) -> str:
    """Return ``person_id`` if valid (1-64 characters, no control characters or edge spaces)."""
    if not 1 <= len(person_id) <= PERSON_ID_MAX or _has_control(person_id):
        raise EnrollmentError(
            f"person id {person_id!r} must be 1-{PERSON_ID_MAX} characters, no control characters"
        )
    if person_id != person_id.strip():
        raise EnrollmentError(f"person id {person_id!r} must not start or end with a space")
    return person_id


def check_name(name: str) -> str:
    """Return ``name`` stripped if valid (1-128 characters, no control characters)."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX or _has_control(cleaned):
        raise EnrollmentError(
            f"name {name!r} must be 1-{NAME_MAX} characters without control characters"
        )
    return cleaned


class Gallery:
    """People and face templates in one database connection; with a ``seal``
    (:mod:`terminal.store.template_seal`) new templates are stored sealed, and sealed ones
    are opened when read."""

    def __init__(self, db: sqlite_utils.Database, seal: TemplateSeal | None = None) -> None:
        self.db = db
        self.seal = seal

    def add_person(
        self,
        person_id: str,
        name: str,
        embeddings: list[np.ndarray],
        engine: str,
        model_digest: str,
        sources: list[str],
        consent: Consent | None = None,
        consent_source: str = "enroll",
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Person:
        """Create or update a person and add one template per embedding, in one transaction
        (``also`` runs in it first: what it raises rolls everything back).

        ``consent``, when given, is recorded first (from ``consent_source``); templates are
        refused (:class:`EnrollmentError`) unless the person's consent, given or recorded
        before, allows face recognition.
        """
        check_person_id(person_id)
        name = check_name(name)
        if len(sources) != len(embeddings):
            raise ValueError("one source per embedding")
        blobs = [_to_blob(embedding) for embedding in embeddings]
        if len({len(blob) for blob in blobs}) > 1:
            raise ValueError("embeddings of different lengths")
        now = format_rfc3339(datetime.now(UTC))
        with write_transaction(self.db) as conn:
            if also is not None:
                also(conn)
            conn.execute(
                "INSERT INTO people (person_id, name, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (person_id) DO UPDATE SET name = excluded.name",
                (person_id, name, now),
            )
            if consent is not None:
                write_consent(conn, person_id, consent, consent_source)
            if blobs:
                (scope,) = conn.execute(
                    "SELECT consent_scope FROM people WHERE person_id = ?", (person_id,)
                ).fetchone()
                if scope not in FACE_SCOPES:
                    raise EnrollmentError(
                        f"{person_id}: no consent to face recognition recorded (scope"
                        f" {scope or 'none'}); face templates need the person's separate"
                        " consent (kiosk enroll --consent on_device|transfer)"
                    )
                stored = [self._sealed(blob, person_id) for blob in blobs]
                conn.executemany(
                    "INSERT INTO templates (person_id, engine, model_digest, dim, embedding,"
                    " source, created_at, origin, digest) VALUES (?, ?, ?, ?, ?, ?, ?, 'local', ?)",
                    [
                        (
                            person_id,
                            engine,
                            model_digest,
                            len(blob) // 4,
                            sealed,
                            source,
                            now,
                            template_digest(blob),
                        )
                        for blob, sealed, source in zip(blobs, stored, sources, strict=True)
                    ],
                )
                how = "camera" if all(src.startswith("camera") for src in sources) else "photos"
                processing_log.record(conn, "template_created", person_id, len(blobs),
                                      f"local {how}, {engine}")  # fmt: skip
                enrollment_notices.note_enrolled(conn, person_id)
            bump_revision(conn)
        person = self.get(person_id)
        assert person is not None
        return person

    def remove(
        self, person_id: str, also: Callable[[sqlite3.Connection, Person], None] | None = None
    ) -> Person:
        """Delete a person and all their templates (and roster QR key ids, and their id in the
        roster's schedule), leaving nothing of them in the database files, damaged copies
        moved aside included (:mod:`terminal.store.damaged_copies`);
        :class:`UnknownPersonError` if absent.

        The connection's ``secure_delete`` overwrites the freed content; the WAL, which still
        holds the old pages, is then checkpointed and truncated (best effort: a reader holding
        it open delays that until the next checkpoint). ``also`` runs inside the deleting
        transaction (a remote command records its result there, so it is done exactly once).
        """
        person = self.get(person_id)
        if person is None:
            raise UnknownPersonError(f"{person_id!r} is not enrolled (see: kiosk people list)")
        with write_transaction(self.db) as conn:
            delete_templates(conn, person_id, "person removed")
            conn.execute("DELETE FROM people WHERE person_id = ?", (person_id,))
            forget_in_schedules(conn, person_id)
            bump_revision(conn)
            if also is not None:
                also(conn, person)
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("after removing %s: WAL not truncated yet (%s)", person_id, exc)
        damaged_copies.remove_person(Path(db_path(self.db)), person_id)
        return person

    def set_consent(self, person_id: str, consent: Consent, source: str = "enroll") -> bool:
        """Record a person's consent (``none`` deletes their templates); False when it was
        already recorded so. :class:`UnknownPersonError` if the person is not enrolled."""
        if self.get(person_id) is None:
            raise UnknownPersonError(f"{person_id!r} is not enrolled (see: kiosk people list)")
        with write_transaction(self.db) as conn:
            changed = write_consent(conn, person_id, consent, source)
            if changed:
                bump_revision(conn)
        return changed

    def people(self) -> list[Person]:
        """Everyone enrolled, ordered by id."""
        rows = self._read(_PEOPLE_SQL + " GROUP BY p.person_id ORDER BY p.person_id")
        return [_person(row) for row in rows]

    def get(self, person_id: str) -> Person | None:
        """One person, or None."""
        rows = self._read(_PEOPLE_SQL + " WHERE p.person_id = ? GROUP BY p.person_id", (person_id,))
        return _person(rows[0]) if rows else None

    def face_people(self) -> set[str]:
        """Ids of the people whose consent allows face recognition."""
        return {
            str(r[0]) for r in self._read(f"SELECT person_id FROM people WHERE {_FACE_ALLOWED}")
        }

    def templates_without_consent(self) -> int:
        """People holding templates their consent does not allow (never matched; an upgrade
        from a release without consent leaves them until consent is recorded)."""
        rows = self._read(
            "SELECT count(DISTINCT t.person_id) FROM templates t JOIN people p USING (person_id)"
            " WHERE NOT coalesce(p.consent_scope IN ('on_device', 'transfer'), 0)"
        )
        return int(rows[0][0])

    def name_of(self, person_id: str) -> str | None:
        """The person's name, or None when not enrolled."""
        rows = self._read("SELECT name FROM people WHERE person_id = ?", (person_id,))
        return str(rows[0][0]) if rows else None

    def names(self) -> dict[str, str]:
        """Every enrolled person's name by id."""
        return {str(r[0]): str(r[1]) for r in self._read("SELECT person_id, name FROM people")}

    def matrix(self, engine: str, model_digest: str) -> tuple[np.ndarray, list[str]]:
        """Templates of this engine and model as a float32 ``[n, dim]`` matrix, and their owners.

        Templates of other engines or models are left out (they are not comparable), and so
        are those of people whose consent does not allow face recognition.
        """
        rows = self._read(
            "SELECT t.person_id, t.dim, t.embedding FROM templates t JOIN people p"
            f" USING (person_id) WHERE t.engine = ? AND t.model_digest = ? AND p.{_FACE_ALLOWED}"
            " ORDER BY t.person_id, t.id",
            (engine, model_digest),
        )
        if not rows:
            return np.zeros((0, 0), dtype=np.float32), []
        plain = [self._opened(bytes(row[2]), str(row[0])) for row in rows]
        dims = {int(row[1]) for row in rows}
        if len(dims) != 1 or any(len(b) != 4 * int(r[1]) for b, r in zip(plain, rows, strict=True)):
            raise StoreError(f"{db_path(self.db)}: templates of {engine} have inconsistent sizes")
        (dim,) = dims
        data = b"".join(plain)
        matrix = np.frombuffer(data, dtype="<f4").reshape(len(rows), dim).astype(np.float32)
        return matrix, [str(row[0]) for row in rows]

    def _sealed(self, blob: bytes, person_id: str) -> bytes:
        return blob if self.seal is None else self.seal.seal(blob, person_id)

    def _opened(self, blob: bytes, person_id: str) -> bytes:
        if not is_sealed(blob):
            return blob
        if self.seal is None:
            raise StoreError(
                f"{db_path(self.db)}: face templates are sealed, and no key is configured: set"
                " [privacy] template_key_file to the key that sealed them"
            )
        return self.seal.open(blob, person_id)

    def seal_plain_templates(self) -> int:
        """Seal every template still stored in the clear (made before a key was configured);
        the clear bytes are overwritten (``secure_delete``) and the WAL truncated. Returns how
        many were sealed."""
        if self.seal is None:
            raise StoreError("no [privacy] template_key_file is configured: nothing to seal with")
        rows = self._read("SELECT id, person_id, embedding FROM templates")
        plain = [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows if not is_sealed(bytes(r[2]))]
        with secure_delete(self.db.conn), write_transaction(self.db) as conn:
            conn.executemany(
                "UPDATE templates SET embedding = ? WHERE id = ?",
                [(self.seal.seal(blob, person_id), row_id) for row_id, person_id, blob in plain],
            )
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("after sealing templates: WAL not truncated yet (%s)", exc)
        return len(plain)

    def sealed_counts(self) -> tuple[int, int]:
        """How many templates are stored (sealed, in the clear)."""
        rows = self._read("SELECT substr(embedding, 1, 6) = ? FROM templates", (MAGIC,))
        sealed = sum(1 for row in rows if row[0])
        return sealed, len(rows) - sealed

    def foreign_templates(self, engine: str, model_digest: str) -> int:
        """How many templates were made by another engine or model (unusable until re-enrolled)."""
        rows = self._read(
            "SELECT count(*) FROM templates WHERE NOT (engine = ? AND model_digest = ?)",
            (engine, model_digest),
        )
        return int(rows[0][0])

    def revision(self) -> int:
        """A number that changes whenever people or templates change."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (_REVISION_KEY,))
        return int(rows[0][0]) if rows else 0

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.db.conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise classify(exc, db_path(self.db)) from None


def _to_blob(embedding: np.ndarray) -> bytes:
    vector = np.asarray(embedding, dtype="<f4")
    if vector.ndim != 1 or vector.size == 0 or not np.all(np.isfinite(vector)):
        raise ValueError("an embedding must be a non-empty finite vector")
    return vector.tobytes()


def bump_revision(conn: sqlite3.Connection) -> None:
    """Mark people or templates as changed (inside the write transaction that changed them)."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1')"
        " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_REVISION_KEY,),
    )
