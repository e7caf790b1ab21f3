"""Presence gating: no face work while nobody is in front of the kiosk.

Face detection and embedding cost hundreds of milliseconds per frame; a kiosk that runs them
on an empty lobby all night burns a core and heats a passively cooled box for nothing. The
gate looks at a tiny, blurred grey thumbnail of every frame (:data:`THUMBNAIL_SIZE`) and
compares it with a slowly updated background: the fraction of thumbnail pixels that differ by
more than :data:`PIXEL_DIFF` grey levels is the frame's motion. Averaging 640x480 pixels down
to 96x72 and blurring removes sensor noise; the background follows slow lighting changes
(time constant :data:`BACKGROUND_TAU_S`), and the median difference is subtracted first so a
global brightness step (auto exposure, lights switched on) is not taken for motion.

Face work runs while motion was seen within ``presence_hold_s`` (by ``Frame.monotonic``) and
keeps running while faces are found (:meth:`PresenceGate.face_seen`), so a person standing
still at the kiosk is not dropped. The first frame, and the first after a gap of more than
:data:`RESEED_GAP_S`, only sets the background. QR decoding is not gated.

On a slow board both times follow the measured frame interval (:mod:`terminal.checkin.pace`):
face work goes on for ``presence_hold_s`` or :data:`HOLD_FRAMES` frame intervals, and the
background is reset after :data:`RESEED_GAP_S` or :data:`RESEED_FRAMES` intervals, whichever is
longer. The background's time constant is about the light in the room and stays in seconds.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from drivers.camera.base import Frame
from terminal.checkin.pace import FramePace
from terminal.config import RecognitionSection

THUMBNAIL_SIZE = (96, 72)
"""Width and height of the grey thumbnail motion is measured on."""
PIXEL_DIFF = 12.0
"""Grey levels (of 255) a thumbnail pixel must differ from the background to count as moved."""
BACKGROUND_TAU_S = 5.0
"""Time constant of the background's running average: slower changes are not motion."""
RESEED_GAP_S = 10.0
"""After a longer gap between frames (or time going backwards) the background starts again."""
RESEED_FRAMES = 3
"""...or after this many frame intervals, when longer (a slow board)."""
HOLD_FRAMES = 2
"""Face work goes on for ``presence_hold_s`` or this many frame intervals, when longer."""


def thumbnail(image: np.ndarray) -> np.ndarray:
    """The blurred ``float32`` grey thumbnail of a BGR (or grey) frame that motion is seen on."""
    width, height = THUMBNAIL_SIZE
    # Two steps: INTER_AREA straight from 640x480 to 96x72 (a non-integer ratio) costs ~3 ms.
    half = cv2.resize(image, (2 * width, 2 * height), interpolation=cv2.INTER_LINEAR)
    small = cv2.resize(half, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)


class MotionDetector:
    """The fraction of a frame that moved, against a slowly updated background."""

    def __init__(self, tau_s: float = BACKGROUND_TAU_S, pixel_diff: float = PIXEL_DIFF) -> None:
        self.tau_s = tau_s
        self.pixel_diff = pixel_diff
        self._background: np.ndarray | None = None
        self._last_time = 0.0

    def motion(
        self, image: np.ndarray, now: float, reseed_gap_s: float = RESEED_GAP_S
    ) -> float | None:
        """Fraction (0-1) of the thumbnail that changed; None when the background was (re)set
        (first frame, or more than ``reseed_gap_s`` since the previous one)."""
        small = thumbnail(image)
        gap = now - self._last_time
        self._last_time = now
        background = self._background
        if background is None or background.shape != small.shape or not 0 <= gap <= reseed_gap_s:
            self._background = small
            return None
        diff = small - background
        diff -= np.median(diff)  # a global brightness change is not motion
        moved = np.count_nonzero(np.abs(diff) > self.pixel_diff) / diff.size
        cv2.accumulateWeighted(small, background, 1.0 - math.exp(-gap / self.tau_s))
        return float(moved)


class PresenceGate:
    """Decides per frame whether face work (detect, embed, match) is worth doing.

    ``enabled=False`` admits every frame. ``frames`` and ``admitted`` count frames seen and
    frames let through, for logs and benchmarks. ``pace`` is the pipeline's measured frame
    interval (:mod:`terminal.checkin.pace`).
    """

    def __init__(
        self, enabled: bool, hold_s: float, min_motion: float, pace: FramePace | None = None
    ) -> None:
        self.enabled = enabled
        self.hold_s = hold_s
        self.min_motion = min_motion
        self.pace = pace or FramePace()
        self.detector = MotionDetector()
        self.frames = 0
        self.admitted = 0
        self._active_at: float | None = None

    @classmethod
    def from_config(
        cls, recognition: RecognitionSection, pace: FramePace | None = None
    ) -> PresenceGate:
        """The gate configured by ``[recognition] presence_*``."""
        return cls(
            recognition.presence_gating,
            recognition.presence_hold_s,
            recognition.presence_min_motion,
            pace,
        )

    def admit(self, frame: Frame) -> bool:
        """Whether to do face work on ``frame``: motion or a face within the last ``hold_s`` (or
        :data:`HOLD_FRAMES` frame intervals)."""
        self.frames += 1
        if not self.enabled:
            self.admitted += 1
            return True
        now = frame.monotonic
        reseed_gap_s = self.pace.window(RESEED_GAP_S, RESEED_FRAMES)
        moved = self.detector.motion(frame.image, now, reseed_gap_s)
        if moved is not None and moved >= self.min_motion:
            self._active_at = now
        hold_s = self.pace.next_frame_window(self.hold_s, HOLD_FRAMES)
        active = self._active_at is not None and 0 <= now - self._active_at <= hold_s
        self.admitted += int(active)
        return active

    def face_seen(self, now: float) -> None:
        """A face was found at ``now``: keep face work going for another ``hold_s``."""
        self._active_at = now
