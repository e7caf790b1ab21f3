"""Retention: acknowledged events are deleted from the outbox once they are old enough.

The sync calls :meth:`Retention.maybe_purge` on every turn of its loop; it does nothing until a
pass is due (at start, then every :data:`PURGE_INTERVAL_S`). A pass deletes the ``acked``
events whose acknowledgement is older than ``[storage] retain_acked_days``, at most
:data:`PURGE_CHUNK` per call so a large first purge never holds the database (and the
pipeline's next commit) for long; the pass goes on over the following calls until done.
Events not yet acknowledged are never deleted (:meth:`~terminal.store.outbox.Outbox.purge_acked`).
At the end of each pass, damaged copies of the database older than ``keep_damaged_days`` are
deleted too (:mod:`terminal.store.damaged_copies`), and processing-log entries older than
``[privacy] processing_log_days`` (:mod:`terminal.store.processing_log`).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from common.errors import StoreError
from terminal.config.privacy import MIN_PROCESSING_LOG_DAYS
from terminal.store import damaged_copies, processing_log
from terminal.store.database import db_path
from terminal.store.outbox import Outbox

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0
"""Seconds between two purge passes."""
PURGE_CHUNK = 5_000
"""Events deleted at most per call (one write transaction)."""
RETRY_S = 60.0
"""Seconds before a failed purge is tried again."""


class Retention:
    """Deletes acknowledged events older than ``retain_acked_days``, and damaged copies of the
    database older than ``keep_damaged_days``, one pass an interval."""

    def __init__(
        self,
        retain_acked_days: float,
        interval_s: float = PURGE_INTERVAL_S,
        chunk: int = PURGE_CHUNK,
        keep_damaged_days: float = 30.0,
        processing_log_days: int = MIN_PROCESSING_LOG_DAYS,
    ) -> None:
        self.max_age = timedelta(days=retain_acked_days)
        self.keep_damaged_days = keep_damaged_days
        self.processing_log_days = processing_log_days
        self.interval_s = interval_s
        self.chunk = chunk
        self._next_pass = 0.0  # the first pass runs at once
        self._pass_total = 0

    def maybe_purge(self, outbox: Outbox, now: float | None = None) -> int:
        """Run one step of the purge if it is due; return how many events it deleted.

        ``now`` is a :func:`time.monotonic` reading (default: taken here). A database error is
        logged and the purge tried again after :data:`RETRY_S`; it never raises, so delivery
        goes on whatever happens here.
        """
        now = time.monotonic() if now is None else now
        if now < self._next_pass:
            return 0
        try:
            deleted = outbox.purge_acked(self.max_age, limit=self.chunk)
        except StoreError as exc:
            log.warning("retention: %s; trying again in %.0f s", exc, RETRY_S)
            self._next_pass = now + RETRY_S
            return 0
        self._pass_total += deleted
        if deleted < self.chunk:
            damaged_copies.expire(Path(db_path(outbox.db)), self.keep_damaged_days)
            self._prune_processing_log(outbox)
            self._finish_pass(now)
        return deleted

    def _prune_processing_log(self, outbox: Outbox) -> None:
        try:
            pruned = processing_log.prune(outbox.db, self.processing_log_days, limit=self.chunk)
        except StoreError as exc:
            log.warning("retention: processing log not pruned: %s", exc)
            return
        if pruned:
            log.info("retention: deleted %d processing-log entries older than %d days", pruned,
                     self.processing_log_days)  # fmt: skip

    def _finish_pass(self, now: float) -> None:
        self._next_pass = now + self.interval_s
        if self._pass_total:
            log.info(
                "retention: purged %d acknowledged events older than %g days",
                self._pass_total,
                self.max_age.total_seconds() / 86400,
            )
        else:
            log.debug("retention: nothing to purge")
        self._pass_total = 0
