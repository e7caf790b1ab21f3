"""The passive liveness stage: decide the clear cases without asking anyone to do anything.

With ``[liveness] mode = "passive"`` every face being recognised is watched while it is
confirmed (:meth:`PassiveLiveness.observe`, on each frame it is fit to encode): its crop's
recapture score (:mod:`terminal.face.recapture`: does it look like a print or a screen) and
whether the background outside the person moved since the previous frame (a kiosk camera is
fixed; a photo or phone held up by hand moves its surroundings with it). Once the face is
recognised, :meth:`PassiveLiveness.verdict` judges the last :data:`WINDOW_FRAMES` frames:

- ``live``: every frame scored at most the pass cut-off and the background stayed still: the
  person is checked in at once, with no request;
- ``refuse``: the median score reached the refusal cut-off: refused as a photo or screen;
- ``ask``: anything else: the head-turn request of :mod:`terminal.face.liveness` decides.

The cut-offs belong to the camera (sharpness above all differs between cameras), so a kiosk
should be calibrated once installed (``kiosk calibrate --liveness``, stored in kiosk.db by
:mod:`terminal.store.liveness_calibration`). Until then :data:`UNCALIBRATED_CUTOFFS` apply:
they pass only faces far sharper and more lifelike than any recapture measured and never refuse.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from drivers.face.base import Box
from terminal.face.recapture import (
    DEFAULT_MODEL,
    FrameMotion,
    PassiveCutoffs,
    PassiveVerdict,
    RecaptureModel,
    background_moving_share,
    face_crop,
    frame_motion,
)
from terminal.store.liveness_calibration import StoredLivenessCalibration

log = logging.getLogger(__name__)

WINDOW_FRAMES = 8
"""Frames of a face the verdict looks back over (the face is confirmed in 2 by default)."""

# Not fitted: read off the hand-set model's scores on the shared data (kiosk bench liveness,
# photos and 5 fps video frames). The lowest score of any recapture measured was 0.006 (NUAA
# printed photos: 5th percentile 0.014; the phone replay: minimum 0.93), so a face passes
# without calibration only at a third of that, 0.002, where most sharp live cameras score (NUAA
# webcam, selfie and studio videos: medians 0.000-0.015). A blurry live camera scored up to
# 0.996 (phone_pair_real), as high as a replay, so an uncalibrated kiosk never refuses on the
# score: 1.0 cannot be reached. Everything between is asked to turn the head, as in strict mode.
UNCALIBRATED_CUTOFFS = PassiveCutoffs(pass_below=0.002, refuse_above=1.0)


@dataclass
class PassiveEvidence:
    """What one face track showed over its last frames."""

    scores: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW_FRAMES))
    motions: deque[FrameMotion] = field(default_factory=lambda: deque(maxlen=WINDOW_FRAMES))


@dataclass(frozen=True)
class PassiveJudgement:
    """A verdict and the figures behind it, for the log and the decision's reason."""

    verdict: PassiveVerdict
    frames: int
    highest_score: float | None
    median_score: float | None
    background_moving: float | None

    def describe(self) -> str:
        """One short line: ``score 0.001-0.003 over 3 frames, background still``."""
        if self.highest_score is None or self.median_score is None:
            return "no frames scored"
        moving = self.background_moving
        background = (
            "background not measurable"
            if moving is None
            else f"background moved in {moving:.0%} of frame pairs"
        )
        return (
            f"recapture score median {self.median_score:.3f}, highest {self.highest_score:.3f}"
            f" over {self.frames} frames, {background}"
        )


class PassiveLiveness:
    """Scores faces' frames and judges them with one model and one pair of cut-offs."""

    def __init__(
        self,
        model: RecaptureModel = DEFAULT_MODEL,
        cutoffs: PassiveCutoffs = UNCALIBRATED_CUTOFFS,
        calibrated_at: str | None = None,
    ) -> None:
        self.model = model
        self.cutoffs = cutoffs
        self.calibrated_at = calibrated_at
        """When the kiosk's calibration was made; None: the uncalibrated defaults."""

    @classmethod
    def from_stored(cls, stored: StoredLivenessCalibration | None) -> PassiveLiveness:
        """The stage for a kiosk's stored calibration (None: the uncalibrated defaults)."""
        if stored is None:
            return cls()
        return cls(
            RecaptureModel.from_dict(stored.model),
            PassiveCutoffs(stored.pass_below, stored.refuse_above),
            stored.calibrated_at,
        )

    def observe(
        self,
        evidence: PassiveEvidence,
        image_bgr: np.ndarray,
        gray: np.ndarray,
        previous_gray: np.ndarray | None,
        box: Box,
    ) -> None:
        """Add one frame of a face to its ``evidence``: its score and, when there is a
        previous frame of the same size, the motion since then."""
        crop = face_crop(image_bgr, box)
        if crop is not None:
            evidence.scores.append(self.model.score(crop))
        if previous_gray is not None and previous_gray.shape == gray.shape:
            evidence.motions.append(frame_motion(previous_gray, gray, box))

    def judge(self, evidence: PassiveEvidence) -> PassiveJudgement:
        """The verdict on a face's last frames (``ask`` when none was scored)."""
        if not evidence.scores:
            return PassiveJudgement("ask", 0, None, None, None)
        highest = max(evidence.scores)
        median = float(np.median(np.array(evidence.scores)))
        moving = background_moving_share(list(evidence.motions))
        verdict: PassiveVerdict
        if self.cutoffs.verdict(median) == "refuse":
            verdict = "refuse"
        else:
            verdict = "live" if self.cutoffs.verdict(highest, moving) == "live" else "ask"
        return PassiveJudgement(verdict, len(evidence.scores), highest, median, moving)
