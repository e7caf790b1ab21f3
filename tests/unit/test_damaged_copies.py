"""Damaged copies of kiosk.db (real SQLite files): a removed person leaves them too, and they
expire with retention."""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from terminal.store import damaged_copies
from terminal.store.database import open_database, open_or_quarantine
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from terminal.store.retention import Retention
from tests.consent_tools import TRANSFER

EMBEDDING = np.linspace(-1, 1, 128, dtype=np.float32)


def _enrolled_then_damaged(tmp_path: Path) -> tuple[Path, Path]:
    """A kiosk.db holding E1 with a template, damaged and moved aside at start; the new
    database has E1 again (the roster came back). Returns (database, damaged copy)."""
    path = tmp_path / "kiosk.db"
    db = open_database(path)
    Gallery(db).add_person("E1", "张三", [EMBEDDING], "sface", "d", ["a.jpg"], consent=TRANSFER)
    Gallery(db).add_person("E2", "李四", [EMBEDDING], "sface", "d", ["b.jpg"], consent=TRANSFER)
    db.conn.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page is gone; the data pages are not
    path.write_bytes(bytes(data))
    db, moved = open_or_quarantine(path)
    assert moved is not None
    Gallery(db).add_person("E1", "张三", [EMBEDDING], "sface", "d", ["a.jpg"], consent=TRANSFER)
    db.conn.close()
    return path, moved


def _people_in(copy: Path) -> list[str]:
    conn = sqlite3.connect(copy)
    try:
        return [row[0] for row in conn.execute("SELECT person_id FROM people ORDER BY 1")]
    finally:
        conn.close()


def test_removing_a_person_removes_them_from_a_damaged_copy_sqlite_can_still_write(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kiosk.db"
    db = open_database(path)
    Gallery(db).add_person("E1", "张三", [EMBEDDING], "sface", "d", ["a.jpg"], consent=TRANSFER)
    Gallery(db).add_person("E2", "李四", [EMBEDDING], "sface", "d", ["b.jpg"], consent=TRANSFER)
    db.conn.close()
    copy = tmp_path / "kiosk.db.corrupt-20261201T080000"
    os.rename(path, copy)  # moved aside, e.g. after a failed quick check that left it readable
    db = open_database(path)
    Gallery(db).add_person("E1", "张三", [EMBEDDING], "sface", "d", ["a.jpg"], consent=TRANSFER)

    Gallery(db).remove("E1")
    db.conn.close()
    assert _people_in(copy) == ["E2"]
    conn = sqlite3.connect(copy)
    try:
        assert conn.execute("SELECT person_id FROM templates").fetchall() == [("E2",)]
    finally:
        conn.close()
    assert "张三".encode() not in copy.read_bytes(), "secure_delete must overwrite the name"


def test_a_copy_too_damaged_to_change_is_named_for_the_admin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, moved = _enrolled_then_damaged(tmp_path)
    db = open_database(path)
    Gallery(db).remove("E1")
    db.conn.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(str(moved) in e and "delete the copy" in e for e in errors), errors


def test_retention_deletes_damaged_copies_past_their_days(tmp_path: Path) -> None:
    path, moved = _enrolled_then_damaged(tmp_path)
    fresh = tmp_path / "kiosk.db.corrupt-20991231T000000"
    fresh.write_bytes(b"newer damaged copy")
    old = time.time() - 31 * 86400
    os.utime(moved, (old, old))
    outbox = Outbox.open(path, "k1", "hq")
    try:
        Retention(30, keep_damaged_days=30).maybe_purge(outbox)
    finally:
        outbox.close()
    assert not moved.exists() and not Path(f"{moved}-wal").exists()
    assert damaged_copies.copies(path) == [fresh]
