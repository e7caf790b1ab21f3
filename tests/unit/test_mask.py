"""The mask detector and the ``lower_mask`` hint, on real photos with and without a drawn mask."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devtools.masks import draw_mask
from drivers.face.base import FaceEngine
from terminal.checkin.engines import create_engine
from terminal.config import Config
from terminal.face.images import load_rgb
from terminal.face.mask import mask_score, read_mask
from terminal.face.quality import assess
from terminal.output.announcements import announce

PHOTOS = [
    ("faces", "people/barack_obama/01.jpg"),
    ("faces", "people/katy_perry/03.jpg"),
    ("east_asian", "nuaa_webcam/0001/0001_00_00_01_0.jpg"),
]


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    """The default face engine (SFace: YuNet gives the five landmarks)."""
    return create_engine(Config())


@pytest.fixture
def photo(request: pytest.FixtureRequest) -> Path:
    """The photo named by the test's parameter, in the shared set it comes from."""
    where, relative = request.param
    folder = request.getfixturevalue("faces_dir" if where == "faces" else "east_asian_dir")
    path: Path = folder / relative
    return path


def _face(engine: FaceEngine, rgb: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray]:
    boxes = engine.detect(rgb, 40)
    assert boxes, "no face found"
    landmarks = engine.landmarks(rgb, boxes[0])
    assert landmarks is not None
    return boxes[0], landmarks


@pytest.mark.parametrize("photo", PHOTOS, indirect=True, ids=[p for _, p in PHOTOS])
def test_a_masked_face_is_asked_to_lower_the_mask_and_a_bare_one_is_not(
    engine: FaceEngine, photo: Path
) -> None:
    rgb = load_rgb(photo)
    box, landmarks = _face(engine, rgb)
    bare = read_mask(rgb, landmarks)
    assert not bare.masked and bare.score is not None
    assert assess(rgb, box, landmarks).hint is None

    masked_rgb = draw_mask(rgb, landmarks, seed=3)
    masked_box, masked_landmarks = _face(engine, masked_rgb)
    masked = read_mask(masked_rgb, masked_landmarks)
    assert masked.masked and masked.score is not None and masked.score > bare.score
    assert assess(masked_rgb, masked_box, masked_landmarks).hint == "lower_mask"


def test_a_grey_image_gets_no_verdict_and_no_request(engine: FaceEngine, faces_dir: Path) -> None:
    rgb = load_rgb(faces_dir / "people" / "barack_obama" / "01.jpg")
    _, landmarks = _face(engine, rgb)
    masked = draw_mask(rgb, landmarks, seed=1)
    grey = cv2.cvtColor(cv2.cvtColor(masked, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    box, grey_landmarks = _face(engine, grey)
    assert mask_score(grey, grey_landmarks) is None
    assert assess(grey, box, grey_landmarks).hint != "lower_mask"


def test_masks_are_drawn_the_same_for_a_seed_and_differ_between_seeds(
    engine: FaceEngine, faces_dir: Path
) -> None:
    rgb = load_rgb(faces_dir / "people" / "joe_biden" / "01.jpg")
    _, landmarks = _face(engine, rgb)
    first = draw_mask(rgb, landmarks, seed=5)
    assert np.array_equal(first, draw_mask(rgb, landmarks, seed=5))
    assert not np.array_equal(first, draw_mask(rgb, landmarks, seed=6))
    # Only the lower face changes: the eyes stay as they were.
    right_eye = np.round(landmarks[0]).astype(int)
    x, y = int(right_eye[0]), int(right_eye[1])
    assert np.array_equal(first[y - 2 : y + 3, x - 2 : x + 3], rgb[y - 2 : y + 3, x - 2 : x + 3])
    assert not np.array_equal(first, rgb)


def test_the_request_is_said_in_both_languages() -> None:
    assert announce("lower_mask", "zh") == "请摘下口罩"
    assert announce("lower_mask", "en") == "Please lower your mask"
