"""The highest ``seq`` this terminal ever committed, kept outside ``kiosk.db``.

``seq`` must never be reused on a terminal, whatever happens to the database file: a
zero-length, truncated, deleted or restored-from-backup ``kiosk.db`` would otherwise start again
at 1, and the central side would hold two different events under one ``seq`` and could not
see the events lost with the file as a gap. So every check-in writes its ``seq`` to
``<data_dir>/kiosk.seq`` (and syncs it) inside the transaction that commits it, before the
commit: the mark is never below a committed ``seq``. It is at most one above (a commit that
failed after the mark was written), which cannot be a ``seq`` anyone saw.

The file is one fixed-size record overwritten in place (no new disk blocks, so it works on a full
disk) with a CRC, so a torn or garbled write is recognised and ignored rather than believed.
"""

from __future__ import annotations

import errno
import logging
import os
import zlib
from pathlib import Path

from common.errors import StoreError, StoreFullError

log = logging.getLogger(__name__)

MARK_NAME = "kiosk.seq"
RECORD_BYTES = 64
_PREFIX = "kiosk-seq-v1"


def _record(seq: int) -> bytes:
    body = f"{_PREFIX} {seq:020d}"
    text = f"{body} {zlib.crc32(body.encode('ascii')):08x}\n"
    return text.encode("ascii").ljust(RECORD_BYTES, b"\n")


def _parse(data: bytes) -> int | None:
    try:
        prefix, seq, crc = data.decode("ascii").split()
    except (UnicodeDecodeError, ValueError):
        return None
    body = f"{prefix} {seq}"
    if prefix != _PREFIX or f"{zlib.crc32(body.encode('ascii')):08x}" != crc:
        return None
    return int(seq)


class SeqMark:
    """The high-water mark of ``seq`` beside the database file at ``db_path``."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(MARK_NAME)

    def read(self) -> int | None:
        """The mark, or None when there is no file or it cannot be trusted (logged)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("%s: cannot read the seq mark: %s", self.path, exc.strerror)
            return None
        seq = _parse(data[:RECORD_BYTES])
        if seq is None:
            log.error("%s: the seq mark is damaged; the database's seq is used", self.path)
        return seq

    def advance(self, seq: int) -> None:
        """Record ``seq`` durably if it is above the mark; StoreError if it cannot be."""
        current = self.read()
        if current is None or current < seq:
            self.write(seq)

    def write(self, seq: int) -> None:
        """Record ``seq`` durably, whatever the mark was; StoreError if it cannot be."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.pwrite(fd, _record(seq), 0)
                os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            error = StoreFullError if exc.errno == errno.ENOSPC else StoreError
            raise error(f"{self.path}: cannot record seq {seq}: {exc.strerror}") from None
