"""The matcher on a synthetic 100 000-template gallery: nearest person, tolerance, margin."""

from __future__ import annotations

import numpy as np
import pytest

from terminal.face.matcher import Matcher
from tests.recognition_tools import dlib_engine

PEOPLE = 25_000
TEMPLATES_EACH = 4
DIM = 128


@pytest.fixture(scope="module")
def big_gallery() -> tuple[np.ndarray, list[str]]:
    """100k templates: 25k people x 4, each person's templates scattered around a centre."""
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 1, (PEOPLE, DIM)).astype(np.float32)
    spread = rng.normal(0, 0.05, (PEOPLE, TEMPLATES_EACH, DIM)).astype(np.float32)
    matrix = (centres[:, None, :] + spread).reshape(-1, DIM)
    ids = [f"P{index:05d}" for index in range(PEOPLE) for _ in range(TEMPLATES_EACH)]
    order = rng.permutation(len(ids))  # templates of one person are not stored together
    return matrix[order], [ids[i] for i in order]


def _matcher(matrix: np.ndarray, ids: list[str], tolerance: float, margin: float) -> Matcher:
    names = {person_id: f"name of {person_id}" for person_id in set(ids)}
    return Matcher(dlib_engine(), matrix, ids, names, tolerance=tolerance, margin=margin)


def test_finds_the_nearest_person_among_100k_templates(
    big_gallery: tuple[np.ndarray, list[str]],
) -> None:
    matrix, ids = big_gallery
    matcher = _matcher(matrix, ids, tolerance=0.6, margin=0.05)
    assert matcher.templates == 100_000
    assert matcher.people == PEOPLE
    owners = np.asarray(ids)
    rng = np.random.default_rng(1)
    for row in rng.choice(len(ids), 10, replace=False):
        probe = matrix[row] + rng.normal(0, 0.02, DIM).astype(np.float32)
        match = matcher.identify(probe)
        brute = np.linalg.norm(matrix.astype(np.float64) - probe, axis=1)
        assert match.person_id == ids[row]
        assert match.name == f"name of {ids[row]}"
        assert match.distance == pytest.approx(brute.min(), abs=1e-4)
        others = brute[owners != ids[row]]
        assert match.runner_up_distance == pytest.approx(others.min(), abs=1e-4)


def test_a_stranger_is_not_matched_but_the_nearest_distance_is_reported(
    big_gallery: tuple[np.ndarray, list[str]],
) -> None:
    matrix, ids = big_gallery
    stranger = np.random.default_rng(99).normal(0, 1, DIM).astype(np.float32)
    match = _matcher(matrix, ids, tolerance=0.6, margin=0.05).identify(stranger)
    assert match.person_id is None
    assert match.name is None
    assert match.distance is not None and match.distance > 0.6


def _line(points: dict[str, list[float]]) -> tuple[np.ndarray, list[str]]:
    """Templates on the first axis: person -> positions."""
    rows, ids = [], []
    for person_id, positions in points.items():
        for position in positions:
            vector = np.zeros(DIM, dtype=np.float32)
            vector[0] = position
            rows.append(vector)
            ids.append(person_id)
    return np.stack(rows), ids


def test_margin_rule_refuses_a_face_as_close_to_two_people() -> None:
    matrix, ids = _line({"A": [0.30], "B": [-0.32]})  # probe at 0: 0.30 from A, 0.32 from B
    probe = np.zeros(DIM, dtype=np.float32)
    ambiguous = _matcher(matrix, ids, tolerance=0.5, margin=0.05).identify(probe)
    assert ambiguous.person_id is None
    assert ambiguous.reason.startswith("ambiguous")
    assert ambiguous.distance == pytest.approx(0.30)
    assert ambiguous.runner_up_distance == pytest.approx(0.32)
    clear = _matcher(matrix, ids, tolerance=0.5, margin=0.01).identify(probe)
    assert clear.person_id == "A"


def test_best_template_counts_and_a_persons_own_templates_never_compete() -> None:
    # A has a far and a near template; the near one decides. A's two near templates
    # (0.20 and 0.21) must not trigger the margin rule against each other.
    matrix, ids = _line({"A": [0.9, 0.20, -0.21], "B": [0.7]})
    match = _matcher(matrix, ids, tolerance=0.5, margin=0.05).identify(
        np.zeros(DIM, dtype=np.float32)
    )
    assert match.person_id == "A"
    assert match.distance == pytest.approx(0.20)
    assert match.runner_up_distance == pytest.approx(0.7)


def test_tolerance_is_inclusive_and_single_person_gallery_has_no_runner_up() -> None:
    matrix, ids = _line({"A": [0.5]})
    matcher = _matcher(matrix, ids, tolerance=0.5, margin=0.05)
    match = matcher.identify(np.zeros(DIM, dtype=np.float32))
    assert match.person_id == "A"
    assert match.runner_up_distance is None
    far = np.zeros(DIM, dtype=np.float32)
    far[0] = -0.01
    assert matcher.identify(far).person_id is None


def test_empty_gallery_matches_nobody() -> None:
    matcher = _matcher(np.zeros((0, DIM), dtype=np.float32), [], tolerance=0.5, margin=0.05)
    match = matcher.identify(np.zeros(DIM, dtype=np.float32))
    assert (match.person_id, match.distance, matcher.people) == (None, None, 0)
