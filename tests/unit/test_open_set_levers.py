"""The open-set ablation's levers on hand-made scores: per-subset counts, the quality floor
and two-photo visits."""

from __future__ import annotations

import numpy as np
import pytest

from cli.calibrate import _print_by_subset
from devtools.open_set import (
    Counts,
    ProbeScores,
    count_by_subset,
    count_decisions,
    subset_name,
    visit_scores,
)


def _scores() -> ProbeScores:
    """Six probes: ann twice (genuine, right), bob twice (genuine; 2nd nearest is cy), and a
    stranger (dan) twice, both nearest to ann."""
    return ProbeScores(
        best=np.array([0.30, 0.35, 0.20, 0.25, 0.33, 0.50]),
        runner_up=np.array([0.60, 0.60, 0.60, 0.28, 0.60, 0.60]),
        right=np.array([True, True, True, False, False, False]),
        genuine=np.array([True, True, True, True, False, False]),
        gated=np.zeros(6, dtype=bool),
        groups=("set/a", "set/a", "set/b", "set/b", "set/b", "set/b"),
        face_px=np.array([120.0, 90.0, 200.0, 60.0, 150.0, 150.0]),
        owners=("ann", "ann", "bob", "bob", "dan", "dan"),
        nearest=("ann", "ann", "bob", "cy", "ann", "ann"),
    )


def test_subset_name_is_the_folders_above_identity_and_photo() -> None:
    assert subset_name("faces_east_asian/lfw/Some_One/1.jpg") == "faces_east_asian/lfw"
    assert subset_name("faces/people/ann/x.jpg") == "faces/people"
    assert subset_name("lfw/Some_One/1.jpg") == "lfw"
    assert subset_name("lfw/1.jpg") == "lfw"


def test_counts_per_subset_add_up_to_the_whole() -> None:
    scores = _scores()
    by_subset = count_by_subset(scores, 0.34, 0.0)
    assert sorted(by_subset) == ["set/a", "set/b"]
    assert by_subset["set/a"] == Counts(2, 1, 0, 0, 0)  # 0.35 is over the tolerance
    assert by_subset["set/b"] == Counts(2, 1, 1, 2, 1)
    assert by_subset["set/a"] + by_subset["set/b"] == count_decisions(scores, 0.34, 0.0)


def test_a_quality_floor_asks_again_instead_of_accepting() -> None:
    floored = _scores().floored(100.0)
    counts = count_decisions(floored, 0.34, 0.0)
    assert counts.asked_again == 2  # the 90 px and 60 px faces
    assert (counts.genuine_correct, counts.genuine_wrong) == (2, 0)  # bob's wrong one asked


def test_a_visit_needs_both_photos_accepted_as_the_same_person() -> None:
    visits = visit_scores(_scores())
    assert visits.owners == ("ann", "bob", "dan")
    assert list(visits.genuine) == [True, True, False]
    assert visits.best[0] == 0.35 and np.isinf(visits.best[1])  # bob's photos disagree
    assert visits.best[2] == 0.50
    assert np.isclose(visits.runner_up[0] - visits.best[0], 0.25)  # the smaller margin
    assert count_decisions(visits, 0.40, 0.0) == Counts(2, 1, 0, 1, 0)
    assert count_decisions(visits, 0.50, 0.0) == Counts(2, 1, 0, 1, 1)


def test_the_human_report_has_a_row_per_rule_and_a_column_per_subset(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def counts(probes: int, correct: int, wrong: int, strangers: int) -> dict[str, int]:
        return {
            "genuine_probes": probes,
            "genuine_correct": correct,
            "genuine_wrong": wrong,
            "strangers_accepted": strangers,
        }

    by_subset = {"faces/people": counts(30, 27, 0, 0), "east/lfw": counts(108, 64, 1, 2)}
    _print_by_subset([{"name": "in_use", "by_subset": by_subset}])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].split() == ["rule", "lfw", "people"]
    assert lines[-1].split() == [
        "in_use",
        "59.3%",
        "of",
        "108",
        "(1/2)",
        "90.0%",
        "of",
        "30",
        "(0/0)",
    ]
