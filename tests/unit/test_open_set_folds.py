"""Cross-validation helpers of ``kiosk calibrate --open-set``: subject-disjoint folds and the
threshold rule (loosest tolerance with no false accept), on synthetic identities and scores."""

from __future__ import annotations

import numpy as np
import pytest

from devtools.open_set import (
    Counts,
    ProbeScores,
    choose_thresholds,
    count_decisions,
    fold_people,
    loosest_safe_tolerance,
)


def _identities(people: int, photos_each: int = 3) -> list[str]:
    return [f"P{person:03d}" for person in range(people) for _ in range(photos_each)]


@pytest.mark.parametrize(("people", "folds"), [(10, 5), (66, 5), (7, 3), (2, 2)])
def test_folds_are_subject_disjoint_and_cover_everyone(people: int, folds: int) -> None:
    identities = _identities(people)
    split = fold_people(identities, folds, seed=0)
    assert len(split) == folds
    seen = [person for fold in split for person in fold]
    assert sorted(seen) == sorted(set(identities))  # everyone once: no one on both sides
    for index, held_out in enumerate(split):
        training = {p for other, fold in enumerate(split) if other != index for p in fold}
        assert not training & set(held_out)
    sizes = [len(fold) for fold in split]
    assert max(sizes) - min(sizes) <= 1


def test_folds_depend_on_the_seed_only() -> None:
    identities = _identities(30)
    assert fold_people(identities, 5, seed=3) == fold_people(list(reversed(identities)), 5, 3)
    assert fold_people(identities, 5, seed=3) != fold_people(identities, 5, seed=4)


def test_more_folds_than_people_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be split"):
        fold_people(_identities(3), 4)
    with pytest.raises(ValueError, match="cannot be split"):
        fold_people(_identities(3), 1)


def _scores(rows: list[tuple[float, float, bool, bool]]) -> ProbeScores:
    """(best, runner-up, nearest is the probe's own identity, genuine) per probe."""
    best, runner_up, right, genuine = (np.array(column) for column in zip(*rows, strict=True))
    return ProbeScores(
        best.astype(float),
        runner_up.astype(float),
        right.astype(bool),
        genuine.astype(bool),
        np.zeros(len(rows), dtype=bool),
    )


SYNTHETIC = _scores(
    [
        (0.20, 0.70, True, True),  # genuine, clear
        (0.35, 0.80, True, True),
        (0.41, 0.44, True, True),  # genuine but a colleague is nearly as close
        (0.50, 0.90, True, True),  # genuine, only accepted at a loose tolerance
        (0.45, 0.47, False, True),  # wrong person nearest (ambiguous: runner-up 0.02 further)
        (0.48, 0.75, False, False),  # stranger, clearly nearest someone
    ]
)


def test_the_loosest_safe_tolerance_stops_below_the_first_false_accept() -> None:
    # Without a margin the wrong-person probe at 0.45 is the first false accept.
    assert loosest_safe_tolerance(SYNTHETIC, 0.0) == pytest.approx(0.4499)
    # With a margin of 0.05 it is refused as ambiguous: the stranger at 0.48 is the limit.
    assert loosest_safe_tolerance(SYNTHETIC, 0.05) == pytest.approx(0.4799)
    counts = count_decisions(SYNTHETIC, 0.4799, 0.05)
    assert counts == Counts(5, 2, 0, 1, 0)  # 0.41 is refused by the margin, 0.50 too far


def test_a_tolerance_exactly_at_a_false_accept_is_not_chosen() -> None:
    scores = _scores([(0.3, 0.9, True, True), (0.4, 0.9, False, False)])
    tolerance = loosest_safe_tolerance(scores, 0.0)
    assert tolerance < 0.4 and count_decisions(scores, tolerance, 0.0).false_accepts == 0
    assert count_decisions(scores, 0.4, 0.0).strangers_accepted == 1  # inclusive, like Matcher


def test_without_any_possible_false_accept_every_genuine_probe_is_accepted() -> None:
    scores = _scores([(0.3, 0.9, True, True), (0.62, 0.9, True, True)])
    tolerance = loosest_safe_tolerance(scores, 0.0)
    assert tolerance >= 0.62 and count_decisions(scores, tolerance, 0.0).genuine_correct == 2


def test_the_margin_that_accepts_most_genuine_probes_is_chosen() -> None:
    tolerance, margin, training = choose_thresholds(SYNTHETIC, (0.0, 0.05))
    # margin 0: tolerance 0.4499 accepts 0.20, 0.35, 0.41 (3); margin 0.05: 0.4799 accepts 2
    assert (tolerance, margin) == (pytest.approx(0.4499), 0.0)
    assert training == Counts(5, 3, 0, 1, 0)
    assert training.false_accepts == 0


def test_ties_go_to_the_larger_margin_and_safety_is_subtracted() -> None:
    scores = _scores([(0.2, 0.9, True, True), (0.6, 0.62, False, False)])
    tolerance, margin, _ = choose_thresholds(scores, (0.0, 0.05))
    assert margin == 0.05 and tolerance >= 0.6  # the stranger is ambiguous: refused anyway
    stricter, _, counts = choose_thresholds(scores, (0.0,), safety=0.1)
    assert stricter == pytest.approx(0.5999 - 0.1) and counts.false_accepts == 0


def test_gated_probes_are_never_accepted() -> None:
    scores = _scores([(0.2, 0.9, True, True), (0.3, 0.9, False, False)])
    gated = ProbeScores(
        scores.best, scores.runner_up, scores.right, scores.genuine, np.array([False, True])
    )
    assert count_decisions(gated, 0.5, 0.0) == Counts(1, 1, 0, 1, 0)
    assert loosest_safe_tolerance(gated, 0.0) >= 0.2
