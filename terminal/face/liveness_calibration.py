"""Fitting the passive liveness stage to one kiosk's camera (``kiosk calibrate --liveness``).

An installer stands one or more real people in front of the kiosk's camera (genuine captures)
and, ideally, holds up a printed photo and a phone showing a face (attack captures). Each source
(the live camera for some seconds, a video file, or a folder of images taken with it) is read
frame by frame; the largest face of each frame is scored (:func:`capture_cues`). From the
genuine scores the cut-offs follow (:func:`terminal.face.recapture.calibrate_cutoffs`: about 9
in 10 genuine check-ins pass without a request, every attack capture stays below the pass line,
refusal only well beyond the least live-looking genuine face). With ``fit`` and attack captures,
the site's own coefficients are fitted too (:func:`terminal.face.recapture.fit_recapture_model`);
otherwise the shipped hand-set model is kept and only the cut-offs are the camera's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np

from common.errors import KioskError
from drivers.camera.base import Camera
from drivers.face.base import FaceEngine
from models.messages import format_rfc3339
from terminal.face.recapture import (
    CUE_NAMES,
    DEFAULT_MODEL,
    PassiveCutoffs,
    RecaptureModel,
    calibrate_cutoffs,
    face_crop,
    fit_recapture_model,
    recapture_cues,
)
from terminal.store.liveness_calibration import StoredLivenessCalibration

MIN_GENUINE_FACES = 20
"""Fewer genuine faces than this cannot place a 90th percentile."""
MAX_FACES_PER_SOURCE = 600
"""A source is read until this many faces were scored (or it ends, or its time is up)."""
EVERY_NTH_FRAME = 2
"""Neighbouring frames of a camera are nearly the same picture: every second one is scored."""


class LivenessCalibrationError(KioskError):
    """The captures cannot calibrate the passive liveness stage (too few faces, no source)."""


@dataclass(frozen=True)
class CaptureCues:
    """The recapture cues of the faces one source showed."""

    source: str
    frames: int
    cues: np.ndarray
    """Shape ``(faces, 18)``: one row per frame with a face."""


def capture_cues(
    camera: Camera,
    engine: FaceEngine,
    source: str,
    min_face_px: int,
    seconds: float | None,
    detect_scale: float = 1.0,
) -> CaptureCues:
    """Score the largest face of every :data:`EVERY_NTH_FRAME`-th frame ``camera`` gives, for at
    most ``seconds`` (None: until the source ends) and :data:`MAX_FACES_PER_SOURCE` faces. The
    camera is opened and closed here."""
    rows: list[np.ndarray] = []
    frames = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    with camera:
        while len(rows) < MAX_FACES_PER_SOURCE:
            if deadline is not None and time.monotonic() > deadline:
                break
            frame = camera.read()
            if frame is None:
                break
            frames += 1
            if frames % EVERY_NTH_FRAME:
                continue
            rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
            boxes = engine.detect(rgb, min_face_px, detect_scale)
            crop = face_crop(frame.image, boxes[0]) if boxes else None
            if crop is not None:
                rows.append(recapture_cues(crop))
    return CaptureCues(source, frames, np.array(rows).reshape(-1, len(CUE_NAMES)))


def _rows(captures: Sequence[CaptureCues]) -> np.ndarray:
    return np.vstack([c.cues for c in captures]) if captures else np.zeros((0, len(CUE_NAMES)))


def _quantiles(scores: np.ndarray) -> dict[str, float] | None:
    if scores.size == 0:
        return None
    p5, p50, p95 = np.percentile(scores, (5, 50, 95))
    return {"min": float(scores.min()), "p5": float(p5), "p50": float(p50), "p95": float(p95),
            "max": float(scores.max())}  # fmt: skip


def _shares(cutoffs: PassiveCutoffs, scores: np.ndarray) -> dict[str, float] | None:
    """Share of single frames the cut-offs would pass, ask about and refuse."""
    if scores.size == 0:
        return None
    verdicts = [cutoffs.verdict(float(s)) for s in scores]
    return {kind: verdicts.count(kind) / len(verdicts) for kind in ("live", "ask", "refuse")}  # type: ignore[arg-type]


def calibrate_liveness(
    genuine: Sequence[CaptureCues],
    attacks: Sequence[CaptureCues] = (),
    fit: bool = False,
    now: datetime | None = None,
) -> tuple[StoredLivenessCalibration, dict[str, Any]]:
    """The calibration to store and the figures to show for it.

    Raises :class:`LivenessCalibrationError` with fewer than :data:`MIN_GENUINE_FACES` genuine
    faces, or with ``fit`` and no attack face."""
    genuine_rows, attack_rows = _rows(genuine), _rows(attacks)
    if len(genuine_rows) < MIN_GENUINE_FACES:
        raise LivenessCalibrationError(
            f"only {len(genuine_rows)} genuine faces seen (at least {MIN_GENUINE_FACES} needed):"
            " stand in front of the camera, face it, and capture for longer"
        )
    model: RecaptureModel = DEFAULT_MODEL
    if fit:
        if len(attack_rows) == 0:
            raise LivenessCalibrationError(
                "--fit needs attack captures (--attack: a printed photo, a phone screen)"
            )
        model = fit_recapture_model(genuine_rows, attack_rows, source="fitted at this kiosk")
    genuine_scores = model.scores(genuine_rows)
    attack_scores = model.scores(attack_rows) if len(attack_rows) else np.zeros(0)
    cutoffs = calibrate_cutoffs(genuine_scores, attack_scores if attack_scores.size else None)
    sources = [c.source for c in genuine] + [f"attack {c.source}" for c in attacks]
    stored = StoredLivenessCalibration(
        calibrated_at=format_rfc3339(now or datetime.now(UTC)),
        pass_below=cutoffs.pass_below,
        refuse_above=cutoffs.refuse_above,
        model=model.to_dict(),
        genuine_count=len(genuine_rows),
        attack_count=len(attack_rows),
        source="; ".join(sources),
    )
    figures = {
        "pass_below": cutoffs.pass_below,
        "refuse_above": cutoffs.refuse_above,
        "model": model.source,
        "genuine": {"faces": len(genuine_rows), "scores": _quantiles(genuine_scores),
                    "frames": _shares(cutoffs, genuine_scores)},
        "attacks": {"faces": len(attack_rows), "scores": _quantiles(attack_scores),
                    "frames": _shares(cutoffs, attack_scores)},
        "sources": [{"source": c.source, "frames": c.frames, "faces": len(c.cues)}
                    for c in (*genuine, *attacks)],
    }  # fmt: skip
    return stored, figures
