"""The measured frame interval: the one clock every frame-to-frame window of the pipeline follows.

Tracking, confirmation, liveness and presence gating each allow a certain time between the
frames they connect (a track lost after 0.5 s unseen, consecutive confirming frames at most 1 s
apart, 4 s to turn the head, ...). Those seconds suit a board doing 5-15 frames per second. A
board doing one frame every 1-2 s (a Pi Zero 2, dlib on a Pi 4, an emulated arm64 root) would
lose every face between two frames and never confirm anyone. So each window is
``max(its seconds, a number of frame intervals)``: on a fast board the seconds win and nothing
changes; on a slow one the window stretches to the same number of frames.

The interval is measured here, once, by the pipeline (:meth:`FramePace.tick` on every frame it
processes) from the frames' own monotonic timestamps: the gaps between frames actually
processed, not the camera's nominal fps (a camera at 15 fps feeding a pipeline that needs 1.5 s
a frame delivers a frame every 1.5 s). :attr:`FramePace.interval` is the median of the last
:data:`RECENT_GAPS` gaps: the typical pace, which one stalled frame does not change. Windows over
several frames (the time to turn the head, re-verification, the pairing window, presence) use
it (:meth:`FramePace.window`). Windows from one frame to the next few (a track unseen, the gap
between confirming frames) also allow the latest gap (:meth:`FramePace.next_frame_window`): the
first frames of a person walking up cost far more than the idle frames before them, and the
median follows only a few frames later. A gap longer than :data:`OUTAGE_S` (a camera that was
reopened, a suspended board) is an outage, not a pace: it is not counted, and nothing is
stretched over it.
"""

from __future__ import annotations

import statistics
from collections import deque

RECENT_GAPS = 5
"""Frame-to-frame gaps the median is taken over."""
OUTAGE_S = 30.0
"""Gaps longer than this (or time going backwards) are not frame intervals."""


class FramePace:
    """The recent interval between processed frames (0.0 until two frames were seen)."""

    def __init__(self, recent: int = RECENT_GAPS, outage_s: float = OUTAGE_S) -> None:
        self.outage_s = outage_s
        self._gaps: deque[float] = deque(maxlen=recent)
        self._last: float | None = None
        self._latest = 0.0

    def tick(self, now: float) -> None:
        """A frame stamped ``now`` (``Frame.monotonic``) is being processed."""
        last, self._last = self._last, now
        gap = None if last is None else now - last
        if gap is None or not 0 <= gap <= self.outage_s:
            self._latest = 0.0
            return
        self._latest = gap
        self._gaps.append(gap)

    @property
    def interval(self) -> float:
        """Seconds between frames: the median of the recent gaps."""
        return statistics.median(self._gaps) if self._gaps else 0.0

    @property
    def latest(self) -> float:
        """Seconds since the previous frame (0.0 after an outage or before two frames)."""
        return self._latest

    def window(self, seconds: float, frames: float) -> float:
        """``seconds``, or ``frames`` frame intervals when that is longer (a slow board)."""
        return max(seconds, frames * self.interval)

    def next_frame_window(self, seconds: float, frames: float) -> float:
        """Like :meth:`window`, counting the latest gap as an interval when it is longer."""
        return max(seconds, frames * max(self.interval, self._latest))
