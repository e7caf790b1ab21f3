"""Is the lower face covered (a surgical mask)? A cheap per-frame test from colour alone.

Recognition with a mask over the nose and mouth is weaker (``kiosk bench masks``), so the
kiosk asks the person to lower it. The face is warped to a frame set by its five landmarks
(x along the eye line in eye distances, y down in eye-to-mouth distances) and two parts of it
are compared:

- the reference: the skin under the eyes and between them, which a surgical mask leaves bare;
- the lower face: the cheeks beside the nose and mouth, and the chin, which a mask covers.

Skin is reddish whatever its tone or the light's brightness (blood under it: Cr above Cb in
YCrCb, which does not depend on brightness); a surgical mask's cloth (light blue, white, grey,
black) is not (Cr at or below Cb). So with the reference's redness ``r`` (its median Cr - Cb),
the score is the share of the lower face whose redness is under ``r`` times
:data:`SKIN_REDNESS_SHARE`: about 0 for a bare face (lips are redder still), near 1 for a
masked one. Images with almost no redness in the reference (infrared, black and white, a
strongly blue light) get no verdict: cloth cannot be told from skin there, so nobody is asked.
A red or pink mask is not detected either.

Measured with ``kiosk bench masks`` (synthetic masks drawn on the shared photos; the cut-off
chosen on half of the people, counted on the other half): 95-98 % of masked faces flagged,
0-0.3 % of bare faces; no frame of the real videos flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SKIN_REDNESS_SHARE = 0.5
"""A lower-face pixel is skin when its redness is at least half the reference skin's: shadows,
stubble and make-up lower it a little, cloth takes it to zero or below."""
MASK_SCORE_CUTOFF = 0.65
"""A face is masked when more than this share of its lower face is not skin: about two thirds,
leaving a bare face room for a beard, a shadow or a hand; a mask covers nearly all of it."""
MIN_REFERENCE_REDNESS = 4.0
"""Cr - Cb units (0-255 scale). Below this the reference skin is too grey to compare with
(the shared photos' bare faces: median 33, 5th percentile 6): no verdict."""

_UNIT_PX = 24
"""Pixels per face unit of the warped face: small, the test looks at colour only."""
_X_RANGE = (-1.2, 1.2)
_Y_RANGE = (-0.4, 1.8)
# Rectangles (x0, x1, y0, y1) in face units (see the module docstring).
_REFERENCE = ((-0.75, -0.2, 0.05, 0.2), (0.2, 0.75, 0.05, 0.2), (-0.15, 0.15, -0.15, 0.1))
_LOWER = ((-0.85, -0.4, 0.5, 1.0), (0.4, 0.85, 0.5, 1.0), (-0.3, 0.3, 1.2, 1.55))


@dataclass(frozen=True)
class MaskReading:
    """What the test saw: ``score`` is the share of the lower face that is not skin-coloured
    (None without a verdict) and ``masked`` the decision at :data:`MASK_SCORE_CUTOFF`."""

    score: float | None
    masked: bool


def _warp(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face in face units (:data:`_UNIT_PX` pixels per unit), as 8-bit YCrCb."""
    points = landmarks.astype(np.float64)
    eyes = (points[0] + points[1]) / 2
    mouth = (points[3] + points[4]) / 2
    across = points[1] - points[0]
    if float(np.linalg.norm(across)) < 1.0:
        across = np.array([1.0, 0.0])
    normal = np.array([-across[1], across[0]]) / np.linalg.norm(across)
    down = normal * float(np.dot(mouth - eyes, normal))
    if float(np.linalg.norm(down)) < 1.0:
        down = normal * float(np.linalg.norm(across))
    # Face unit (x, y) -> image point: eyes + x * across + y * down; shifted to the warp's origin.
    unit_to_image = np.array([across, down]).T
    warp_origin = eyes + unit_to_image @ np.array([_X_RANGE[0], _Y_RANGE[0]])
    to_image = np.hstack([unit_to_image / _UNIT_PX, warp_origin[:, None]])
    size = (
        round((_X_RANGE[1] - _X_RANGE[0]) * _UNIT_PX),
        round((_Y_RANGE[1] - _Y_RANGE[0]) * _UNIT_PX),
    )
    face = cv2.warpAffine(
        rgb,
        to_image,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    ycrcb: np.ndarray = cv2.cvtColor(face, cv2.COLOR_RGB2YCrCb)
    return ycrcb


def _pixels(
    face: np.ndarray, rectangles: tuple[tuple[float, float, float, float], ...]
) -> np.ndarray:
    """The (Cr, Cb) of every warped pixel inside the rectangles (face units)."""
    parts = []
    for x0, x1, y0, y1 in rectangles:
        columns = slice(round((x0 - _X_RANGE[0]) * _UNIT_PX), round((x1 - _X_RANGE[0]) * _UNIT_PX))
        rows = slice(round((y0 - _Y_RANGE[0]) * _UNIT_PX), round((y1 - _Y_RANGE[0]) * _UNIT_PX))
        parts.append(face[rows, columns, 1:].reshape(-1, 2))
    return np.vstack(parts).astype(np.float64)


def mask_score(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Share of the lower face that is not skin-red like the reference (0-1); None when the
    reference skin has too little colour to tell."""
    face = _warp(rgb, landmarks)
    reference = _pixels(face, _REFERENCE)
    reference_redness = float(np.median(reference[:, 0] - reference[:, 1]))
    if reference_redness < MIN_REFERENCE_REDNESS:
        return None
    lower = _pixels(face, _LOWER)
    redness = lower[:, 0] - lower[:, 1]
    return float(np.mean(redness < reference_redness * SKIN_REDNESS_SHARE))


def read_mask(
    rgb: np.ndarray, landmarks: np.ndarray, cutoff: float = MASK_SCORE_CUTOFF
) -> MaskReading:
    """The mask test on one face: its score and whether it is above ``cutoff``."""
    score = mask_score(rgb, landmarks)
    return MaskReading(score, score is not None and score > cutoff)
