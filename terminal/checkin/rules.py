"""When a recognised person becomes a check-in: confirmation over frames, and no repeats.

Both rules run on ``Frame.monotonic`` (never the wall clock), so an NTP step or a wrong clock
at boot cannot confirm a face early or let a person check in twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from terminal.checkin.pace import FramePace

CONFIRM_GAP_S = 1.0
"""Consecutive agreeing frames must be at most this far apart (or :data:`CONFIRM_GAP_FRAMES`
frame intervals, on a slow board: :mod:`terminal.checkin.pace`)."""
CONFIRM_GAP_FRAMES = 2
"""One frame may be skipped (not admitted by the presence gate) between agreeing frames."""


class FaceConfirmation:
    """Counts consecutive frames in which each person was recognised.

    A person's streak grows by one for every processed frame that recognises them within
    :data:`CONFIRM_GAP_S` of the previous one (or :data:`CONFIRM_GAP_FRAMES` of ``pace``'s
    frame intervals, when longer); a frame without them (or a longer gap) ends it.
    """

    def __init__(
        self, frames: int, max_gap_s: float = CONFIRM_GAP_S, pace: FramePace | None = None
    ) -> None:
        self.frames = frames
        self.max_gap_s = max_gap_s
        self.pace = pace or FramePace()
        self._streaks: dict[str, tuple[int, float]] = {}

    def update(self, recognised: Iterable[str], now: float) -> dict[str, int]:
        """Record one frame's recognised people; return each one's current streak."""
        streaks: dict[str, tuple[int, float]] = {}
        max_gap = self.pace.next_frame_window(self.max_gap_s, CONFIRM_GAP_FRAMES)
        for person_id in set(recognised):
            count, last = self._streaks.get(person_id, (0, now))
            fresh = 0 <= now - last <= max_gap
            streaks[person_id] = (count + 1 if fresh else 1, now)
        self._streaks = streaks
        return {person_id: count for person_id, (count, _) in streaks.items()}

    def confirmed(self, person_id: str) -> bool:
        """Whether the person has been recognised in enough consecutive frames."""
        count, _ = self._streaks.get(person_id, (0, 0.0))
        return count >= self.frames

    def reset(self, person_id: str) -> None:
        """Start counting again (after a check-in or a failed commit)."""
        self._streaks.pop(person_id, None)


class RepeatGuard:
    """Remembers who checked in when; a person is not checked in again within ``window_s``."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._last: dict[str, float] = {}

    def seconds_since(self, person_id: str, now: float) -> float | None:
        """Seconds since this person's check-in if it is within the window, else None."""
        last = self._last.get(person_id)
        if last is None or now - last >= self.window_s:
            return None
        return max(0.0, now - last)

    def record(self, person_id: str, now: float) -> None:
        """Note a check-in, forgetting check-ins that have left the window."""
        self._last = {pid: t for pid, t in self._last.items() if now - t < self.window_s}
        self._last[person_id] = now
