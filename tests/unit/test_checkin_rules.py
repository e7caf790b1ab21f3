"""Confirmation over consecutive frames and the repeat window, on monotonic time."""

from __future__ import annotations

from terminal.checkin.rules import FaceConfirmation, RepeatGuard


def test_confirmation_needs_consecutive_frames_for_the_same_person() -> None:
    confirm = FaceConfirmation(frames=3)
    assert confirm.update(["A"], 0.0) == {"A": 1}
    assert confirm.update(["A", "B"], 0.1) == {"A": 2, "B": 1}
    assert not confirm.confirmed("A")
    assert confirm.update(["A"], 0.2) == {"A": 3}
    assert confirm.confirmed("A")
    assert not confirm.confirmed("B")  # B was missing from the last frame


def test_a_frame_without_the_person_or_a_long_gap_restarts_the_count() -> None:
    confirm = FaceConfirmation(frames=2, max_gap_s=1.0)
    confirm.update(["A"], 0.0)
    confirm.update([], 0.1)
    assert confirm.update(["A"], 0.2) == {"A": 1}
    assert confirm.update(["A"], 1.5) == {"A": 1}  # 1.3 s after the previous frame
    assert confirm.update(["A"], 1.6) == {"A": 2}
    confirm.reset("A")
    assert not confirm.confirmed("A")


def test_repeat_window_is_per_person_and_ends() -> None:
    guard = RepeatGuard(window_s=60)
    assert guard.seconds_since("A", 100.0) is None
    guard.record("A", 100.0)
    assert guard.seconds_since("A", 130.0) == 30.0
    assert guard.seconds_since("B", 130.0) is None
    assert guard.seconds_since("A", 160.0) is None
    guard.record("B", 200.0)  # forgets A, whose window is over
    assert guard.seconds_since("A", 200.0) is None
    assert guard.seconds_since("B", 201.0) == 1.0
