"""The liveness check: which mode, and whether the passive stage is calibrated on this camera."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from common.errors import StoreError
from terminal.config import Config
from terminal.doctor.database import open_read_only
from terminal.doctor.result import CheckResult, passed, warned
from terminal.face.passive_liveness import UNCALIBRATED_CUTOFFS
from terminal.store.liveness_calibration import (
    StoredLivenessCalibration,
    load_liveness_calibration,
)

_CALIBRATE = (
    "with the kiosk stopped and a person facing the camera, run `kiosk calibrate --liveness`"
    " (add --attack with a printed photo and a phone held up, if you can)"
)


def _stored(config: Config) -> StoredLivenessCalibration | None:
    path = config.database_path
    if not path.exists():
        return None
    conn = open_read_only(path)
    try:
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'liveness_calibration'"
        ).fetchone()
        return load_liveness_calibration(sqlite_utils.Database(conn)) if found else None
    finally:
        conn.close()


def check_liveness(config: Config) -> CheckResult:
    """The ``[liveness]`` mode and, in ``passive`` mode, the stored calibration."""
    mode = config.liveness.mode
    if mode == "off":
        return warned("liveness", "off: a photo of an employee checks them in",
                      'set [liveness] mode = "passive" (or "strict")', mode=mode)  # fmt: skip
    if config.recognition.engine == "dlib":
        return warned("liveness", f"{mode}, but the dlib engine gives no landmarks: nobody can be"
                      " asked to turn, so only the passive stage (if on) checks faces",
                      'use [recognition] engine = "sface"', mode=mode)  # fmt: skip
    if mode == "strict":
        return passed("liveness", "strict: every recognised face is asked to turn its head",
                      mode=mode)  # fmt: skip
    try:
        stored = _stored(config)
    except (sqlite3.Error, StoreError) as exc:
        return warned("liveness", f"passive; its calibration cannot be read ({exc}): the"
                      " uncalibrated defaults apply", _CALIBRATE, mode=mode)  # fmt: skip
    if stored is None:
        cutoffs = UNCALIBRATED_CUTOFFS
        detail = (
            "passive, not calibrated on this camera: only very clear faces pass without a head"
            f" turn (score below {cutoffs.pass_below:g}), none is refused on its score"
        )
        return warned("liveness", detail, _CALIBRATE, mode=mode, calibrated=False,
                      pass_below=cutoffs.pass_below, refuse_above=cutoffs.refuse_above)  # fmt: skip
    detail = (
        f"passive, calibrated {stored.calibrated_at} on {stored.genuine_count} genuine and"
        f" {stored.attack_count} attack faces (model {stored.model.get('source', '?')}):"
        f" pass below {stored.pass_below:.4g}, refuse from {stored.refuse_above:.4g}"
    )
    return passed("liveness", detail, mode=mode, calibrated=True,
                  calibrated_at=stored.calibrated_at, pass_below=stored.pass_below,
                  refuse_above=stored.refuse_above, genuine_count=stored.genuine_count,
                  attack_count=stored.attack_count, source=stored.source)  # fmt: skip
