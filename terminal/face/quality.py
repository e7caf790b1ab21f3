"""Quality gates before a face is embedded: the kiosk asks for a better look instead of guessing.

A face that is cut off by the frame edge, turned away, tilted or blurred is not encoded; the
person is told what to do. Thresholds were read off real data (``../shared/faces`` photos and
webcam videos, NUAA webcam frames, and the same photos blurred):

- sharpness (variance of the Laplacian of the face resized to 112 px, grey): sharp webcam faces
  >= 53 (5th percentile), photos blurred by 2 px (at 112 px) <= 23;
- yaw proxy (nose offset from the eyes' midpoint / eye distance): frontal photos <= 0.35, heads
  turned to the side up to 0.9;
- roll (angle of the eye line): frontal faces within 11 degrees (95th percentile);
- a mask over the nose and mouth (:mod:`terminal.face.mask`): recognition with one accepts
  fewer employees (``kiosk bench masks``), so the person is asked to lower it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drivers.face.base import Box
from terminal.face.mask import read_mask

MIN_SHARPNESS = 30.0
MAX_YAW = 0.45
MAX_ROLL_DEG = 30.0
EDGE_MARGIN = 0.01
"""A face box this close to the frame border (fraction of the frame) is taken as cut off:
detectors clip their boxes to the image, so a face half out of view still fits inside it."""


@dataclass(frozen=True)
class FaceQuality:
    """The measurements and the verdict: ``hint`` is None when the face is fit to encode."""

    sharpness: float
    yaw: float | None
    roll_deg: float | None
    hint: str | None

    @property
    def ok(self) -> bool:
        """Whether the face may be encoded."""
        return self.hint is None


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian of the face, resized to 112x112 grey (higher is sharper)."""
    top, right, bottom, left = box
    height, width = rgb.shape[:2]
    crop = rgb[max(0, top) : min(height, bottom), max(0, left) : min(width, right)]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.ndim == 3 else crop
    face = cv2.resize(gray, (112, 112), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(face, cv2.CV_64F).var())


def pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw proxy, roll in degrees) from five landmarks (eyes, nose, mouth corners)."""
    right_eye, left_eye, nose = landmarks[0], landmarks[1], landmarks[2]
    eye_distance = max(float(np.linalg.norm(left_eye - right_eye)), 1.0)
    yaw = (float(nose[0]) - float(right_eye[0] + left_eye[0]) / 2) / eye_distance
    roll = float(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])))
    return yaw, roll


def _touches_edge(box: Box, height: int, width: int) -> bool:
    top, right, bottom, left = box
    margin_y, margin_x = EDGE_MARGIN * height, EDGE_MARGIN * width
    return (
        top <= margin_y
        or left <= margin_x
        or bottom >= height - margin_y
        or right >= width - margin_x
    )


def assess(rgb: np.ndarray, box: Box, landmarks: np.ndarray | None) -> FaceQuality:
    """Judge one detected face; the hint names what the person should do
    (``center_face``, ``look_at_camera``, ``lower_mask``, ``hold_still``)."""
    height, width = rgb.shape[:2]
    sharp = sharpness(rgb, box)
    yaw = roll = None
    if landmarks is not None:
        yaw, roll = pose(landmarks)
    hint = None
    if _touches_edge(box, height, width):
        hint = "center_face"
    elif yaw is not None and roll is not None and (abs(yaw) > MAX_YAW or abs(roll) > MAX_ROLL_DEG):
        hint = "look_at_camera"
    elif landmarks is not None and read_mask(rgb, landmarks).masked:
        hint = "lower_mask"
    elif sharp < MIN_SHARPNESS:
        hint = "hold_still"
    return FaceQuality(sharp, yaw, roll, hint)
