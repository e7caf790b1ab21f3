"""The rule that picks the face to enroll from a photo with several faces (no images needed)."""

from __future__ import annotations

import pytest

from drivers.face.base import Box
from terminal.face.enrollment import choose_face


def _box(centre_x: int, centre_y: int, side: int) -> Box:
    """A square face box (top, right, bottom, left) around a centre."""
    half = side // 2
    return (centre_y - half, centre_x + half, centre_y + half, centre_x - half)


def test_one_face_is_used_when_tall_enough() -> None:
    face = _box(500, 300, 200)
    assert choose_face([face], 700, 1000, 80).box == face
    assert choose_face([_box(500, 300, 60)], 700, 1000, 80).reason == (
        "face is 60 px tall, at least 80 px needed"
    )
    assert choose_face([], 700, 1000, 80).reason == "no face found"


def test_largest_face_is_used_when_1_5_times_the_side_of_the_next() -> None:
    subject, bystander = _box(500, 300, 150), _box(850, 200, 100)
    choice = choose_face([bystander, subject], 700, 1000, 80)
    assert (choice.box, choice.others, choice.reason) == (subject, [bystander], None)


def test_faces_of_similar_size_are_refused_with_count_and_sizes() -> None:
    choice = choose_face([_box(300, 300, 148), _box(700, 300, 100)], 700, 1000, 80)
    assert choice.box is None
    assert choice.reason == (
        "2 faces of similar size found (148 and 100 px tall; the largest has 2.2x the area"
        " of the next, 2.25x needed); use a photo with only this person"
    )


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (_box(500, 95, 200), "is cut off by the edge"),  # touches the top
        (_box(150, 300, 200), "is not near the middle"),  # centre at 15 % of the width
    ],
)
def test_dominant_face_cut_off_or_at_the_side_is_refused(subject: Box, expected: str) -> None:
    choice = choose_face([subject, _box(800, 500, 60)], 700, 1000, 80)
    assert choice.box is None
    assert choice.reason is not None and expected in choice.reason


def test_dominant_face_must_itself_be_tall_enough() -> None:
    choice = choose_face([_box(500, 300, 70), _box(800, 300, 40)], 700, 1000, 80)
    assert choice.reason == "2 faces found and the largest is 70 px tall, at least 80 px needed"
