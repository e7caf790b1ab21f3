"""``kiosk bench masks``: what a surgical mask does to recognition, and the mask detector.

Every photo of the labelled sets is embedded bare and with a synthetic mask
(:mod:`devtools.masks`). The kiosk's open set is cross-validated twice with the same folds,
strangers and thresholds (:func:`devtools.open_set.cross_validate`): bare, then with every held-out
probe masked (enrolled photos bare, as HR photos are), for the tolerance in use (``in_use``)
and for thresholds chosen per fold on the training people's bare photos (``live``); then once
more masked with the mask detector in front (``masked_with_detector``: a face it flags is asked
to lower the mask, not matched).

The detector (:mod:`terminal.face.mask`) is scored on the bare and masked faces: its cut-off is
chosen on half of the people (subject-disjoint) and its detection rate (masked faces flagged)
and false-alarm rate (bare faces flagged) are counted on the other half; the shipped cut-off
is counted there too, and on the real videos of ``<faces>/video`` (nobody masked: false alarms
only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devtools.calibration import read_labelled_sets
from devtools.masks import (
    MaskedSets,
    cross_validate_masked,
    embed_with_masks,
    refuse_flagged,
)
from devtools.open_set import (
    DEFAULT_FOLDS,
    DEFAULT_SAFETY,
    Counts,
    CrossValidation,
    ablation_rules,
    cross_validate,
    fold_people,
)
from drivers.face.base import FaceEngine
from terminal.face.mask import MASK_SCORE_CUTOFF, mask_score

RULES = ("in_use", "live")
BARE_COSINE_SIMILARITY = 0.45
"""Only to build :func:`ablation_rules`; its ``bare`` rule is not measured here."""
CUTOFF_GRID = tuple(round(0.05 * step, 2) for step in range(1, 20))
MAX_FALSE_ALARM_RATE = 0.01
"""The cut-off chosen is the one flagging the most masked faces of the choosing half while
flagging at most this share of its bare faces (ties: the higher cut-off)."""
VIDEO_FPS = 10.0
VIDEO_MIN_FACE_PX = 40


def _counts(counts: Counts) -> dict[str, Any]:
    return {
        "genuine_probes": counts.genuine_probes,
        "genuine_correct": counts.genuine_correct,
        "genuine_wrong": counts.genuine_wrong,
        "stranger_probes": counts.stranger_probes,
        "strangers_accepted": counts.strangers_accepted,
        "false_accepts": counts.false_accepts,
        "correct_rate": counts.correct_rate,
    }


def _thresholds(result: CrossValidation) -> list[dict[str, float]]:
    return [{"tolerance": fold.tolerance, "margin": fold.margin} for fold in result.folds]


def _rates(
    cutoff: float, masked: Sequence[float | None], bare: Sequence[float | None]
) -> dict[str, Any]:
    """Detection and false-alarm counts and rates at ``cutoff`` (no verdict = not flagged)."""
    detected = sum(1 for score in masked if score is not None and score > cutoff)
    alarms = sum(1 for score in bare if score is not None and score > cutoff)
    return {
        "cutoff": cutoff,
        "masked_faces": len(masked),
        "detected": detected,
        "detection_rate": detected / len(masked) if masked else None,
        "bare_faces": len(bare),
        "false_alarms": alarms,
        "false_alarm_rate": alarms / len(bare) if bare else None,
        "no_verdict_masked": sum(1 for score in masked if score is None),
        "no_verdict_bare": sum(1 for score in bare if score is None),
    }


def choose_cutoff(masked: Sequence[float | None], bare: Sequence[float | None]) -> float:
    """The cut-off of :data:`CUTOFF_GRID` flagging the most ``masked`` scores with at most
    :data:`MAX_FALSE_ALARM_RATE` of ``bare`` flagged (ties: the higher cut-off)."""
    best = (-1, CUTOFF_GRID[-1])
    for cutoff in CUTOFF_GRID:
        figures = _rates(cutoff, masked, bare)
        if (figures["false_alarm_rate"] or 0.0) > MAX_FALSE_ALARM_RATE:
            continue
        if figures["detected"] >= best[0]:
            best = (figures["detected"], cutoff)
    return best[1]


def detector_figures(sets: MaskedSets, seed: int) -> dict[str, Any]:
    """The cut-off chosen on one half of the people, counted on the other half (both ways)."""
    identities = sets.bare.identities
    halves = fold_people(identities, 2, seed)
    rounds = []
    for choose_on, count_on in ((halves[0], halves[1]), (halves[1], halves[0])):
        chosen_rows = [row for row, who in enumerate(identities) if who in set(choose_on)]
        counted_rows = [row for row, who in enumerate(identities) if who in set(count_on)]
        # A masked face no longer found is not in the detector's count (the kiosk sees nobody).
        chosen_masked = [
            sets.masked_scores[row] for row in chosen_rows if sets.masked.facts[row].face_px
        ]
        counted_masked = [
            sets.masked_scores[row] for row in counted_rows if sets.masked.facts[row].face_px
        ]
        cutoff = choose_cutoff(chosen_masked, [sets.bare_scores[row] for row in chosen_rows])
        rounds.append(
            {
                "chosen_on_people": len(choose_on),
                "counted_on_people": len(count_on),
                "held_out": _rates(
                    cutoff, counted_masked, [sets.bare_scores[row] for row in counted_rows]
                ),
                "held_out_at_shipped_cutoff": _rates(
                    MASK_SCORE_CUTOFF,
                    counted_masked,
                    [sets.bare_scores[row] for row in counted_rows],
                ),
            }
        )
    found = [row for row in range(len(identities)) if sets.masked.facts[row].face_px]
    return {
        "shipped_cutoff": MASK_SCORE_CUTOFF,
        "halves": rounds,
        "all_photos_at_shipped_cutoff": _rates(
            MASK_SCORE_CUTOFF, [sets.masked_scores[row] for row in found], sets.bare_scores
        ),
    }


def _frames(path: Path, fps: float) -> Iterator[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    step = max(1, round((capture.get(cv2.CAP_PROP_FPS) or fps) / fps))
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            if index % step == 0:
                yield image
            index += 1
    finally:
        capture.release()


def video_false_alarms(
    engine: FaceEngine,
    video_dir: Path,
    cutoffs: Sequence[float],
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per real video (nobody masked; ``names``, default every ``*.mp4``) at about
    :data:`VIDEO_FPS`: the largest face of each frame, and how many the detector flags at each
    cut-off (keys ``"0.65"``...)."""
    videos: dict[str, Any] = {}
    paths = [video_dir / name for name in names] if names is not None else video_dir.glob("*.mp4")
    for path in sorted(paths):
        scores: list[float | None] = []
        for image in _frames(path, VIDEO_FPS):
            rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
            boxes = engine.detect(rgb, VIDEO_MIN_FACE_PX)
            landmarks = engine.landmarks(rgb, boxes[0]) if boxes else None
            if landmarks is not None:
                scores.append(mask_score(rgb, landmarks))
        videos[path.name] = {
            "faces": len(scores),
            "no_verdict": sum(1 for score in scores if score is None),
            "false_alarms": {
                f"{cutoff:g}": sum(1 for s in scores if s is not None and s > cutoff)
                for cutoff in cutoffs
            },
        }
    return videos


def run_masks_benchmark(
    engine: FaceEngine,
    folders: Sequence[Path],
    in_use: tuple[float, float],
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    safety: float = DEFAULT_SAFETY,
    include: Sequence[str] = (),
    video_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Unmasked against masked open-set figures and the detector's rates, as one JSON-ready
    dict (see the module docstring)."""
    photos = read_labelled_sets(folders, include)
    sets = embed_with_masks(engine, photos, seed, progress=progress)
    bare, masked = sets.bare, sets.masked
    folds = min(folds, bare.people)
    tolerance, margin = in_use
    rules = [
        rule
        for rule in ablation_rules(tolerance, margin, round(1 - BARE_COSINE_SIMILARITY, 6))
        if rule.name in RULES
    ]
    flagged = [score is not None and score > MASK_SCORE_CUTOFF for score in sets.masked_scores]
    screened = refuse_flagged(masked, flagged)
    measured: list[dict[str, Any]] = []
    for rule in rules:
        unmasked = cross_validate(engine, bare, rule, folds, seed, safety)
        with_masks = cross_validate_masked(engine, bare, masked, rule, folds, seed, safety)
        with_detector = cross_validate_masked(engine, bare, screened, rule, folds, seed, safety)
        measured.append(
            {
                "name": rule.name,
                "description": rule.description,
                "thresholds": _thresholds(unmasked),
                "unmasked": _counts(unmasked.pooled),
                "masked": _counts(with_masks.pooled),
                "masked_with_detector": _counts(with_detector.pooled),
            }
        )
    raised = {
        variant: any(
            rule[variant]["false_accepts"] > rule["unmasked"]["false_accepts"] for rule in measured
        )
        for variant in ("masked", "masked_with_detector")
    }
    detector = detector_figures(sets, seed)
    if video_dir is not None and video_dir.is_dir():
        chosen = sorted({half["held_out"]["cutoff"] for half in detector["halves"]})
        detector["videos"] = video_false_alarms(engine, video_dir, [MASK_SCORE_CUTOFF, *chosen])
    return {
        "engine": {"name": engine.name, "tolerance": tolerance, "margin": margin},
        "set": {
            "folders": [str(folder) for folder in folders],
            "include": list(include),
            "photos": len(photos),
            "embedded": len(bare.photos),
            "people": bare.people,
            "no_face": bare.no_face,
            "unreadable": bare.unreadable,
            "masked_no_face": sets.masked_no_face,
        },
        "folds": folds,
        "seed": seed,
        "safety": safety,
        "rules": measured,
        "masks_raise_false_accepts": raised["masked"],
        "masks_raise_false_accepts_with_detector": raised["masked_with_detector"],
        "detector": detector,
    }


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "-"


def summary(result: dict[str, Any]) -> list[str]:
    """A few readable lines: per rule unmasked, masked and masked behind the detector; then
    the detector's held-out rates and the videos' false alarms."""
    photo_set = result["set"]
    lines = [
        f"{photo_set['embedded']} photos of {photo_set['people']} people, {result['folds']} folds"
        f" (seed {result['seed']}); {len(photo_set['masked_no_face'])} faces not found once"
        " masked (refused)",
        f"{'rule':<8}{'probes':<22}{'right person':<22}{'wrong person':>13}  strangers accepted",
    ]
    for rule in result["rules"]:
        for variant in ("unmasked", "masked", "masked_with_detector"):
            counts = rule[variant]
            lines.append(
                f"{rule['name']:<8}{variant:<22}"
                f"{_share(counts['genuine_correct'], counts['genuine_probes']):<22}"
                f"{counts['genuine_wrong']:>13}  "
                f"{_share(counts['strangers_accepted'], counts['stranger_probes'])}"
            )
    for key, what in (("", "masks"), ("_with_detector", "masks behind the detector")):
        verdict = "RAISE" if result[f"masks_raise_false_accepts{key}"] else "do not raise"
        lines.append(f"{what} {verdict} false accepts")
    detector = result["detector"]
    for half in detector["halves"]:
        chosen, shipped = half["held_out"], half["held_out_at_shipped_cutoff"]
        lines.append(
            f"detector: cut-off {chosen['cutoff']} chosen on {half['chosen_on_people']} people;"
            f" on the other {half['counted_on_people']}: masked detected"
            f" {_share(chosen['detected'], chosen['masked_faces'])}, bare flagged"
            f" {_share(chosen['false_alarms'], chosen['bare_faces'])}; shipped"
            f" {shipped['cutoff']}: {_share(shipped['detected'], shipped['masked_faces'])},"
            f" {_share(shipped['false_alarms'], shipped['bare_faces'])}"
        )
    for name, video in detector.get("videos", {}).items():
        alarms = ", ".join(f"{cut}: {count}" for cut, count in video["false_alarms"].items())
        lines.append(f"video {name}: {video['faces']} faces, flagged at cut-off {alarms}")
    return lines
