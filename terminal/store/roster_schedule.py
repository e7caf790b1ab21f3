"""The schedule that came with the roster in force, as a kiosk's attendance reads it.

A roster version may carry a schedule in its chunk 0 (:mod:`models.roster`); applying the
version stores it in ``roster_schedule`` or, when the version carries none, removes the one
there, in the same transaction as the people (:mod:`terminal.store.rosters`). That transaction
also bumps the gallery revision, so :meth:`RosterSchedule.current` costs one indexed read of
``meta`` per check-in and reads the schedule row again only when the revision changed.

A row that cannot be read or parsed (it was validated when the chunk arrived, so this means a
damaged database or a newer format) is logged once per revision, recorded in ``error``, and the
last good schedule stays in force; a database error is retried at the next call.
"""

from __future__ import annotations

import logging
import sqlite3

import sqlite_utils
from pydantic import ValidationError

from common.errors import StoreError
from common.schedule_file import describe_validation
from common.sqlite import classify
from models.schedule import Schedule
from terminal.store.database import db_path
from terminal.store.gallery import Gallery

log = logging.getLogger(__name__)


class RosterSchedule:
    """The roster's schedule on one database connection, re-read when the roster changes.

    Use it from the thread that owns ``db`` (the pipeline's, on the outbox's connection).
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._gallery = Gallery(db)
        self._revision: int | None = None
        self._schedule: Schedule | None = None
        self.roster_version: int | None = None
        """The roster version the schedule in force came with (None: no roster schedule)."""
        self.error: str | None = None
        """Why the stored schedule last failed to load (None: the one in force loaded fine)."""

    def current(self) -> Schedule | None:
        """The schedule of the roster in force (None: that roster carried none)."""
        try:
            revision = self._gallery.revision()
            if revision == self._revision:
                return self._schedule
            row = self._row()
        except StoreError as exc:
            self._fail(f"cannot read the roster's schedule: {exc}")
            return self._schedule
        self._revision = revision
        if row is None:
            if self._schedule is not None:
                log.info("roster schedule removed (the roster in force carries none)")
            self._schedule, self.roster_version, self.error = None, None, None
            return None
        version, text = row
        if version == self.roster_version and self.error is None:
            return self._schedule  # people changed, not the roster
        try:
            schedule = Schedule.model_validate_json(text)
        except ValidationError as exc:
            problem = describe_validation(exc)
            self._fail(f"roster version {version}: not a valid schedule: {problem}")
            return self._schedule
        self._schedule, self.roster_version, self.error = schedule, version, None
        log.info(
            "roster version %d schedule: version %d, %d shifts, %d sessions",
            version,
            schedule.version,
            len(schedule.shifts),
            len(schedule.sessions),
        )
        return schedule

    def _row(self) -> tuple[int, str] | None:
        try:
            row = self.db.conn.execute(
                "SELECT roster_version, schedule FROM roster_schedule WHERE id = 1"
            ).fetchone()
        except sqlite3.Error as exc:
            raise classify(exc, db_path(self.db)) from None
        return None if row is None else (int(row[0]), str(row[1]))

    def _fail(self, reason: str) -> None:
        if reason != self.error:
            kept = (
                "no schedule in force"
                if self._schedule is None
                else f"keeping schedule version {self._schedule.version}"
            )
            log.error("%s; %s", reason, kept)
        self.error = reason
