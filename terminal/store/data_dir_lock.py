"""One kiosk per data directory: an exclusive lock held for as long as the daemon runs.

Two daemons on the same ``kiosk.db`` would take over each other's MQTT session (the same client
id) again and again and deliver every event twice. The daemon takes an advisory lock
(``flock``) on ``<data_dir>/kiosk.lock`` before it opens anything else and keeps it until it
exits; the kernel drops it when the process dies, even by ``kill -9``, so a stale lock is never
left behind. A second daemon is refused with one line naming the first one's pid. Other commands
(``kiosk enroll``, ``kiosk events``) do not take it: SQLite keeps their writes safe beside a
running daemon.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from common.errors import StoreError

LOCK_NAME = "kiosk.lock"


class DataDirLock:
    """The exclusive lock on a data directory (a context manager: acquire, then release)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`StoreError` if another process holds it."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot open the lock file: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise StoreError(
                f"{self.path.parent}: another kiosk is already running on this data directory"
                f"{who}; stop it first (systemctl stop kiosk)"
            ) from None
        _write_pid(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the file stays: removing it would race a starting daemon)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _write_pid(fd: int) -> None:
    # For the refusal message only: on a full disk the pid is simply not written.
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass
