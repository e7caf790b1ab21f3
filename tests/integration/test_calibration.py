"""``kiosk calibrate``: pair distances, FAR thresholds and open-set identification on real photos.

The 46 photos of ``../shared/faces/people`` are embedded once per module with the dlib engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from devtools.calibration import (
    EmbeddedSet,
    PairDistances,
    describe,
    embed_labelled_set,
    pair_distances,
    read_labelled_set,
    threshold_at_far,
)
from devtools.open_set import evaluate_open_set, split_open_set, sweep_tolerances
from tests.recognition_tools import dlib_engine

DOCUMENTED_KEYS = {
    "engine",
    "set",
    "genuine",
    "impostor",
    "thresholds",
    "at_tolerance",
    "open_set",
}
OUTCOME_KEYS = {
    "tolerance",
    "margin",
    "enrolled_people",
    "templates",
    "genuine_probes",
    "genuine_correct",
    "correct_rate",
    "genuine_wrong",
    "genuine_rejected",
    "stranger_probes",
    "strangers_accepted",
    "stranger_accept_rate",
    "mistakes",
}


@pytest.fixture(scope="module")
def embedded(faces_dir: Path) -> EmbeddedSet:
    """Every labelled photo of the shared set, embedded once."""
    return embed_labelled_set(dlib_engine(), read_labelled_set(faces_dir, ["people/"]))


@pytest.fixture(scope="module")
def pairs(embedded: EmbeddedSet) -> PairDistances:
    """All genuine and impostor pair distances of the shared set."""
    return pair_distances(dlib_engine(), embedded)


def test_every_photo_is_embedded_and_paired(embedded: EmbeddedSet, pairs: PairDistances) -> None:
    assert (len(embedded.photos), embedded.people) == (46, 10)
    assert embedded.no_face == [] and embedded.unreadable == []
    assert pairs.genuine.size + pairs.impostor.size == 46 * 45 // 2
    per_person = np.unique(embedded.identities, return_counts=True)[1]
    assert pairs.genuine.size == int(sum(n * (n - 1) // 2 for n in per_person))


def test_genuine_pairs_are_closer_than_impostor_pairs(pairs: PairDistances) -> None:
    genuine, impostor = describe(pairs.genuine), describe(pairs.impostor)
    assert genuine["p50"] < impostor["p50"]
    assert genuine["min"] <= genuine["p50"] <= genuine["max"]


def test_strictest_threshold_accepts_no_impostor_pair(pairs: PairDistances) -> None:
    point = threshold_at_far(pairs, 0.0)
    assert point is not None
    nearest_impostor = float(pairs.impostor.min())
    assert nearest_impostor - 1e-4 <= point.threshold < nearest_impostor
    assert int(np.count_nonzero(pairs.impostor <= point.threshold)) == 0
    assert (point.false_accepts, point.far) == (0, 0.0)
    assert point.tar == np.count_nonzero(pairs.genuine <= point.threshold) / pairs.genuine.size


def test_threshold_at_far_allows_exactly_the_target_share() -> None:
    impostor = np.linspace(0.5, 1.5, 2000, dtype=np.float32)
    pairs = PairDistances(np.array([0.2, 0.5, 0.6], dtype=np.float32), impostor)
    point = threshold_at_far(pairs, 1e-3)  # 2 of 2000 impostor pairs may be accepted
    assert point is not None
    assert point.false_accepts == 2 and point.threshold < float(impostor[2])
    assert point.true_accepts == 2  # 0.2 and 0.5; 0.6 is beyond the third impostor pair
    assert threshold_at_far(PairDistances(pairs.genuine, impostor[:0]), 0.0) is None


def test_open_set_at_the_default_tolerance_makes_no_wrong_check_in(
    embedded: EmbeddedSet,
) -> None:
    engine = dlib_engine()
    split = split_open_set(embedded, enroll_per_person=1, seed=0)
    assert len(split.strangers) == 3 and split == split_open_set(embedded, 1, seed=0)
    enrolled = [embedded.photos[row] for row in split.enrolled]
    assert len({photo.identity for photo in enrolled}) == len(enrolled) == 7
    for photo in enrolled:  # the first photo of each person, by path
        same = [p.relative for p in embedded.photos if p.identity == photo.identity]
        assert photo.relative == min(same)
    outcome = evaluate_open_set(
        engine, embedded, split, engine.default_tolerance, engine.default_margin
    )
    assert outcome.genuine_probes == 46 - 7 - len(split.stranger_probes) > 0
    assert outcome.stranger_probes > 0
    assert (outcome.genuine_wrong, outcome.strangers_accepted) == (0, 0), outcome.mistakes
    assert outcome.genuine_correct > 0


def test_a_higher_tolerance_accepts_more(embedded: EmbeddedSet) -> None:
    engine = dlib_engine()
    split = split_open_set(embedded, enroll_per_person=2, seed=1)
    sweep = sweep_tolerances(engine, embedded, split, [0.6, 0.3, 0.45, 0.9], 0.0)
    assert [outcome.tolerance for outcome in sweep] == [0.3, 0.45, 0.6, 0.9]
    correct = [outcome.genuine_correct for outcome in sweep]
    strangers = [outcome.strangers_accepted + outcome.genuine_wrong for outcome in sweep]
    assert correct == sorted(correct) and correct[0] < correct[-1]
    assert strangers == sorted(strangers) and strangers[-1] > 0  # 0.9 accepts nearly anyone


def test_cli_json_has_the_documented_keys(
    faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    include = ["people/joe_biden/", "people/alex_lacamoire/", "people/rose_leslie/"]
    args = ["calibrate", "--faces", str(faces_dir), "--open-set", "--json", "--far", "0"]
    args += ["--engine", "dlib"]
    assert main([*args, *(f"--include={prefix}" for prefix in include)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == DOCUMENTED_KEYS
    assert report["engine"]["name"] == "dlib" and report["engine"]["tolerance"] == 0.4
    assert (report["set"]["photos"], report["set"]["people"]) == (6, 3)
    assert report["genuine"]["count"] == 3 and report["impostor"]["count"] == 12
    (strictest,) = report["thresholds"]
    assert strictest["far_target"] == 0 and strictest["false_accepts"] == 0
    open_set = report["open_set"]
    assert set(open_set["result"]) == OUTCOME_KEYS
    assert len(open_set["strangers"]) == 1
    assert [outcome["tolerance"] for outcome in open_set["sweep"]] == [0.3, 0.35, 0.4, 0.45, 0.5]


def test_unreadable_files_are_reported_not_fatal(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    for identity, numbers in (("joe_biden", (1, 2)), ("rose_leslie", (1,))):
        (photos / identity).mkdir(parents=True)
        for number in numbers:
            source = next((faces_dir / "people" / identity).glob(f"{number:02d}.*"))
            (photos / identity / source.name).symlink_to(source)
    (photos / "rose_leslie" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (photos / "joe_biden" / "notes.txt").write_text("not a photo\n", encoding="utf-8")

    assert main(["calibrate", "--faces", str(photos)]) == 0
    out = capsys.readouterr().out
    assert "5 photos, 3 embedded, 2 people; 0 without a face, 2 unreadable" in out
    lines = [line for line in out.splitlines() if line.startswith("  unreadable: ")]
    assert len(lines) == 2
    assert any("broken.jpg" in line for line in lines)
    assert any("notes.txt: not an image" in line for line in lines)
