"""``seq`` is never reused on a terminal, whatever happens to ``kiosk.db`` (real SQLite files)."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.errors import StoreError
from models.messages import Method
from terminal.store.database import open_or_quarantine, write_transaction
from terminal.store.outbox import CheckInDraft, Outbox
from terminal.store.seq_mark import MARK_NAME, SeqMark


def _draft() -> CheckInDraft:
    return CheckInDraft("E1001", Method.QR, datetime.now(UTC))


def _commit(path: Path, count: int) -> list[int]:
    outbox = Outbox.open(path, "k1", "hq")
    try:
        return [outbox.commit_checkin(_draft(), clock_synced=True).seq for _ in range(count)]
    finally:
        outbox.close()


def _restart_and_commit(path: Path) -> tuple[int, Path | None]:
    """What a daemon does at start (open_or_quarantine), then one check-in: its seq."""
    db, moved = open_or_quarantine(path)
    outbox = Outbox(db, "k1", "hq")
    try:
        return outbox.commit_checkin(_draft(), clock_synced=True).seq, moved
    finally:
        outbox.close()


def _critical(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]


def test_every_commit_moves_the_mark_outside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    assert _commit(path, 3) == [1, 2, 3]
    assert SeqMark(path).read() == 3
    assert (tmp_path / MARK_NAME).stat().st_size == 64


def test_a_zero_length_database_is_quarantined_and_seq_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 5)
    path.write_bytes(b"")  # what a power cut during a careless copy leaves

    seq, moved = _restart_and_commit(path)
    assert seq == 6, "seq restarted"
    assert moved is not None and moved.exists() and moved.stat().st_size == 0
    assert any("is empty (zero length)" in line and "seq 5" in line for line in _critical(caplog))


def test_a_truncated_database_is_quarantined_and_seq_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 200)
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 3)

    seq, moved = _restart_and_commit(path)
    assert seq == 201
    assert moved is not None and moved.exists()
    assert _critical(caplog)


def test_a_deleted_database_does_not_restart_seq(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 4)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    seq, moved = _restart_and_commit(path)
    assert (seq, moved) == (5, None)
    assert any("is missing" in line for line in _critical(caplog))


def test_an_older_copy_put_back_does_not_reuse_seq(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 3)
    shutil.copy(path, tmp_path / "backup.db")  # closed cleanly: the WAL is in the file
    _commit(path, 4)
    shutil.copy(tmp_path / "backup.db", path)

    seq, moved = _restart_and_commit(path)
    assert (seq, moved) == (8, None)
    assert any("holds seq only up to 3" in line for line in _critical(caplog))


def test_a_commit_that_failed_after_the_mark_leaves_no_gap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 2)
    outbox = Outbox.open(path, "k1", "hq")
    with write_transaction(outbox.db) as conn:  # the real SQLite refuses the next event
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    with pytest.raises(StoreError):
        outbox.commit_checkin(_draft(), clock_synced=True)
    assert SeqMark(path).read() == 3
    with write_transaction(outbox.db) as conn:
        conn.execute("DROP TRIGGER refuse")
    outbox.close()

    seq, _ = _restart_and_commit(path)
    assert seq == 3, "a seq nobody saw is used, not skipped"
    assert not _critical(caplog)


def test_a_damaged_mark_is_ignored_and_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 3)
    mark = tmp_path / MARK_NAME
    mark.write_bytes(mark.read_bytes().replace(b"3", b"9"))  # a torn write: the CRC fails

    assert SeqMark(path).read() is None
    seq, _ = _restart_and_commit(path)
    assert seq == 4
    assert SeqMark(path).read() == 4
    assert any("seq mark is damaged" in r.getMessage() for r in caplog.records)


def test_a_store_from_before_the_mark_gets_one_at_start(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    _commit(path, 3)
    (tmp_path / MARK_NAME).unlink()  # as an earlier release left it

    db, _ = open_or_quarantine(path)
    db.conn.close()
    assert SeqMark(path).read() == 3


def test_nothing_to_go_by_starts_above_any_reachable_seq(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    path.write_bytes(b"not a database" * 100)  # damaged, and no mark

    seq, moved = _restart_and_commit(path)
    assert moved is not None
    assert seq > 1_000_000_000_000
