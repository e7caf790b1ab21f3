"""Room for check-ins on a real disk: a reserve kept free for delivery, and free pages reused.

SQLite needs disk space for every write, acknowledgements and purges included: in WAL mode a
transaction appends its pages to ``kiosk.db-wal`` before a checkpoint copies them into the
database. If check-ins may take the last free block, the kiosk can no longer record the
central side's acknowledgements nor delete what they made safe, and delivery stalls on a full
disk. So a check-in may take new disk space only while more than ``reserve`` bytes stay free
on the data directory's file system; below that it may only reuse pages the database already
holds (``PRAGMA freelist_count``: pages left by purged events). The reserve is what the sync's
bookkeeping writes with.

Something else may fill the disk (logs, a core dump) down to the last byte. For that, the kiosk
keeps a ballast: ``kiosk.ballast``, :data:`BALLAST_BYTES` of blocks it holds in the data
directory. When the database cannot be opened or an acknowledgement or purge cannot be written
for lack of space, the ballast is deleted and the write tried again: room to open the database
(its ``-shm`` and ``-wal`` files) and to deliver. While the ballast is gone, check-ins only reuse
room inside the database; it is put back as soon as the disk has room for it again.

The WAL is kept small and in place: a checkpoint every :data:`WAL_CHECKPOINT_PAGES` pages
(SQLite's default of 1,000 let a 3 MB disk fill with WAL before the first one), and after a
checkpoint the file is cut back to at most :data:`WAL_KEEP_BYTES` but not below, so the WAL
reuses blocks it already has instead of asking the file system for new ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

WAL_CHECKPOINT_PAGES = 64
"""Pages in the WAL after which a commit checkpoints it into the database (256 KiB)."""
WAL_KEEP_BYTES = 1 << 20
"""Size the WAL file is cut back to after a checkpoint, when it grew beyond it."""
BALLAST_NAME = "kiosk.ballast"
BALLAST_BYTES = 2 << 20
"""Size of the ballast: the WAL kept in place, the ``-shm`` file and room to spare."""
CHECKIN_PAGES = 4
"""Free pages inside the database that are room enough for one more check-in: its row and
index entries mostly fit in pages that exist, and a page split takes one or two new pages. If
SQLite still needs more, the write fails as "disk full" and nothing is half-written."""


def configure_wal(conn: sqlite3.Connection) -> None:
    """Set this connection's checkpoint interval and WAL size limit (neither writes)."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_KEEP_BYTES}")


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system of ``directory``."""
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def ballast_fits(free: int, reserve_bytes: int) -> bool:
    """Whether ``free`` bytes are room to put the ballast back: the ballast, the reserve and
    a ballast's worth more, so that putting it back does not take the room its release gave."""
    return free >= 2 * BALLAST_BYTES + reserve_bytes


@dataclass(frozen=True)
class Room:
    """What :meth:`DiskRoom.measure` found, and whether a check-in may be written."""

    free_bytes: int
    reserve_bytes: int
    free_pages: int
    ballast: bool

    @property
    def allows_checkin(self) -> bool:
        """Above the reserve with the ballast in place, or room to reuse inside the database."""
        above = self.ballast and self.free_bytes > self.reserve_bytes
        return above or self.free_pages >= CHECKIN_PAGES

    def describe(self) -> str:
        """One line for the refusal: what is free and what is kept back."""
        return (
            f"{self.free_bytes / 2**20:.1f} MiB free on the disk, {self.reserve_bytes / 2**20:g}"
            " MiB kept for delivering what is stored"
        )


class DiskRoom:
    """The room for check-ins beside the database file at ``path``, and its ballast.

    ``reserve_mb`` is the space check-ins leave free for delivery (``[storage] reserve_mb``);
    0: no reserve and no ballast, only a truly full disk stops check-ins.
    """

    def __init__(self, path: Path, reserve_mb: float) -> None:
        self.directory = path.parent
        self.ballast_path = self.directory / BALLAST_NAME
        self.reserve_bytes = int(reserve_mb * 2**20)

    def measure(self, conn: sqlite3.Connection) -> Room:
        """Free bytes on the disk and free pages in the database, read now (no write); the
        ballast is put back first if it is missing and the disk has room for it."""
        ballast = self.restore_ballast()
        try:
            free = free_bytes(self.directory)
        except OSError:
            free = 0
        (pages,) = conn.execute("PRAGMA freelist_count").fetchone()
        return Room(free, self.reserve_bytes, int(pages), ballast)

    def restore_ballast(self) -> bool:
        """Make sure the ballast holds its blocks; False when the disk has no room for it.
        Without a reserve there is no ballast either (True)."""
        if not self.reserve_bytes:
            return True
        try:
            size = self.ballast_path.stat().st_size
        except FileNotFoundError:
            size = 0
        except OSError:
            return False
        if size >= BALLAST_BYTES:
            return True
        try:
            if not ballast_fits(free_bytes(self.directory) + size, self.reserve_bytes):
                return False
            fd = os.open(self.ballast_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        try:
            os.posix_fallocate(fd, 0, BALLAST_BYTES)
            os.fsync(fd)
        except OSError:
            self.ballast_path.unlink(missing_ok=True)
            return False
        finally:
            os.close(fd)
        log.info("disk room: ballast %s in place (%d MiB)", self.ballast_path, BALLAST_BYTES >> 20)
        return True

    def release_ballast(self) -> bool:
        """Delete the ballast to give its room to the database, if the disk is nearly full;
        False if it was not (or there was no ballast)."""
        try:
            if free_bytes(self.directory) >= BALLAST_BYTES:
                return False
        except OSError:
            pass
        try:
            self.ballast_path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.error("disk full: cannot delete the ballast %s: %s", self.ballast_path, exc)
            return False
        log.warning(
            "disk full: released the kiosk's %d MiB ballast (%s) so the database can be opened"
            " and delivery goes on; check-ins only reuse room freed by delivery until there is"
            " space again",
            BALLAST_BYTES >> 20,
            self.ballast_path,
        )
        return True

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL into the database now, while the reserve still has room for the pages
        it adds; afterwards acknowledgements and purges only rewrite pages that exist, which
        a full disk allows. Outside a transaction; a checkpoint that cannot finish is harmless."""
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
