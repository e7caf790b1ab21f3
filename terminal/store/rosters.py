"""Rosters in the terminal database: chunks staged as they arrive, applied in one transaction.

A verified chunk is written to the ``roster_staging*`` tables (its people and templates as
rows) and committed before the sync acknowledges the MQTT message, so a crash or restart never
loses one. When every chunk of version V is staged and V is above the version the terminal has
(``meta.roster_version``), :meth:`RosterStore.apply` replaces, in ONE transaction, all people,
templates and QR key ids with the roster's (set-based SQL, so memory stays flat for 50,000
people), bumps the gallery revision (the pipeline reloads), records V and clears the staging.
In the same transaction the schedule chunk 0 of V carried replaces the one in force
(``roster_schedule``); a version without a schedule removes it, since the HR system's roster is
the whole truth (a kiosk that must keep a schedule of its own sets ``[attendance]
schedule_file``, which wins over the roster's).
People not in the roster are deleted with everything of theirs. Templates of every engine and
model are kept, as ``kiosk enroll`` keeps them: the matcher only ever compares templates of its
own engine and model, so a terminal can switch engines without waiting for a new roster.

Deletions are made with ``PRAGMA secure_delete`` (the freed bytes are overwritten with zeros)
and after applying, the WAL is checkpointed and truncated, so a removed person's name and
templates do not linger in the files. Check-ins they made stay in the outbox until
delivered and aged out (``[storage] retain_acked_days``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from common.errors import RosterError
from common.sqlite import classify
from models.messages import format_rfc3339
from models.roster import RosterChunk
from terminal.store import enrollment_notices
from terminal.store.database import db_path, write_transaction
from terminal.store.gallery import bump_revision
from terminal.store.roster_tables import STAGING_TABLES, insert_chunk, secure_delete
from terminal.store.template_seal import TemplateSeal

log = logging.getLogger(__name__)

STALE = "stale"
SUPERSEDED = "superseded"
INCONSISTENT = "inconsistent"
VERSION_KEY = "roster_version"
"""The ``meta`` key holding the roster version in force (absent before the first roster)."""

_IN_ROSTER = "SELECT person_id FROM roster_staging_people WHERE roster_version = :v"


@dataclass(frozen=True)
class Staged:
    """Where a roster version stands after a chunk: ``received`` of ``chunk_count`` chunks."""

    version: int
    received: int
    chunk_count: int
    duplicate: bool = False

    @property
    def complete(self) -> bool:
        """Every chunk of the version is staged."""
        return self.received == self.chunk_count


@dataclass(frozen=True)
class Applied:
    """A roster version now in force."""

    version: int
    people: int
    templates: int
    removed: int
    schedule_version: int | None = None
    """The ``version`` of the schedule the roster brought (None: it brought none)."""


_LOG_DELETED = (
    "INSERT INTO processing_log (at, action, person_ref, templates, detail)"
    " SELECT :now, 'template_deleted', person_ref(person_id), count(*), :why FROM templates"
)
_STAGED_CONSENT = (
    "SELECT person_id, json_extract(consent, '$.scope') AS scope,"
    " json_extract(consent, '$.given_at') AS given_at,"
    " json_extract(consent, '$.recorded_by') AS recorded_by"
    " FROM roster_staging_people WHERE roster_version = :v AND consent IS NOT NULL"
)
_TRANSFERABLE = (
    "SELECT t.person_id, t.engine, t.model_digest, t.dim, t.embedding, t.digest, t.rowid AS r"
    " FROM roster_staging_templates t JOIN roster_staging_people p"
    " ON p.roster_version = t.roster_version AND p.person_id = t.person_id"
    " WHERE t.roster_version = :v AND json_extract(p.consent, '$.scope') = 'transfer'"
)
_SAME = "x.person_id = t.person_id AND x.engine = t.engine AND x.model_digest = t.model_digest" \
    " AND x.digest = t.digest"  # fmt: skip


def _apply_consent(conn: sqlite3.Connection, args: dict[str, object]) -> None:
    """Record the consent the roster carries (where it carries one: a person without keeps
    what the kiosk recorded at enrollment), logging each change; then delete the templates
    of everyone whose consent does not allow face recognition."""
    conn.execute(
        "INSERT INTO processing_log (at, action, person_ref, templates, detail)"
        " SELECT :now, 'consent_recorded', person_ref(p.person_id), 0,"
        " s.scope || ', given ' || s.given_at || ', recorded by ' || s.recorded_by"
        " || ', from roster ' || :v"
        f" FROM people p JOIN ({_STAGED_CONSENT}) s USING (person_id)"
        " WHERE (p.consent_scope, p.consent_given_at, p.consent_recorded_by)"
        " IS NOT (s.scope, s.given_at, s.recorded_by)",
        args,
    )
    conn.execute(
        "UPDATE people SET consent_scope = s.scope, consent_given_at = s.given_at,"
        " consent_recorded_by = s.recorded_by, consent_source = 'roster'"
        f" FROM ({_STAGED_CONSENT}) s WHERE s.person_id = people.person_id"
        " AND (people.consent_scope, people.consent_given_at, people.consent_recorded_by)"
        " IS NOT (s.scope, s.given_at, s.recorded_by)",
        args,
    )
    no_face = (
        "person_id IN (SELECT person_id FROM people"
        " WHERE coalesce(consent_scope, 'none') NOT IN ('on_device', 'transfer'))"
    )
    conn.execute(_LOG_DELETED + f" WHERE {no_face} GROUP BY person_id",
                 {**args, "why": "no consent to face recognition"})  # fmt: skip
    conn.execute(f"DELETE FROM templates WHERE {no_face}")


def _apply_templates(conn: sqlite3.Connection, args: dict[str, object]) -> int:
    """Make the kiosk's roster templates those of the roster's people who consent to their
    transfer (templates made on this kiosk stay); log what was added and deleted per person.
    Return how many roster templates the kiosk now has."""
    dropped = conn.execute(
        "SELECT count(DISTINCT t.person_id) FROM roster_staging_templates t"
        " JOIN roster_staging_people p"
        " ON p.roster_version = t.roster_version AND p.person_id = t.person_id"
        " WHERE t.roster_version = :v"
        " AND coalesce(json_extract(p.consent, '$.scope'), '') != 'transfer'",
        args,
    ).fetchone()[0]
    if dropped:
        log.warning(
            "roster %s: templates of %d people without consent to their transfer were not"
            " stored; they are recognised only once enrolled on this kiosk with consent",
            args["v"], dropped,
        )  # fmt: skip
    gone = (
        f"origin = 'roster' AND NOT EXISTS (SELECT 1 FROM ({_TRANSFERABLE}) x WHERE"
        " x.person_id = templates.person_id AND x.engine = templates.engine"
        " AND x.model_digest = templates.model_digest AND x.digest = templates.digest)"
    )
    conn.execute(_LOG_DELETED + f" WHERE {gone} GROUP BY person_id",
                 {**args, "why": f"not in roster {args['v']}"})  # fmt: skip
    conn.execute(f"DELETE FROM templates WHERE {gone}", args)
    new = (
        f"SELECT * FROM ({_TRANSFERABLE}) t WHERE NOT EXISTS (SELECT 1 FROM templates x"
        f" WHERE x.origin = 'roster' AND {_SAME})"
    )
    conn.execute(
        "INSERT INTO processing_log (at, action, person_ref, templates, detail)"
        f" SELECT :now, 'template_created', person_ref(person_id), count(*), 'roster ' || :v"
        f" FROM ({new})"
        " GROUP BY person_id",
        args,
    )
    conn.execute(
        "INSERT INTO templates (person_id, engine, model_digest, dim, embedding, source,"
        f" created_at, origin, digest) SELECT person_id, engine, model_digest, dim, embedding,"
        f" :source, :now, 'roster', digest FROM ({new}) ORDER BY r",
        args,
    )
    return int(conn.execute("SELECT count(*) FROM templates WHERE origin = 'roster'").fetchone()[0])


class RosterStore:
    """Staging and applying rosters on one database connection (the sync's)."""

    def __init__(self, db: sqlite_utils.Database, seal: TemplateSeal | None = None) -> None:
        self.db = db
        self.seal = seal
        """Seals the roster's templates as they are staged (None: stored in the clear)."""

    def current_version(self) -> int | None:
        """The roster version in force, or None before the first roster."""
        row = self._one("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,))
        return None if row is None else int(row[0])

    def staged(self) -> Staged | None:
        """The version being received (the newest staged one), or None."""
        row = self._one(
            "SELECT roster_version, count(*), max(chunk_count) FROM roster_staging"
            " GROUP BY roster_version ORDER BY roster_version DESC LIMIT 1"
        )
        return None if row is None else Staged(int(row[0]), int(row[1]), int(row[2]))

    def qr_key_ids(self, person_id: str) -> list[str]:
        """The QR key ids the roster lists for ``person_id`` (sorted)."""
        sql = "SELECT key_id FROM person_qr_keys WHERE person_id = ? ORDER BY key_id"
        return [str(row[0]) for row in self._all(sql, (person_id,))]

    def stage(self, chunk: RosterChunk, key_id: str) -> Staged:
        """Commit one verified chunk; :class:`RosterError` if it is stale or does not fit."""
        version = chunk.roster_version
        with secure_delete(self.db.conn), write_transaction(self.db) as conn:
            self._check_fits(conn, chunk)  # may drop an older, incomplete version
            done = conn.execute(
                "SELECT 1 FROM roster_staging WHERE roster_version = ? AND chunk_index = ?",
                (version, chunk.chunk_index),
            ).fetchone()
            if done is None:
                self._check_people_unique(conn, chunk)
                insert_chunk(conn, chunk, key_id, self.seal)
            (received,) = conn.execute(
                "SELECT count(*) FROM roster_staging WHERE roster_version = ?", (version,)
            ).fetchone()
        return Staged(version, int(received), chunk.chunk_count, duplicate=done is not None)

    def discard(self, version: int | None = None) -> None:
        """Drop the staged chunks of ``version`` (None: of every version)."""
        where, params = ("", ()) if version is None else (" WHERE roster_version = ?", (version,))
        with secure_delete(self.db.conn), write_transaction(self.db) as conn:
            for table in STAGING_TABLES:
                conn.execute(f"DELETE FROM {table}{where}", params)

    def apply(self, version: int) -> Applied:
        """Replace people, templates and QR key ids with staged ``version``, all or nothing."""
        bad = self._one(
            "SELECT engine FROM roster_staging_templates WHERE roster_version = ?"
            " GROUP BY engine, model_digest HAVING count(DISTINCT dim) > 1",
            (version,),
        )
        if bad is not None:
            self.discard(version)
            raise RosterError(INCONSISTENT, f"version {version}: {bad[0]} templates differ in dim")
        now = format_rfc3339(datetime.now(UTC))
        args = {"v": version, "now": now, "source": f"roster {version}"}
        with secure_delete(self.db.conn), write_transaction(self.db) as conn:
            staged = self._staged_in(conn, version)
            if staged is None or not staged.complete:
                raise RosterError(INCONSISTENT, f"version {version} is not completely staged")
            self._check_not_stale(conn, version)
            (removed,) = conn.execute(
                f"SELECT count(*) FROM people WHERE person_id NOT IN ({_IN_ROSTER})", args
            ).fetchone()
            leaving = f" WHERE person_id NOT IN ({_IN_ROSTER}) GROUP BY person_id"
            conn.execute(_LOG_DELETED + leaving, {**args, "why": f"removed by roster {version}"})
            conn.execute(f"DELETE FROM templates WHERE person_id NOT IN ({_IN_ROSTER})", args)
            conn.execute("DELETE FROM person_qr_keys")
            conn.execute(f"DELETE FROM people WHERE person_id NOT IN ({_IN_ROSTER})", args)
            conn.execute(
                "INSERT INTO people (person_id, name, created_at) SELECT person_id, name, :now"
                " FROM roster_staging_people WHERE roster_version = :v"
                " ON CONFLICT (person_id) DO UPDATE SET name = excluded.name",
                args,
            )
            _apply_consent(conn, args)
            templates = _apply_templates(conn, args)
            enrollment_notices.note_gone(conn)
            conn.execute(
                "INSERT INTO person_qr_keys (person_id, key_id) SELECT DISTINCT p.person_id,"
                " k.value FROM roster_staging_people p, json_each(p.qr_key_ids) k"
                " WHERE p.roster_version = :v",
                args,
            )
            (people,) = conn.execute("SELECT count(*) FROM people").fetchone()
            conn.execute("DELETE FROM roster_schedule")
            conn.execute(
                "INSERT INTO roster_schedule (id, roster_version, schedule, applied_at)"
                " SELECT 1, roster_version, schedule, :now FROM roster_staging_schedule"
                " WHERE roster_version = :v",
                args,
            )
            row = conn.execute(
                "SELECT json_extract(schedule, '$.version') FROM roster_schedule"
            ).fetchone()
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (VERSION_KEY, str(version)),
            )
            bump_revision(conn)
            for table in STAGING_TABLES:
                conn.execute(f"DELETE FROM {table}")
        self._truncate_wal()
        schedule_version = None if row is None else int(row[0])
        return Applied(version, int(people), int(templates), int(removed), schedule_version)

    def _check_fits(self, conn: sqlite3.Connection, chunk: RosterChunk) -> None:
        version = chunk.roster_version
        self._check_not_stale(conn, version)
        for other, count in conn.execute(
            "SELECT roster_version, max(chunk_count) FROM roster_staging GROUP BY roster_version"
        ).fetchall():
            if other > version:
                raise RosterError(
                    SUPERSEDED, f"version {version} is older than version {other} being received"
                )
            if other < version:
                log.info(
                    "roster version %d superseded by %d before it was complete", other, version
                )
                for table in STAGING_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE roster_version = ?", (other,))
            elif count != chunk.chunk_count:
                raise RosterError(
                    INCONSISTENT,
                    f"version {version}: chunk {chunk.chunk_index} says {chunk.chunk_count} chunks,"
                    f" the chunks already received say {count}",
                )

    def _check_people_unique(self, conn: sqlite3.Connection, chunk: RosterChunk) -> None:
        ids = json.dumps([person.person_id for person in chunk.people])
        twice = conn.execute(
            "SELECT person_id FROM roster_staging_people WHERE roster_version = ?"
            " AND person_id IN (SELECT value FROM json_each(?)) LIMIT 1",
            (chunk.roster_version, ids),
        ).fetchone()
        if twice is not None:
            raise RosterError(
                INCONSISTENT,
                f"version {chunk.roster_version}: person {twice[0]!r} is in two chunks",
            )

    def _check_not_stale(self, conn: sqlite3.Connection, version: int) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,)).fetchone()
        if row is not None and version <= int(row[0]):
            raise RosterError(STALE, f"stale: version {version}, this terminal has {row[0]}")

    def _staged_in(self, conn: sqlite3.Connection, version: int) -> Staged | None:
        row = conn.execute(
            "SELECT count(*), max(chunk_count) FROM roster_staging WHERE roster_version = ?",
            (version,),
        ).fetchone()
        return None if not row[0] else Staged(version, int(row[0]), int(row[1]))

    def _truncate_wal(self) -> None:
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("could not checkpoint the WAL after a roster: %s", exc)

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.db.conn.execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise classify(exc, db_path(self.db)) from None
