"""``kiosk bench masks`` on a small real subset: the photos of ``../shared/faces/people`` (copied
to a temporary folder, so the videos are not read) and one short real video."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from devtools.bench.masks import video_false_alarms
from devtools.calibration import read_labelled_set
from devtools.masks import cross_validate_masked, embed_with_masks
from devtools.open_set import ablation_rules, cross_validate
from drivers.face.base import FaceEngine

COUNT_KEYS = {
    "genuine_probes",
    "genuine_correct",
    "genuine_wrong",
    "stranger_probes",
    "strangers_accepted",
    "false_accepts",
    "correct_rate",
}
RATE_KEYS = {
    "cutoff",
    "masked_faces",
    "detected",
    "detection_rate",
    "bare_faces",
    "false_alarms",
    "false_alarm_rate",
    "no_verdict_masked",
    "no_verdict_bare",
}


@pytest.fixture
def people_only(faces_dir: Path, tmp_path: Path) -> Path:
    """The labelled photos of ``people/`` in a folder of their own (no ``video/``)."""
    folder = tmp_path / "people_set"
    with (faces_dir / "labels.csv").open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["path"].startswith("people/")]
    for row in rows:
        target = folder / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(faces_dir / row["path"], target)
    with (folder / "labels.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, ["path", "identity"])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_cli_compares_masked_with_unmasked_and_counts_false_accepts(
    people_only: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "masks", "--faces", str(people_only), "--folds", "3", "--json"]) == 0
    captured = capsys.readouterr()
    assert "embedded 46/46 photos" in captured.err
    report = json.loads(captured.out)
    assert report["set"]["embedded"] == 46 and report["set"]["people"] == 10
    assert report["folds"] == 3
    assert [rule["name"] for rule in report["rules"]] == ["in_use", "live"]
    for rule in report["rules"]:
        unmasked, masked = rule["unmasked"], rule["masked"]
        assert set(unmasked) == set(masked) == set(rule["masked_with_detector"]) == COUNT_KEYS
        # The same probes, only masked: same people, folds and strangers.
        assert masked["genuine_probes"] == unmasked["genuine_probes"] > 0
        assert masked["stranger_probes"] == unmasked["stranger_probes"] > 0
        assert masked["false_accepts"] == masked["genuine_wrong"] + masked["strangers_accepted"]
        # Masked faces are asked to lower the mask: behind the detector no false accept.
        assert rule["masked_with_detector"]["false_accepts"] == 0
    in_use = report["rules"][0]
    assert in_use["masked"]["false_accepts"] == 0
    assert in_use["masked"]["genuine_correct"] < in_use["unmasked"]["genuine_correct"]
    raised = any(
        r["masked"]["false_accepts"] > r["unmasked"]["false_accepts"] for r in report["rules"]
    )
    assert report["masks_raise_false_accepts"] is raised
    assert report["masks_raise_false_accepts_with_detector"] is False
    detector = report["detector"]
    assert len(detector["halves"]) == 2 and "videos" not in detector
    for half in detector["halves"]:
        assert set(half["held_out"]) == set(half["held_out_at_shipped_cutoff"]) == RATE_KEYS
        assert half["held_out"]["detection_rate"] > 0.8
        assert half["held_out"]["false_alarm_rate"] <= 0.1


def test_masked_with_bare_probes_is_the_plain_cross_validation(
    engine: FaceEngine, faces_dir: Path
) -> None:
    sets = embed_with_masks(engine, read_labelled_set(faces_dir, ["people/"]))
    rules = {rule.name: rule for rule in ablation_rules(0.41, 0.05, 0.55)}
    for name in ("in_use", "live"):
        plain = cross_validate(engine, sets.bare, rules[name], folds=3)
        same = cross_validate_masked(engine, sets.bare, sets.bare, rules[name], folds=3)
        assert same.pooled == plain.pooled
        assert [fold.tolerance for fold in same.folds] == [fold.tolerance for fold in plain.folds]
        masked = cross_validate_masked(engine, sets.bare, sets.masked, rules[name], folds=3)
        assert masked.pooled.genuine_probes == plain.pooled.genuine_probes
        assert masked.pooled != plain.pooled


def test_nobody_is_flagged_in_a_real_unmasked_video(engine: FaceEngine, faces_dir: Path) -> None:
    video = faces_dir / "video" / "studio_headshot_a.mp4"
    folder = video.parent
    videos = video_false_alarms(engine, folder, [0.65], names=[video.name])
    figures = videos[video.name]
    assert figures["faces"] > 50
    assert figures["false_alarms"] == {"0.65": 0}
