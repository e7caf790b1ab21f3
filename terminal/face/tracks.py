"""Following faces across frames, so a face already recognised is not embedded again.

A track is a face box that overlaps (intersection over union) the box of the previous frame.
Once a track's face has been recognised as a person who is checked in, the pipeline reports it
as a repeat without embedding it again, until ``reverify_s`` has passed. A resolved track never
produces a check-in, so a mix-up (someone stepping into another's place within one frame) can
only delay a check-in, never record a wrong one.

Both times follow the measured frame interval (:mod:`terminal.checkin.pace`): a track is
forgotten after :data:`MAX_GAP_S` or :data:`GAP_FRAMES` frame intervals unseen, whichever is
longer, and re-verified after :data:`REVERIFY_S` or :data:`REVERIFY_FRAMES` intervals; so a
board doing one frame every 1.5 s keeps its faces, and a fast one behaves as the seconds say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drivers.face.base import Box
from terminal.checkin.pace import FramePace
from terminal.face.passive_liveness import PassiveEvidence

if TYPE_CHECKING:
    from terminal.face.liveness import Challenge

MIN_IOU = 0.3
MAX_GAP_S = 0.5
GAP_FRAMES = 3
"""A track survives MAX_GAP_S or this many frame intervals unseen (two frames missed)."""
REVERIFY_S = 5.0
REVERIFY_FRAMES = 10
"""A followed face is embedded again after REVERIFY_S or this many frame intervals."""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    area_a = (a[2] - a[0]) * (a[1] - a[3])
    area_b = (b[2] - b[0]) * (b[1] - b[3])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


@dataclass
class FaceTrack:
    """One face followed across frames, and whom it was last recognised as."""

    box: Box
    last_seen: float
    person_id: str | None = None
    name: str | None = None
    resolved_at: float = field(default=float("-inf"))
    challenge: Challenge | None = None
    """The liveness request this face is answering, if any."""
    passive: PassiveEvidence = field(default_factory=PassiveEvidence)
    """What the passive liveness stage saw of this face."""


class FaceTracker:
    """Assigns each frame's boxes to tracks; forgets tracks not seen for ``max_gap_s`` (or
    :data:`GAP_FRAMES` of ``pace``'s frame intervals, when longer)."""

    def __init__(
        self,
        min_iou: float = MIN_IOU,
        max_gap_s: float = MAX_GAP_S,
        reverify_s: float = REVERIFY_S,
        pace: FramePace | None = None,
    ) -> None:
        self.min_iou = min_iou
        self.max_gap_s = max_gap_s
        self.reverify_s = reverify_s
        self.pace = pace or FramePace()
        """The pipeline's measured frame interval (one never ticked: the seconds alone)."""
        self.tracks: list[FaceTrack] = []

    def assign(self, boxes: list[Box], now: float) -> list[FaceTrack]:
        """The track of each box (greedy by overlap; new tracks for unmatched boxes)."""
        max_gap = self.pace.next_frame_window(self.max_gap_s, GAP_FRAMES)
        alive = [t for t in self.tracks if 0 <= now - t.last_seen <= max_gap]
        pairs = [
            (iou(box, track.box), b, t)
            for b, box in enumerate(boxes)
            for t, track in enumerate(alive)
        ]
        pairs.sort(key=lambda pair: pair[0], reverse=True)
        chosen: dict[int, FaceTrack] = {}
        used: set[int] = set()
        for overlap, b, t in pairs:
            if overlap < self.min_iou:
                break
            if b not in chosen and t not in used:
                chosen[b] = alive[t]
                used.add(t)
        result = []
        for b, box in enumerate(boxes):
            track = chosen.get(b) or FaceTrack(box, now)
            track.box, track.last_seen = box, now
            result.append(track)
        # Tracks not seen in this frame live on until the gap has passed.
        self.tracks = alive + [track for track in result if track not in alive]
        return result

    def known(self, track: FaceTrack, now: float) -> bool:
        """Whether the track's identity is settled (recognised within ``reverify_s``, or
        :data:`REVERIFY_FRAMES` frame intervals)."""
        reverify = self.pace.window(self.reverify_s, REVERIFY_FRAMES)
        return track.person_id is not None and 0 <= now - track.resolved_at < reverify

    def resolve(self, track: FaceTrack, person_id: str, name: str | None, now: float) -> None:
        """Record that the track's face is ``person_id`` (who is now checked in)."""
        track.person_id, track.name, track.resolved_at = person_id, name, now
