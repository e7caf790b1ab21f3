"""The passive liveness calibration in kiosk.db: stored, replaced, read back, cleared, and a
damaged row refused with a clear error (real SQLite files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import StoreError
from terminal.face.passive_liveness import UNCALIBRATED_CUTOFFS, PassiveLiveness
from terminal.face.recapture import DEFAULT_MODEL
from terminal.store.database import open_database, write_transaction
from terminal.store.liveness_calibration import (
    StoredLivenessCalibration,
    clear_liveness_calibration,
    load_liveness_calibration,
    save_liveness_calibration,
)


def _calibration(pass_below: float, when: str) -> StoredLivenessCalibration:
    return StoredLivenessCalibration(when, pass_below, 0.99, DEFAULT_MODEL.to_dict(), 40, 3, "0")


def test_a_calibration_is_stored_replaced_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    db = open_database(path)
    assert load_liveness_calibration(db) is None
    save_liveness_calibration(db, _calibration(0.2, "2026-12-01T08:00:00Z"))
    save_liveness_calibration(db, _calibration(0.3, "2026-12-02T08:00:00Z"))
    db.conn.close()

    db = open_database(path)
    stored = load_liveness_calibration(db)
    assert stored == _calibration(0.3, "2026-12-02T08:00:00Z")
    passive = PassiveLiveness.from_stored(stored)
    assert (passive.cutoffs.pass_below, passive.calibrated_at) == (0.3, "2026-12-02T08:00:00Z")
    assert passive.model == DEFAULT_MODEL
    assert clear_liveness_calibration(db) is True
    assert load_liveness_calibration(db) is None
    assert PassiveLiveness.from_stored(None).cutoffs == UNCALIBRATED_CUTOFFS
    db.conn.close()


def test_a_damaged_calibration_is_a_store_error_naming_the_file(tmp_path: Path) -> None:
    db = open_database(tmp_path / "kiosk.db")
    save_liveness_calibration(db, _calibration(0.2, "2026-12-01T08:00:00Z"))
    with write_transaction(db) as conn:
        conn.execute("UPDATE liveness_calibration SET model = '{not json'")
    with pytest.raises(StoreError, match=r"kiosk\.db: damaged liveness calibration"):
        load_liveness_calibration(db)
    db.conn.close()
