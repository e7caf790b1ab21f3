"""Start-up as one ordered method: a step that fails stops everything the earlier steps started."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from common.errors import FaceEngineError
from terminal.config import Config
from terminal.daemon import Daemon
from terminal.store.data_dir_lock import DataDirLock
from tests.mosquitto import Mosquitto


def test_a_face_engine_that_fails_to_load_stops_the_sync_and_closes_the_store(
    tmp_path: Path, broker: Mosquitto
) -> None:
    empty_models = tmp_path / "no-models"
    empty_models.mkdir()
    config = Config.model_validate(
        {
            "terminal": {"id": "kiosk-s1", "site": "lab"},
            "camera": {"source": str(tmp_path / "no-such.mp4")},
            "storage": {"data_dir": tmp_path / "data"},
            "recognition": {"engine": "sface", "models_dir": empty_models},
            "mqtt": {"url": broker.url},
        }
    )
    daemon = Daemon(config)
    failures: list[BaseException] = []

    def run() -> None:  # not the main thread: the test process keeps its signal handlers
        try:
            daemon.run()
        except BaseException as exc:
            failures.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], FaceEngineError), failures
    assert daemon.sync_thread is not None, "the sync had started before the pipeline failed"
    assert not daemon.sync_thread.is_alive()
    assert daemon.stop.is_set()
    assert daemon.outbox is not None
    with pytest.raises(sqlite3.ProgrammingError):
        daemon.outbox.db.conn.execute("SELECT 1")
    with DataDirLock(config.storage.data_dir):
        pass  # the data directory's lock was given up too
