"""OpenCV's own face API: YuNet detection (5 landmarks) and the SFace 128-d embedding.

Both models are Apache-2.0, from the OpenCV Zoo (int8 block-quantised files). Distances are
cosine distances (``1 - cosine similarity``) between unit-length embeddings.

Under OpenCV 5, ``FaceRecognizerSF.feature()`` fails on the int8 SFace file, so the embedding
net is run through ``cv2.dnn`` with its named input ``data``: the face aligned by
``FaceRecognizerSF.alignCrop`` (112x112), RGB, raw 0-255 pixels (the graph subtracts its mean).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.face.base import Box, FaceEngine, FaceEngineUnavailable

DETECT_FACE_PX = 40
"""Faces are detected on a frame shrunk so that the smallest wanted face is about this tall."""
MIN_DETECT_FACTOR = 0.25
SCORE_THRESHOLD = 0.7
NMS_THRESHOLD = 0.3
CROP_MARGIN = 0.6
"""When encode() gets a box it did not detect, YuNet looks again in the box widened by this."""


class SFaceEngine(FaceEngine):
    """YuNet + SFace. Not thread-safe: one engine per thread."""

    name = "sface"
    dim = 128
    default_tolerance = 0.41
    """Cosine distance 0.41 (similarity 0.59). The rule: the loosest tolerance at which no
    stranger and no wrong person is accepted, each person enrolled with one photo and every
    photo also probed as a stranger against everyone else, minus a safety of 0.04. Over the 76
    people of ``../shared/faces_east_asian`` (lfw, nuaa_webcam, kpop_crops) and
    ``../shared/faces`` the loosest is 0.4558. Cross-validated (``kiosk calibrate --open-set
    --folds 5``: thresholds chosen on 4/5 of the people, counted on the others), the rule
    accepts no stranger (0 of 219 probes) and no wrong person; the former 0.59 accepted 10
    wrong-person and 45 stranger probes there. See docs/recognition.md, "Calibrating thresholds"."""
    default_margin = 0.05
    """Kept: cross-validated, SFace without a margin accepts as many genuine probes and, on the
    East Asian set, one wrong person more (docs/recognition.md, ``kiosk calibrate --compare``)."""

    def __init__(self, detector_model: Path, recognizer_model: Path) -> None:
        for path in (detector_model, recognizer_model):
            if not path.is_file():
                raise FaceEngineUnavailable(f"{path}: model file missing")
        self._paths = (detector_model, recognizer_model)
        self._digest: str | None = None
        # OpenCV 5 warns on every net load that the new graph engine ignores targets.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._detector: Any = cv2.FaceDetectorYN.create(
                str(detector_model), "", (320, 240), SCORE_THRESHOLD, NMS_THRESHOLD, 5000
            )
            self._aligner: Any = cv2.FaceRecognizerSF.create(str(recognizer_model), "")
            self._net: Any = cv2.dnn.readNetFromONNX(str(recognizer_model))
        except cv2.error as exc:
            raise FaceEngineUnavailable(f"cannot load the YuNet/SFace models: {exc}") from None
        # The last detect(): its RGB image (held, so identity checks stay valid), the BGR copy
        # the models need, and the YuNet row of each box it returned.
        self._last_rgb: np.ndarray | None = None
        self._last_bgr: np.ndarray | None = None
        self._detected: dict[Box, np.ndarray] = {}

    @property
    def model_digest(self) -> str:
        """sha256 over both model files."""
        if self._digest is None:
            digest = hashlib.sha256()
            for path in self._paths:
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
            self._digest = digest.hexdigest()
        return self._digest

    def _run_detector(self, bgr: np.ndarray, factor: float) -> np.ndarray:
        """YuNet rows (x, y, w, h, 5 landmarks, score) in the coordinates of ``bgr``."""
        small = bgr
        if factor < 1.0:
            small = cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        height, width = small.shape[:2]
        self._detector.setInputSize((width, height))
        _, rows = self._detector.detect(small)
        if rows is None:
            return np.zeros((0, 15), dtype=np.float32)
        rows = rows.astype(np.float32)
        rows[:, :14] /= factor
        return rows

    def detect(self, rgb: np.ndarray, min_face_px: int, scale: float = 1.0) -> list[Box]:
        """Faces at least ``min_face_px`` tall, largest first."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        factor = min(scale, max(MIN_DETECT_FACTOR, DETECT_FACE_PX / max(min_face_px, 1)), 1.0)
        rows = self._run_detector(bgr, factor)
        found: dict[Box, np.ndarray] = {}
        for row in sorted(rows, key=lambda r: -float(r[2] * r[3])):
            x, y, w, h = (float(v) for v in row[:4])
            if h < min_face_px:
                continue
            box = (round(y), round(x + w), round(y + h), round(x))
            found[box] = row
        self._last_rgb, self._last_bgr, self._detected = rgb, bgr, found
        return list(found)

    def _bgr_of(self, rgb: np.ndarray) -> np.ndarray:
        if rgb is self._last_rgb and self._last_bgr is not None:
            return self._last_bgr
        bgr: np.ndarray = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return bgr

    def _landmarks_for(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        if rgb is self._last_rgb and box in self._detected:
            return self._detected[box]
        bgr = self._bgr_of(rgb)
        top, right, bottom, left = box
        pad_y, pad_x = int((bottom - top) * CROP_MARGIN), int((right - left) * CROP_MARGIN)
        y0, x0 = max(0, top - pad_y), max(0, left - pad_x)
        crop = bgr[y0 : bottom + pad_y, x0 : right + pad_x]
        rows = self._run_detector(np.ascontiguousarray(crop), 1.0)
        if len(rows) == 0:
            # No landmarks: align the box itself (a plain crop; less accurate).
            w, h = right - left, bottom - top
            row = np.zeros(15, dtype=np.float32)
            row[:4] = (left, top, w, h)
            row[4:14] = (
                left + 0.34 * w, top + 0.46 * h, left + 0.66 * w, top + 0.46 * h,
                left + 0.5 * w, top + 0.64 * h, left + 0.37 * w, top + 0.82 * h,
                left + 0.63 * w, top + 0.82 * h,
            )  # fmt: skip
            return row
        row = max(rows, key=lambda r: float(r[2] * r[3])).copy()
        row[0:14:2] += x0
        row[1:14:2] += y0
        return row

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        """YuNet's five points for ``box`` (from the last detect on ``rgb``, else found again)."""
        points: np.ndarray = self._landmarks_for(rgb, box)[4:14].reshape(5, 2)
        return points

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """Unit-length float32 embeddings, one per box."""
        if not boxes:
            return []
        bgr = self._bgr_of(rgb)
        embeddings = []
        for box in boxes:
            aligned = self._aligner.alignCrop(bgr, self._landmarks_for(rgb, box))
            blob = cv2.dnn.blobFromImage(aligned, 1.0, (112, 112), (0, 0, 0), swapRB=True)
            self._net.setInput(blob, "data")
            vector = np.asarray(self._net.forward(), dtype=np.float32).reshape(-1)
            embeddings.append(vector / max(float(np.linalg.norm(vector)), 1e-12))
        return embeddings

    @staticmethod
    def distances(gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:
        """Cosine distance from ``probe`` to every (unit-length) row of ``gallery``."""
        unit = probe / max(float(np.linalg.norm(probe)), 1e-12)
        result: np.ndarray = 1.0 - gallery @ unit.astype(np.float32)
        return result
