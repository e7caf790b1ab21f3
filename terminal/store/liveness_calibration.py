"""The passive liveness calibration of this kiosk's camera, kept in ``kiosk.db``.

``kiosk calibrate --liveness`` scores genuine captures (and, when the admin made some, attack
captures: a printed photo, a phone screen) on the kiosk's own camera and stores the result here
as one row (table ``liveness_calibration``, :mod:`terminal.store.schema`): the cut-offs, the
recapture model's coefficients as JSON, how many captures of each kind and where they came
from. The pipeline reads it at start and whenever it changes; ``kiosk doctor`` shows it. The
store only keeps the numbers: what they mean belongs to :mod:`terminal.face.passive_liveness`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from common.errors import StoreError
from common.sqlite import classify
from terminal.store.database import db_path, write_transaction


@dataclass(frozen=True)
class StoredLivenessCalibration:
    """One calibration as stored: cut-offs, model coefficients (JSON-ready) and provenance."""

    calibrated_at: str
    pass_below: float
    refuse_above: float
    model: dict[str, Any]
    genuine_count: int
    attack_count: int
    source: str


def save_liveness_calibration(
    db: sqlite_utils.Database, calibration: StoredLivenessCalibration
) -> None:
    """Store ``calibration``, replacing the previous one."""
    with write_transaction(db) as conn:
        conn.execute(
            "INSERT INTO liveness_calibration (id, calibrated_at, pass_below, refuse_above, model,"
            " genuine_count, attack_count, source) VALUES (1, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET calibrated_at = excluded.calibrated_at,"
            " pass_below = excluded.pass_below, refuse_above = excluded.refuse_above,"
            " model = excluded.model, genuine_count = excluded.genuine_count,"
            " attack_count = excluded.attack_count, source = excluded.source",
            (
                calibration.calibrated_at,
                calibration.pass_below,
                calibration.refuse_above,
                json.dumps(calibration.model, sort_keys=True),
                calibration.genuine_count,
                calibration.attack_count,
                calibration.source,
            ),
        )


def load_liveness_calibration(db: sqlite_utils.Database) -> StoredLivenessCalibration | None:
    """The stored calibration, None when the kiosk has none. A row that cannot be read as one
    (damaged JSON) is a :class:`StoreError`."""
    try:
        row = db.conn.execute(
            "SELECT calibrated_at, pass_below, refuse_above, model, genuine_count, attack_count,"
            " source FROM liveness_calibration WHERE id = 1"
        ).fetchone()
    except sqlite3.Error as exc:
        raise classify(exc, db_path(db)) from None
    if row is None:
        return None
    try:
        model = json.loads(row[3])
    except ValueError as exc:
        raise StoreError(f"{db_path(db)}: damaged liveness calibration: {exc}") from None
    if not isinstance(model, dict):
        raise StoreError(f"{db_path(db)}: damaged liveness calibration: model is not an object")
    return StoredLivenessCalibration(
        str(row[0]), float(row[1]), float(row[2]), model, int(row[4]), int(row[5]), str(row[6])
    )


def clear_liveness_calibration(db: sqlite_utils.Database) -> bool:
    """Forget the calibration (back to the shipped defaults); whether there was one."""
    with write_transaction(db) as conn:
        return conn.execute("DELETE FROM liveness_calibration WHERE id = 1").rowcount > 0
