"""Copies of ``kiosk.db`` moved aside as damaged: found, cleared of a removed person, expired.

:func:`terminal.store.database.quarantine` moves a damaged or empty database to
``kiosk.db.corrupt-<time>`` (with its ``-wal`` and ``-shm``), so that events not yet delivered
can still be recovered by hand. Such a copy also holds people's names and face templates, so it
may not be kept for ever: the sync's retention pass deletes copies older than ``[storage]
keep_damaged_days`` (:func:`expire`), and removing a person deletes them from every copy SQLite
can still write (:func:`remove_person`); a copy too damaged for that is named, so the admin can
delete it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".corrupt-"
_SIDE_FILES = ("", "-wal", "-shm")
_PERSON_TABLES = ("templates", "person_qr_keys", "used_codes", "people")


def copies(db_path: Path) -> list[Path]:
    """The damaged copies of the database at ``db_path``, oldest first (main files only)."""
    found = [
        path
        for path in db_path.parent.glob(f"{db_path.name}{MARKER}*")
        if not path.name.endswith(("-wal", "-shm"))
    ]
    return sorted(found, key=lambda path: path.name)


def _delete(copy: Path) -> None:
    for suffix in _SIDE_FILES:
        Path(f"{copy}{suffix}").unlink(missing_ok=True)


def expire(db_path: Path, max_age_days: float, now: float | None = None) -> list[Path]:
    """Delete the copies last changed more than ``max_age_days`` ago; return them."""
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    gone = []
    for copy in copies(db_path):
        try:
            if copy.stat().st_mtime > cutoff:
                continue
            _delete(copy)
        except OSError as exc:
            log.error("%s: cannot delete the damaged copy: %s", copy, exc.strerror)
            continue
        log.warning("deleted the damaged copy %s (older than %g days)", copy, max_age_days)
        gone.append(copy)
    return gone


def remove_person(db_path: Path, person_id: str) -> list[Path]:
    """Delete ``person_id`` (name, templates, QR key ids, used codes) from every damaged copy;
    return the copies SQLite could not change, which may still hold them (logged)."""
    left = []
    for copy in copies(db_path):
        try:
            _remove_from(copy, person_id)
        except sqlite3.Error as exc:
            log.error(
                "%s: cannot remove %s from this damaged copy (%s); delete the copy to erase them",
                copy,
                person_id,
                exc,
            )
            left.append(copy)
    return left


def _remove_from(copy: Path, person_id: str) -> None:
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        conn.execute("BEGIN IMMEDIATE")
        for table in _PERSON_TABLES:
            if table in tables:
                conn.execute(f"DELETE FROM {table} WHERE person_id = ?", (person_id,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
