"""The data directory's lock: one holder at a time, given up on release."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from common.errors import StoreError
from terminal.store.data_dir_lock import DataDirLock


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = DataDirLock(data)
    first.acquire()
    assert (data / "kiosk.lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(StoreError, match=rf"already running .*\(pid {os.getpid()}\)"):
        DataDirLock(data).acquire()
    first.release()
    with DataDirLock(data), pytest.raises(StoreError, match="already running"):
        DataDirLock(data).acquire()
    DataDirLock(data).acquire()


def test_an_unwritable_data_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the lock file"):
        DataDirLock(blocker / "data").acquire()
