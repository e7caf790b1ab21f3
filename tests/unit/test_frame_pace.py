"""Every window between frames follows the measured frame interval: unchanged on a fast board,
as many frames long on a slow one (one frame every 1.5 s)."""

from __future__ import annotations

import numpy as np

from terminal.checkin.pace import OUTAGE_S, FramePace
from terminal.checkin.rules import FaceConfirmation
from terminal.config import LivenessSection
from terminal.face.liveness import HeadTurnLiveness
from terminal.face.tracks import FaceTracker

BOX = (100, 200, 200, 100)


def paced(interval: float, frames: int = 12, start: float = 100.0) -> tuple[FramePace, float]:
    """A pace that has seen ``frames`` frames ``interval`` apart; and the last frame's time."""
    pace = FramePace()
    now = start
    for index in range(frames):
        now = start + index * interval
        pace.tick(now)
    return pace, now


def test_the_interval_is_the_median_gap_and_the_next_frame_allows_the_latest() -> None:
    pace = FramePace()
    assert pace.interval == 0.0  # nothing measured: the windows are their seconds
    assert pace.window(0.5, 3) == pace.next_frame_window(0.5, 3) == 0.5
    pace.tick(10.0)
    assert pace.interval == 0.0
    for now in (10.1, 10.2, 10.3, 10.4):
        pace.tick(now)
    assert abs(pace.interval - 0.1) < 1e-9
    pace.tick(11.9)  # the first slow frame (a face to embed) is not the pace yet...
    assert abs(pace.interval - 0.1) < 1e-9 and pace.window(4.0, 8) == 4.0
    # ...but a track or a confirmation from the previous frame survives it.
    assert abs(pace.next_frame_window(0.5, 3) - 4.5) < 1e-9
    pace.tick(12.0)  # one slow frame among fast ones changes nothing after it
    assert pace.next_frame_window(0.5, 3) == 0.5
    pace.tick(12.0 + OUTAGE_S + 1)  # the camera was away: an outage, not a pace
    assert pace.next_frame_window(0.5, 3) == 0.5
    pace.tick(5.0)  # time going backwards neither
    assert abs(pace.interval - 0.1) < 1e-9
    for now in (6.5, 8.0, 9.5):  # three slow frames of five: now the pace
        pace.tick(now)
    assert abs(pace.interval - 1.5) < 1e-9


def test_a_fast_board_keeps_the_seconds() -> None:
    pace, _ = paced(1 / 15)
    assert pace.window(0.5, 3) == 0.5
    assert pace.window(4.0, 8) == 4.0


def test_a_slow_board_keeps_its_tracks_and_confirms_on_consecutive_frames() -> None:
    pace, now = paced(1.5)
    assert pace.window(4.0, 8) == 12.0
    tracker = FaceTracker(pace=pace)
    (first,) = tracker.assign([BOX], now)
    pace.tick(now + 1.5)
    (second,) = tracker.assign([BOX], now + 1.5)
    assert second is first
    confirmation = FaceConfirmation(frames=2, pace=pace)
    confirmation.update(["A"], now)
    assert confirmation.update(["A"], now + 1.5) == {"A": 2}
    # Unpaced (the fixed seconds alone), the same frames lose the track and the streak.
    fixed = FaceTracker()
    (lost,) = fixed.assign([BOX], now)
    assert fixed.assign([BOX], now + 1.5)[0] is not lost
    unpaced = FaceConfirmation(frames=2)
    unpaced.update(["A"], now)
    assert unpaced.update(["A"], now + 1.5) == {"A": 1}


def test_a_slow_board_gives_the_head_turn_as_many_frames() -> None:
    liveness = HeadTurnLiveness(LivenessSection(timeout_s=4.0))
    assert liveness.timeout(1 / 15) == 4.0
    assert liveness.timeout(1.5) == 12.0
    still = np.array([[150.0, 150.0], [250.0, 150.0], [200.0, 200.0], [160, 250], [240, 250]])
    challenge = liveness.ask("E1", None, 0.3, still, now=0.0)
    assert liveness.observe(challenge, still, 6.0, frame_interval=1.5) == "waiting"
    assert liveness.observe(challenge, still, 13.0, frame_interval=1.5) == "failed"
