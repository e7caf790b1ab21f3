"""Quality gates on real photos: sharp frontal faces pass; poor ones get a hint instead."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.face.base import FaceEngine
from terminal.face.images import load_rgb
from terminal.face.quality import assess, pose
from terminal.output.announcements import announce


def _judge(engine: FaceEngine, rgb: np.ndarray) -> str | None:
    boxes = engine.detect(rgb, min_face_px=40)
    assert boxes
    return assess(rgb, boxes[0], engine.landmarks(rgb, boxes[0])).hint


@pytest.mark.parametrize("photo", ["barack_obama/01.jpg", "katy_perry/03.jpg", "joe_biden/01.jpg"])
def test_sharp_frontal_photos_pass(engine: FaceEngine, faces_dir: Path, photo: str) -> None:
    assert _judge(engine, load_rgb(faces_dir / "people" / photo)) is None


def test_blurred_face_asks_to_hold_still(engine: FaceEngine, faces_dir: Path) -> None:
    rgb = load_rgb(faces_dir / "people" / "barack_obama" / "01.jpg")
    (top, _, bottom, _) = engine.detect(rgb, 40)[0]
    blurred = cv2.GaussianBlur(rgb, (0, 0), 3 * (bottom - top) / 112)
    assert _judge(engine, blurred) == "hold_still"


def test_face_cut_by_the_frame_edge_asks_to_step_in(engine: FaceEngine, faces_dir: Path) -> None:
    rgb = load_rgb(faces_dir / "people" / "barack_obama" / "01.jpg")
    (_, right, _, left) = engine.detect(rgb, 40)[0]
    cut = np.ascontiguousarray(rgb[:, left + (right - left) // 3 :])
    assert _judge(engine, cut) == "center_face"


def test_pose_from_landmarks() -> None:
    frontal = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], dtype=np.float32)
    turned = frontal.copy()
    turned[2, 0] = 85  # nose far to one side of the eyes
    tilted = frontal.copy()
    tilted[1, 1] = 90  # one eye much lower than the other
    assert abs(pose(frontal)[0]) < 0.01 and abs(pose(frontal)[1]) < 0.01
    assert pose(turned)[0] > 0.45
    assert pose(tilted)[1] > 30


def test_every_hint_has_both_languages() -> None:
    for hint in ("move_closer", "look_at_camera", "hold_still", "center_face"):
        assert announce(hint, "zh") != announce(hint, "en")
