"""Passive liveness from one face crop: does it look like a recapture (a print or a screen)?

A photo of a printed photo or of a phone screen has gone through a second camera and a second
medium: fine detail is lost or replaced by print dots and screen pixels, colours are flattened
and shifted, and glossy paper or glass adds white highlights. :func:`recapture_cues` measures 18
cheap cues of that on the face crop (NumPy and OpenCV only; 2-3 ms a crop on this 2-core
machine, ``kiosk bench liveness``); :class:`RecaptureModel` turns them into a score with a
logistic function: 0 looks like a live face, 1 like a recapture.

The cues depend on the camera (its sharpness above all), so a model's cut-offs belong to the
kiosk that took the pictures: :func:`fit_recapture_model` fits a site's own coefficients from
its own genuine and attack captures, and :data:`DEFAULT_MODEL` is a hand-set fallback (see its
comment) that is not fitted on any data set.

A second cue needs a few frames: a kiosk camera is fixed, so the background behind a real
person stays still, while a photo or phone held up by hand moves with the face in it
(:func:`frame_motion`, :func:`background_moving_share`). :class:`PassiveCutoffs` combines the
two into ``live`` (check in without a request), ``refuse``, or ``ask`` (the head-turn request of
:mod:`terminal.face.liveness`), with cut-offs from :func:`calibrate_cutoffs`.

The pipeline uses them through :mod:`terminal.face.passive_liveness` (``[liveness] mode =
"passive"``); ``kiosk bench liveness`` measures them beside the head turn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np

from drivers.face.base import Box

CROP_PX = 112
"""Side of the square face crop the cues are measured on."""
CROP_MARGIN = 0.1
"""The crop reaches this fraction of the box's size beyond each side of the box."""

CUE_NAMES: tuple[str, ...] = (
    "band_low",  # share of spectral energy at 0.02-0.10 cycles/px
    "band_mid",  # ... at 0.10-0.25 cycles/px
    "band_high",  # ... at 0.25-0.50 cycles/px
    "high_to_low",  # log of band_high / band_low
    "high_peakiness",  # log of the high band's largest value over its median: print dots, moire
    "laplacian",  # log variance of the Laplacian: sharpness
    "gradient",  # log mean squared Sobel gradient
    "reblur",  # log mean change when blurred once more: little change, already blurred
    "saturation_mean",
    "saturation_std",
    "value_std",
    "hue_entropy",  # bits, over the pixels with some colour
    "cr_std",
    "cb_std",
    "cr_minus_cb",  # mean Cr - Cb: skin's red shift, flattened by print and screen
    "specular",  # share of near-white, colourless pixels: gloss of paper or glass
    "luma_range",  # 99th - 1st percentile of Y, 0-1: contrast lost in a recapture
    "dark_channel",  # mean of each pixel's darkest channel, 0-1: haze of a print or screen
)


def face_crop(image_bgr: np.ndarray, box: Box) -> np.ndarray | None:
    """The face in ``box`` with a small margin, resized to :data:`CROP_PX` square (BGR);
    None when the box lies outside the image."""
    top, right, bottom, left = box
    margin_y, margin_x = CROP_MARGIN * (bottom - top), CROP_MARGIN * (right - left)
    height, width = image_bgr.shape[:2]
    y0, y1 = max(0, int(top - margin_y)), min(height, int(bottom + margin_y))
    x0, x1 = max(0, int(left - margin_x)), min(width, int(right + margin_x))
    if y1 - y0 < 8 or x1 - x0 < 8:
        return None
    crop = image_bgr[y0:y1, x0:x1]
    return cv2.resize(crop, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)


def _radial_frequency(size: int) -> np.ndarray:
    """Each FFT bin's frequency in cycles per pixel (0 to about 0.7), DC in the corner."""
    axis = np.fft.fftfreq(size)
    return np.sqrt(axis[:, None] ** 2 + axis[None, :] ** 2)


_FREQUENCY = _radial_frequency(CROP_PX)
_WINDOW = np.outer(np.hanning(CROP_PX), np.hanning(CROP_PX))
_LOW = (_FREQUENCY >= 0.02) & (_FREQUENCY < 0.10)
_MID = (_FREQUENCY >= 0.10) & (_FREQUENCY < 0.25)
_HIGH = (_FREQUENCY >= 0.25) & (_FREQUENCY <= 0.5)
_TINY = 1e-9


def recapture_cues(crop_bgr: np.ndarray) -> np.ndarray:
    """The 18 cues of :data:`CUE_NAMES` for a :func:`face_crop` (float64)."""
    gray = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)
    spectrum = np.abs(np.fft.fft2((gray - gray.mean()) * _WINDOW)) ** 2
    total = float(spectrum[_LOW | _MID | _HIGH].sum()) + _TINY
    low, mid, high = (float(spectrum[band].sum()) / total for band in (_LOW, _MID, _HIGH))
    high_values = spectrum[_HIGH]
    peakiness = math.log(
        (float(high_values.max()) + _TINY) / (float(np.median(high_values)) + _TINY)
    )
    laplacian = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    gx, gy = cv2.Sobel(gray, cv2.CV_64F, 1, 0), cv2.Sobel(gray, cv2.CV_64F, 0, 1)
    gradient = float(np.mean(gx**2 + gy**2))
    reblur = float(np.mean(np.abs(gray - cv2.GaussianBlur(gray, (5, 5), 1.5))))

    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV).astype(np.float64)
    hue, saturation, value = hsv[..., 0], hsv[..., 1] / 255, hsv[..., 2] / 255
    coloured = hue[saturation > 0.1]
    hue_entropy = 0.0
    if coloured.size:
        counts = np.bincount((coloured // 10).astype(np.int64), minlength=18).astype(np.float64)
        shares = counts[counts > 0] / counts.sum()
        hue_entropy = float(-(shares * np.log2(shares)).sum())
    ycrcb = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2YCrCb).astype(np.float64) / 255
    luma, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    specular = float(np.mean((value > 0.94) & (saturation < 0.15)))
    p1, p99 = np.percentile(luma, (1, 99))
    dark = float(np.mean(crop_bgr.min(axis=2))) / 255
    return np.array(
        [
            low,
            mid,
            high,
            math.log((high + _TINY) / (low + _TINY)),
            peakiness,
            math.log(laplacian + 1.0),
            math.log(gradient + 1.0),
            math.log(reblur + _TINY),
            float(saturation.mean()),
            float(saturation.std()),
            float(value.std()),
            hue_entropy,
            float(cr.std()),
            float(cb.std()),
            float((cr - cb).mean()),
            specular,
            float(p99 - p1),
            dark,
        ]
    )


@dataclass(frozen=True)
class RecaptureModel:
    """A logistic score over named cues: ``sigmoid(bias + sum(weight * (cue - center) /
    scale))``; 0 looks live, 1 looks recaptured. Cues not named are not used."""

    cues: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    weight: tuple[float, ...]
    bias: float = 0.0
    source: str = "hand-set"
    """Where the coefficients come from: ``hand-set`` or how a site fitted them."""
    _index: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lengths = {len(self.cues), len(self.center), len(self.scale), len(self.weight)}
        if len(lengths) != 1:
            raise ValueError("cues, center, scale and weight must have the same length")
        unknown = set(self.cues) - set(CUE_NAMES)
        if unknown:
            raise ValueError(f"unknown recapture cues: {sorted(unknown)}")
        object.__setattr__(self, "_index", tuple(CUE_NAMES.index(name) for name in self.cues))

    def scores(self, cues: np.ndarray) -> np.ndarray:
        """Scores of rows of :func:`recapture_cues` (shape ``(n, 18)``, or one row)."""
        rows = np.atleast_2d(cues)[:, self._index]
        z = (rows - np.array(self.center)) / np.array(self.scale)
        logit = self.bias + z @ np.array(self.weight)
        return 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))

    def score(self, crop_bgr: np.ndarray) -> float:
        """The score of one :func:`face_crop`."""
        return float(self.scores(recapture_cues(crop_bgr))[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready coefficients (for kiosk.db and ``kiosk doctor``)."""
        return {
            "cues": list(self.cues),
            "center": list(self.center),
            "scale": list(self.scale),
            "weight": list(self.weight),
            "bias": self.bias,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecaptureModel:
        """The model :meth:`to_dict` wrote."""
        return cls(
            tuple(data["cues"]),
            tuple(float(v) for v in data["center"]),
            tuple(float(v) for v in data["scale"]),
            tuple(float(v) for v in data["weight"]),
            float(data.get("bias", 0.0)),
            str(data.get("source", "stored")),
        )


# Hand-set, not fitted. Five cues that separated printed photos (NUAA) and a phone replay from
# live faces in the same direction on both shared sets (each cue alone, AUC of "lower in the
# attack": Laplacian 0.97 / 0.99, reblur 0.85 / 0.99, high-to-low 0.79 / 0.94, Cr - Cb 0.67 /
# 0.91, luma range 0.98 / 0.64), each with a physical reason: a recapture has gone through a
# second lens and medium, so it is less sharp, changes less when blurred once more, keeps less
# high-frequency energy against low, loses skin's red shift and loses contrast. Every weight is
# -1 (lower is more like a recapture): no cue is trusted more than another. Each scale is a
# round number near the cue's spread within one class on those sets, so that each cue moves
# the score about as much; each centre a round number between live and recaptured medians.
# The centres only shift the score: which cut-off separates live from recaptured depends on the
# camera (the sets' live Laplacian medians differ by 1.7, more than live and print on one
# camera), so the cut-offs come from the kiosk's own genuine captures (``kiosk calibrate
# --liveness``), which may also fit its own coefficients (:func:`fit_recapture_model`).
DEFAULT_MODEL = RecaptureModel(
    cues=("laplacian", "reblur", "high_to_low", "cr_minus_cb", "luma_range"),
    center=(5.0, 0.8, -4.3, 0.04, 0.75),
    scale=(0.5, 0.25, 0.5, 0.02, 0.07),
    weight=(-1.0, -1.0, -1.0, -1.0, -1.0),
    bias=0.0,
    source="hand-set",
)


def fit_recapture_model(
    genuine: np.ndarray,
    attacks: np.ndarray,
    cues: Sequence[str] = CUE_NAMES,
    l2: float = 1.0,
    source: str = "fitted",
) -> RecaptureModel:
    """Logistic regression of attack (1) against genuine (0) on the named cues, standardised
    on the pooled rows, L2-penalised by ``l2``, by Newton's method; classes weighted equally."""
    index = [CUE_NAMES.index(name) for name in cues]
    rows = np.vstack([genuine, attacks])[:, index]
    labels = np.concatenate([np.zeros(len(genuine)), np.ones(len(attacks))])
    sample_weight = np.where(labels == 1, 0.5 / len(attacks), 0.5 / len(genuine)) * len(labels)
    center = rows.mean(axis=0)
    scale = rows.std(axis=0) + 1e-6
    design = np.hstack([np.ones((len(rows), 1)), (rows - center) / scale])
    beta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(50):
        probability = 1.0 / (1.0 + np.exp(-np.clip(design @ beta, -50, 50)))
        gradient = design.T @ (sample_weight * (probability - labels)) + penalty * beta
        curvature = probability * (1 - probability) * sample_weight
        hessian = design.T @ (design * curvature[:, None]) + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return RecaptureModel(
        tuple(cues),
        tuple(float(v) for v in center),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in beta[1:]),
        float(beta[0]),
        source,
    )


MOTION_WIDTH = 160
"""Frames are shrunk to this width before the optical flow (12-16 ms a frame pair on this 2-core
machine, under load, ``kiosk bench liveness``)."""
TEXTURE_MIN = 8.0
"""Sobel gradient (0-255 grey levels per pixel, at :data:`MOTION_WIDTH`) a pixel needs for its
flow to count: on a plain wall flow cannot be measured, and a plain wall that cannot be seen
to move is no evidence of a replay."""
MIN_TEXTURED_PX = 40
BACKGROUND_MOVES_PX = 0.1
"""Median background flow per frame pair, in pixels at :data:`MOTION_WIDTH`, above which the
background counts as moving (a still wall measures below 0.001; of 0.1, 0.2 and 0.3 tried on
the phone replay pair, 0.1 separated best)."""


@dataclass(frozen=True)
class FrameMotion:
    """How far the face and the background around it moved between two frames (pixels at
    :data:`MOTION_WIDTH`): the median flow vector of each region's textured pixels; None for a
    region with too little texture to tell."""

    face: tuple[float, float] | None
    background: tuple[float, float] | None


def _person_mask(shape: tuple[int, int], box: Box, scale: float) -> np.ndarray:
    """True where the person may be: the face box widened by half a face on each side and
    raised by half a face, down to the bottom of the frame (neck, shoulders and body move with
    the head)."""
    top, right, bottom, left = (v * scale for v in box)
    width, height = right - left, bottom - top
    mask = np.zeros(shape, dtype=bool)
    y0 = max(0, int(top - 0.5 * height))
    x0, x1 = max(0, int(left - 0.5 * width)), min(shape[1], int(right + 0.5 * width))
    mask[y0:, x0:x1] = True
    return mask


def frame_motion(previous_gray: np.ndarray, gray: np.ndarray, box: Box) -> FrameMotion:
    """The motion of the face in ``box`` (in ``gray``'s pixels) and of the background outside
    the person between two grey frames of one camera."""
    scale = MOTION_WIDTH / gray.shape[1]
    size = (MOTION_WIDTH, max(1, round(gray.shape[0] * scale)))
    before = cv2.resize(previous_gray, size, interpolation=cv2.INTER_AREA)
    after = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    start = np.zeros((*after.shape, 2), dtype=np.float32)  # flags 0: not used as a guess
    flow = np.asarray(cv2.calcOpticalFlowFarneback(before, after, start, 0.5, 3, 9, 3, 5, 1.1, 0))
    texture = np.hypot(cv2.Sobel(before, cv2.CV_32F, 1, 0), cv2.Sobel(before, cv2.CV_32F, 0, 1))
    textured = texture > TEXTURE_MIN
    top, right, bottom, left = (int(v * scale) for v in box)
    face_region = np.zeros_like(textured)
    face_region[max(0, top) : bottom, max(0, left) : right] = True
    background_region = ~_person_mask(after.shape, box, scale) & textured
    return FrameMotion(_median_flow(flow, face_region & textured, 1), _median_flow(
        flow, background_region, MIN_TEXTURED_PX))  # fmt: skip


def _median_flow(
    flow: np.ndarray, region: np.ndarray, min_pixels: int
) -> tuple[float, float] | None:
    """The median flow vector over ``region``, None when it has fewer than ``min_pixels``."""
    if int(region.sum()) < min_pixels:
        return None
    dx, dy = np.median(flow[region], axis=0)
    return float(dx), float(dy)


def background_moving_share(motions: Sequence[FrameMotion]) -> float | None:
    """The share of frame pairs, over a window, whose background outside the person moved by
    more than :data:`BACKGROUND_MOVES_PX`: about 0 in front of a fixed kiosk camera, most of the
    pairs for a photo or phone held up by hand (its edges, the hand and the room seen through
    the camera's eye move with it). None when no pair had enough background texture to tell.
    A person walking by behind also moves the background: a reason to ask, not to refuse."""
    seen = [m.background for m in motions if m.background is not None]
    if not seen:
        return None
    return sum(math.hypot(*vector) > BACKGROUND_MOVES_PX for vector in seen) / len(seen)


PASS_QUANTILE = 90.0
"""Cut-off below which a face passes without a head-turn request: this percentile of the
kiosk's own genuine captures' scores (so about 9 in 10 genuine check-ins need no request)."""
REFUSE_MARGIN_LOGIT = 2.0
"""A face is refused outright only when its score's logit is this far above the 99th percentile
of the kiosk's genuine captures' (odds e^2, about 7 times, beyond the least live-looking real
person seen at installation)."""
BACKGROUND_ASK_SHARE = 0.3
"""A face whose background moved in at least this share of a window's frame pairs is never
passed without a request (``phone_pair_real``: 2 of 19 one-second windows reach it, 5 of 86
windows of 3 frames; ``phone_pair_replay``: 18 of 21 and 91 of 105)."""

PassiveVerdict = Literal["live", "ask", "refuse"]


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class PassiveCutoffs:
    """Where the passive stage passes a face (score at most ``pass_below``) and refuses one
    (score at least ``refuse_above``); between them the head-turn request decides."""

    pass_below: float
    refuse_above: float

    def verdict(self, score: float, background_share: float | None = None) -> PassiveVerdict:
        """``live`` (check in without a request), ``refuse``, or ``ask`` (the head turn). A
        moving background (:func:`background_moving_share`) turns ``live`` into ``ask``; it
        never refuses by itself (someone may walk by behind)."""
        if score >= self.refuse_above:
            return "refuse"
        moving = background_share is not None and background_share >= BACKGROUND_ASK_SHARE
        if score <= self.pass_below and not moving:
            return "live"
        return "ask"


def calibrate_cutoffs(
    genuine_scores: Sequence[float] | np.ndarray,
    attack_scores: Sequence[float] | np.ndarray | None = None,
) -> PassiveCutoffs:
    """Cut-offs from scores of genuine captures made on this kiosk's camera and, when the admin
    recorded some, attack captures (a printed photo, a phone screen): the pass cut-off is the
    genuine scores' :data:`PASS_QUANTILE` percentile, lowered below every attack capture; the
    refusal cut-off lies :data:`REFUSE_MARGIN_LOGIT` beyond their 99th percentile."""
    genuine = np.asarray(genuine_scores, dtype=np.float64)
    if genuine.size == 0:
        raise ValueError("no genuine captures to calibrate on")
    pass_below = float(np.percentile(genuine, PASS_QUANTILE))
    if attack_scores is not None and len(attack_scores):
        lowest_attack = float(np.min(attack_scores))
        pass_below = min(pass_below, math.nextafter(lowest_attack, -math.inf))
    edge = _logit(float(np.percentile(genuine, 99.0))) + REFUSE_MARGIN_LOGIT
    refuse_above = 1.0 / (1.0 + math.exp(-edge))
    return PassiveCutoffs(pass_below, max(refuse_above, pass_below))
