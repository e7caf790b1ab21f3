"""Face tracks: overlap keeps identity, gaps and re-verification forget it."""

from __future__ import annotations

from terminal.face.tracks import FaceTracker, iou


def test_iou() -> None:
    assert iou((0, 10, 10, 0), (0, 10, 10, 0)) == 1.0
    assert iou((0, 10, 10, 0), (20, 30, 30, 20)) == 0.0
    assert abs(iou((0, 10, 10, 0), (0, 15, 10, 5)) - 50 / 150) < 1e-9


def test_a_moving_face_keeps_its_track_and_identity() -> None:
    tracker = FaceTracker(reverify_s=5.0)
    (first,) = tracker.assign([(100, 200, 200, 100)], now=0.0)
    tracker.resolve(first, "E1", "张三", now=0.0)
    (second,) = tracker.assign([(104, 206, 204, 106)], now=0.07)
    assert second is first and tracker.known(second, now=0.07)
    assert not tracker.known(second, now=5.5)  # re-verify after a while


def test_a_new_face_elsewhere_or_after_a_gap_is_a_new_track() -> None:
    tracker = FaceTracker(max_gap_s=0.5)
    (first,) = tracker.assign([(100, 200, 200, 100)], now=0.0)
    tracker.resolve(first, "E1", None, now=0.0)
    elsewhere, same = tracker.assign([(100, 500, 200, 400), (100, 200, 200, 100)], now=0.1)
    assert same is first and elsewhere is not first and not tracker.known(elsewhere, 0.1)
    assert tracker.assign([], now=0.3) == []  # a frame without the face...
    (back,) = tracker.assign([(100, 200, 200, 100)], now=0.4)
    assert back is first  # ...within the gap keeps the track
    (later,) = tracker.assign([(100, 200, 200, 100)], now=1.5)
    assert later is not first and later.person_id is None
