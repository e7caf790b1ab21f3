"""Open-set identification on a labelled set: the kiosk's real question.

At the kiosk a face is compared with everyone enrolled, and most passers-by may not be
enrolled at all. This simulates that with the live decision rule (:class:`Matcher`):

- a quarter of the people (chosen with a fixed seed) are strangers: never enrolled, every one
  of their photos is a probe that must be refused;
- everyone else is enrolled with their first ``enroll_per_person`` photos (sorted by path) and
  probed with all their other photos, which must be accepted as that person.

A probe accepted as the wrong person is the worst outcome (a wrong check-in), then a stranger
accepted; a genuine probe refused just means the employee tries again or shows a QR badge.

:func:`cross_validate` is the figure that predicts unseen faces: the people are split into
subject-disjoint folds, thresholds are chosen on the other folds' people
(:func:`choose_thresholds`) and the outcome is counted on the held-out people only.
:func:`ablation_rules` lists the variants ``kiosk calibrate --compare`` measures against each
other in the same folds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from devtools.calibration import THRESHOLD_STEP, EmbeddedSet
from drivers.face.base import Box, FaceEngine
from terminal.face.enrollment import choose_face
from terminal.face.matcher import Matcher

STRANGER_FRACTION = 0.25
SWEEP_FACTORS = (0.75, 0.875, 1.0, 1.125, 1.25)
"""Default sweep: these multiples of the tolerance."""
MAX_MISTAKES_LISTED = 50


@dataclass(frozen=True)
class OpenSetSplit:
    """Which photos (row indices of the embedded set) are enrolled and which are probes."""

    enrolled: list[int]
    genuine_probes: list[int]
    stranger_probes: list[int]
    strangers: list[str]
    """The identities that are not enrolled."""


def split_open_set(
    embedded: EmbeddedSet, enroll_per_person: int = 1, seed: int = 0, probes_from: int = 0
) -> OpenSetSplit:
    """A deterministic split: same set, ``enroll_per_person`` and ``seed`` give the same split.

    People with no more than ``enroll_per_person`` photos are enrolled with all of them and
    give no probe (they still make the gallery harder). Genuine probes start at the photo
    ``max(enroll_per_person, probes_from)``, so rules enrolling 1 or 3 photos can be compared
    on the same probes.
    """
    if enroll_per_person < 1:
        raise ValueError("enroll at least one photo per person")
    rows_of: dict[str, list[int]] = {}
    for row in sorted(range(len(embedded.photos)), key=lambda r: embedded.photos[r].relative):
        rows_of.setdefault(embedded.photos[row].identity, []).append(row)
    people = sorted(rows_of)
    count = int(len(people) * STRANGER_FRACTION + 0.5) if len(people) > 1 else 0
    chosen = np.random.default_rng(seed).choice(len(people), size=count, replace=False)
    strangers = sorted(people[int(index)] for index in chosen)
    split = OpenSetSplit([], [], [], strangers)
    for person in people:
        rows = rows_of[person]
        if person in strangers:
            split.stranger_probes.extend(rows)
        else:
            split.enrolled.extend(rows[:enroll_per_person])
            split.genuine_probes.extend(rows[max(enroll_per_person, probes_from) :])
    return split


@dataclass(frozen=True)
class OpenSetOutcome:
    """The decisions of the matcher for every probe at one tolerance and margin."""

    tolerance: float
    margin: float
    enrolled_people: int
    templates: int
    genuine_probes: int
    genuine_correct: int
    genuine_wrong: int
    """Genuine probes accepted as somebody else: wrong check-ins."""
    stranger_probes: int
    strangers_accepted: int
    mistakes: tuple[str, ...] = ()
    """Up to 50 lines ``photo (identity) -> accepted as X at distance d``."""

    @property
    def genuine_rejected(self) -> int:
        """Genuine probes refused (too far, or ambiguous between two people)."""
        return self.genuine_probes - self.genuine_correct - self.genuine_wrong

    @property
    def correct_rate(self) -> float | None:
        """Share of genuine probes accepted as the right person (None without probes)."""
        return self.genuine_correct / self.genuine_probes if self.genuine_probes else None

    @property
    def stranger_accept_rate(self) -> float | None:
        """Share of stranger probes accepted as someone (None without strangers)."""
        return self.strangers_accepted / self.stranger_probes if self.stranger_probes else None


def evaluate_open_set(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    split: OpenSetSplit,
    tolerance: float,
    margin: float,
) -> OpenSetOutcome:
    """Identify every probe with a :class:`Matcher` over the enrolled photos."""
    identities = embedded.identities
    enrolled_ids = [identities[row] for row in split.enrolled]
    matcher = Matcher(
        engine,
        embedded.matrix[split.enrolled],
        enrolled_ids,
        {person: person for person in enrolled_ids},
        tolerance=tolerance,
        margin=margin,
    )
    correct = wrong = strangers_accepted = 0
    mistakes: list[str] = []
    probes = [(row, True) for row in split.genuine_probes]
    probes += [(row, False) for row in split.stranger_probes]
    for row, genuine in probes:
        match = matcher.identify(embedded.matrix[row])
        if match.person_id is None:
            continue
        if match.person_id == identities[row]:
            correct += 1
            continue
        if genuine:
            wrong += 1
        else:
            strangers_accepted += 1
        mistakes.append(
            f"{embedded.photos[row].relative} ({identities[row]}) -> accepted as"
            f" {match.person_id} at distance {match.distance:.4f}"
        )
    return OpenSetOutcome(
        tolerance,
        margin,
        matcher.people,
        matcher.templates,
        len(split.genuine_probes),
        correct,
        wrong,
        len(split.stranger_probes),
        strangers_accepted,
        tuple(mistakes[:MAX_MISTAKES_LISTED]),
    )


def default_sweep(tolerance: float) -> list[float]:
    """Tolerances around ``tolerance`` (see :data:`SWEEP_FACTORS`), rounded to 3 decimals."""
    return sorted({round(tolerance * factor, 3) for factor in SWEEP_FACTORS})


def sweep_tolerances(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    split: OpenSetSplit,
    tolerances: Sequence[float],
    margin: float,
) -> list[OpenSetOutcome]:
    """The open-set outcome at each tolerance (same split and margin), lowest first."""
    return [
        evaluate_open_set(engine, embedded, split, tolerance, margin)
        for tolerance in sorted(set(tolerances))
    ]


# --- Subject-disjoint cross-validation ---------------------------------------------------------
#
# The open set above reports on the same people whose distances one may have looked at to pick
# the tolerance. Cross-validation does not: the people are dealt into K folds; for each fold the
# thresholds are chosen on the other folds' people only (every training person enrolled with
# their first photo and probed with the others, and every training photo probed again as a
# stranger against everyone else), then the kiosk is simulated on the held-out people: a quarter
# of them strangers, the rest enrolled, with the training people enrolled too so the gallery is
# as large as at a real kiosk. Only held-out people are probed, so the pooled figure predicts
# faces the thresholds never saw.

DEFAULT_FOLDS = 5
DEFAULT_SAFETY = 0.04
"""Subtracted from the loosest tolerance with no false accept on the training people. Measured
with SFace over the 76 people of ``../shared/faces_east_asian`` and ``../shared/faces`` (5
folds): the rule alone let a held-out stranger in (1 of 219 probes; training people gave
0.456-0.459), and with 3 photos enrolled a wrong person; 0.03 was the smallest step of 0.01 with
none for every rule measured, 0.04 when photos are embedded at full resolution (as enrollment
does). 0.04 covers both."""
MARGIN_CHOICES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)
"""Margins tried on the training people when the rule uses a margin."""
DEFAULT_MIN_FACE_PX = 80
"""``[recognition] min_face_px`` and the enrollment rule's smallest face (pixels)."""
Reduction = Literal["nearest", "mean"]
Gate = Literal["none", "min_face", "quality"]
QualityLever = Literal["none", "size_bins", "sharp_bins", "yaw_bins", "size_floor"]
"""``size_bins`` / ``sharp_bins`` / ``yaw_bins``: one tolerance (and margin) per bin of face
height / sharpness / frontality (-|yaw|), the two bins split at the training people's median
genuine probe; ``size_floor``: probes whose face is smaller than the
training people's lower quartile are asked again (counted apart, neither right nor wrong)."""


def subset_name(relative: str) -> str:
    """The top-level subset of a photo path: every folder above ``<identity>/<photo>``, at most
    two (``faces_east_asian/lfw/<id>/<photo>`` -> ``faces_east_asian/lfw``)."""
    parts = relative.split("/")
    return "/".join(parts[: max(1, min(2, len(parts) - 2))])


def fold_people(identities: Sequence[str], folds: int, seed: int = 0) -> list[list[str]]:
    """The distinct identities dealt into ``folds`` groups (shuffled with ``seed``): every
    identity is in exactly one fold, so no person is on both sides of a split."""
    people = sorted(set(identities))
    if folds < 2 or folds > len(people):
        raise ValueError(f"{len(people)} people cannot be split into {folds} folds")
    order = np.random.default_rng(seed).permutation(len(people))
    return [sorted(people[int(index)] for index in order[fold::folds]) for fold in range(folds)]


def subset(embedded: EmbeddedSet, people: Iterable[str]) -> EmbeddedSet:
    """The photos of ``people`` only (same order, facts kept)."""
    wanted = set(people)
    rows = [row for row, photo in enumerate(embedded.photos) if photo.identity in wanted]
    facts = [embedded.facts[row] for row in rows] if embedded.facts else []
    return EmbeddedSet([embedded.photos[row] for row in rows], embedded.matrix[rows], facts)


@dataclass(frozen=True)
class MatchRule:
    """One way of deciding who a face is, for the ablation: what is enrolled, what is gated,
    how a person's templates are reduced to one score, and whether a margin is used.

    ``fixed`` = (tolerance, margin) decides without choosing anything on the training people
    (today's shipped defaults, the bare model at cosine similarity 0.45).
    """

    name: str
    description: str
    margins: tuple[float, ...] = MARGIN_CHOICES
    enroll_per_person: int = 1
    probes_from: int = 0
    """Genuine probes start at this photo of each person (at least ``enroll_per_person``)."""
    reduction: Reduction = "nearest"
    normalise: bool = False
    """Score = distance minus the mean distance to everyone enrolled (gallery normalisation)."""
    enrollment_rule: bool = True
    """Enrollment photos must pass ``kiosk enroll``'s rule (:func:`choose_face`: one face at
    least :data:`DEFAULT_MIN_FACE_PX` tall, or a clearly dominant one among several, which is
    the face embedded); False takes any photo's largest face. A person with no photo passing is not
    enrolled and their genuine probes count as refused."""
    probe_gate: Gate = "min_face"
    fixed: tuple[float, float] | None = None
    quality: QualityLever = "none"
    visits: bool = False
    """Count two-photo visits (:func:`visit_scores`) instead of single probes."""


@dataclass(frozen=True)
class ProbeScores:
    """Every probe's best and second-best person score, and what a match of it would mean."""

    best: np.ndarray
    """Score of the nearest enrolled person (inf when nobody is)."""
    runner_up: np.ndarray
    """Score of the second-nearest person (inf when there is none)."""
    right: np.ndarray
    """Whether the nearest person is the probe's own identity."""
    genuine: np.ndarray
    """Whether the probe's identity is meant to be enrolled (else it is a stranger)."""
    gated: np.ndarray
    """Refused before matching (a gate, or its person could not be enrolled)."""
    groups: tuple[str, ...] = ()
    """Per probe: :func:`subset_name` of its photo (empty when not known)."""
    face_px: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per probe: the face height in pixels (empty when not measured)."""
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per probe: the face's sharpness (empty when not measured)."""
    frontal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Per probe: minus the absolute yaw proxy, 0 without landmarks (empty when not measured)."""
    asked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Per probe: asked for a better look by a quality floor (empty: nobody)."""
    owners: tuple[str, ...] = ()
    """Per probe: its identity (empty when not known)."""
    nearest: tuple[str, ...] = ()
    """Per probe: the nearest enrolled person ("" when nobody is)."""

    def take(self, mask: np.ndarray) -> ProbeScores:
        """The probes where ``mask`` is true."""
        return ProbeScores(
            self.best[mask],
            self.runner_up[mask],
            self.right[mask],
            self.genuine[mask],
            self.gated[mask],
            tuple(group for group, keep in zip(self.groups, mask, strict=True) if keep)
            if self.groups
            else (),
            self.face_px[mask] if self.face_px.size else self.face_px,
            self.sharpness[mask] if self.sharpness.size else self.sharpness,
            self.frontal[mask] if self.frontal.size else self.frontal,
            self.asked[mask] if self.asked.size else self.asked,
            tuple(o for o, keep in zip(self.owners, mask, strict=True) if keep)
            if self.owners
            else (),
            tuple(n for n, keep in zip(self.nearest, mask, strict=True) if keep)
            if self.nearest
            else (),
        )

    def floored(self, floor: float) -> ProbeScores:
        """Probes with a face smaller than ``floor`` pixels asked again (and refused)."""
        if not self.face_px.size:
            return self
        asked = self.face_px < floor
        return dataclasses.replace(self, gated=self.gated | asked, asked=asked)


@dataclass(frozen=True)
class Counts:
    """The kiosk's outcome over a set of probes at one tolerance and margin."""

    genuine_probes: int
    genuine_correct: int
    genuine_wrong: int
    stranger_probes: int
    strangers_accepted: int
    asked_again: int = 0
    """Probes (genuine or stranger) refused by a quality floor: the kiosk asks for a better
    look; neither a check-in nor a wrong one."""

    def __add__(self, other: Counts) -> Counts:
        """Field by field sum (pooling folds)."""
        return Counts(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        """The six counts in field order."""
        return (
            self.genuine_probes,
            self.genuine_correct,
            self.genuine_wrong,
            self.stranger_probes,
            self.strangers_accepted,
            self.asked_again,
        )

    @property
    def false_accepts(self) -> int:
        """Wrong-person and stranger accepts together: the check-ins that must not happen."""
        return self.genuine_wrong + self.strangers_accepted

    @property
    def correct_rate(self) -> float | None:
        """Share of genuine probes accepted as the right person (None without probes)."""
        return self.genuine_correct / self.genuine_probes if self.genuine_probes else None


def count_decisions(scores: ProbeScores, tolerance: float, margin: float) -> Counts:
    """What :meth:`Matcher.identify`'s rule (score within ``tolerance``, ``margin`` ahead of
    the next person) decides for every probe."""
    with np.errstate(invalid="ignore"):  # inf - inf: nobody near, never accepted
        ahead = scores.runner_up - scores.best >= margin
    accepted = ~scores.gated & (scores.best <= tolerance) & ahead
    genuine = scores.genuine
    return Counts(
        int(np.count_nonzero(genuine)),
        int(np.count_nonzero(accepted & genuine & scores.right)),
        int(np.count_nonzero(accepted & genuine & ~scores.right)),
        int(np.count_nonzero(~genuine)),
        int(np.count_nonzero(accepted & ~genuine)),
        int(np.count_nonzero(scores.asked)) if scores.asked.size else 0,
    )


def _worse(values: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.minimum(values[first], values[second]) if values.size else values


def visit_scores(scores: ProbeScores) -> ProbeScores:
    """Two probes make one visit: consecutive probes of the same person (1st+2nd, 3rd+4th...,
    an odd last one dropped). A visit is accepted only when both photos are accepted as the
    same person: its score is the worse of the two, its margin the smaller, and it is never
    accepted when the two nearest people differ. Photos are not frames (consecutive video
    frames are far more alike), so this bounds what agreement over frames can do."""
    if not scores.owners or not scores.nearest:
        raise ValueError("visits need the probes' identities and nearest people")
    firsts: list[int] = []
    index = 0
    count = len(scores.best)
    while index + 1 < count:
        same = scores.owners[index] == scores.owners[index + 1]
        if same and scores.genuine[index] == scores.genuine[index + 1]:
            firsts.append(index)
            index += 2
        else:
            index += 1
    first = np.array(firsts, dtype=np.intp)
    second = first + 1
    agree = np.array(
        [scores.nearest[a] == scores.nearest[a + 1] and scores.nearest[a] != "" for a in firsts],
        dtype=bool,
    )
    best = np.where(agree, np.maximum(scores.best[first], scores.best[second]), np.inf)
    gap = np.minimum(
        scores.runner_up[first] - scores.best[first], scores.runner_up[second] - scores.best[second]
    )
    return ProbeScores(
        best,
        best + gap,
        scores.right[first] & scores.right[second],
        scores.genuine[first],
        scores.gated[first] | scores.gated[second],
        tuple(scores.groups[a] for a in firsts) if scores.groups else (),
        face_px=_worse(scores.face_px, first, second),
        sharpness=_worse(scores.sharpness, first, second),
        frontal=_worse(scores.frontal, first, second),
        owners=tuple(scores.owners[a] for a in firsts),
        nearest=tuple(scores.nearest[a] for a in firsts),
    )


def count_by_subset(scores: ProbeScores, tolerance: float, margin: float) -> dict[str, Counts]:
    """:func:`count_decisions` per :func:`subset_name` of the probes (empty without names)."""
    if not scores.groups:
        return {}
    groups = np.array(scores.groups, dtype=object)
    return {
        name: count_decisions(scores.take(groups == name), tolerance, margin)
        for name in sorted(set(scores.groups))
    }


def loosest_safe_tolerance(scores: ProbeScores, margin: float) -> float:
    """The highest tolerance (a multiple of 1e-4) at which no stranger and no wrong person is
    accepted with ``margin``; above every genuine score when nothing false could be accepted."""
    with np.errstate(invalid="ignore"):  # inf - inf: nobody near, never accepted
        ahead = scores.runner_up - scores.best >= margin
    could_be_false = (
        ahead & ~scores.gated & ~(scores.genuine & scores.right) & np.isfinite(scores.best)
    )
    if not np.any(could_be_false):
        finite = scores.best[np.isfinite(scores.best)]
        top = float(finite.max()) if finite.size else 0.0
        return round(math.ceil(top / THRESHOLD_STEP) * THRESHOLD_STEP, 6)
    first_false = float(scores.best[could_be_false].min())
    steps = math.floor(first_false / THRESHOLD_STEP)
    while round(steps * THRESHOLD_STEP, 6) >= first_false:
        steps -= 1
    return round(steps * THRESHOLD_STEP, 6)


def choose_thresholds(
    scores: ProbeScores, margins: Sequence[float], safety: float = 0.0
) -> tuple[float, float, Counts]:
    """(tolerance, margin, training counts) by the rule: for each margin the loosest tolerance
    accepting no stranger and no wrong person, minus ``safety``; the margin accepting the most
    genuine probes wins (ties: the larger margin)."""
    best: tuple[int, float, float, Counts] | None = None
    for margin in sorted(margins):
        tolerance = round(loosest_safe_tolerance(scores, margin) - safety, 6)
        counts = count_decisions(scores, tolerance, margin)
        if best is None or counts.genuine_correct >= best[0]:
            best = (counts.genuine_correct, tolerance, margin, counts)
    if best is None:
        raise ValueError("no margin to choose from")
    return best[1], best[2], best[3]


def _person_scores(
    engine: FaceEngine,
    templates: np.ndarray,
    owners: Sequence[str],
    probes: np.ndarray,
    rule: MatchRule,
) -> tuple[list[str], np.ndarray]:
    """(people, probes x people scores): the nearest (or mean) template distance per person,
    gallery-normalised when the rule says so."""
    people = sorted(set(owners))
    if not people:
        return people, np.full((len(probes), 0), np.inf, dtype=np.float64)
    column = {person: index for index, person in enumerate(people)}
    labels = np.array([column[owner] for owner in owners])
    reduce = np.minimum if rule.reduction == "nearest" else np.add
    result = np.empty((len(probes), len(people)), dtype=np.float64)
    sizes = np.bincount(labels, minlength=len(people))
    for row, probe in enumerate(probes):
        distances = engine.distances(templates, probe).astype(np.float64)
        per_person = np.full(len(people), np.inf if rule.reduction == "nearest" else 0.0)
        reduce.at(per_person, labels, distances)
        result[row] = per_person if rule.reduction == "nearest" else per_person / sizes
    return people, result


def _best_two(matrix: np.ndarray, normalise: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: index of the nearest column, its score and the runner-up's (inf if none)."""
    rows = len(matrix)
    if matrix.shape[1] == 0:
        infinite = np.full(rows, np.inf)
        return np.zeros(rows, dtype=np.intp), infinite, infinite
    if normalise:
        finite = np.where(np.isfinite(matrix), matrix, np.nan)
        matrix = matrix - np.nan_to_num(np.nanmean(finite, axis=1, keepdims=True))
    order = np.argsort(matrix, axis=1, kind="stable")
    nearest = order[:, 0]
    best = matrix[np.arange(rows), nearest]
    runner_up = (
        matrix[np.arange(rows), order[:, 1]] if matrix.shape[1] > 1 else np.full(rows, np.inf)
    )
    return nearest, best, runner_up


def _overlap(first: Box, second: Box) -> float:
    """Intersection over union of two (top, right, bottom, left) boxes."""
    height = min(first[2], second[2]) - max(first[0], second[0])
    width = min(first[1], second[1]) - max(first[3], second[3])
    if height <= 0 or width <= 0:
        return 0.0
    inter = height * width
    area = (first[2] - first[0]) * (first[1] - first[3]) + (second[2] - second[0]) * (
        second[1] - second[3]
    )
    return inter / max(area - inter, 1)


def enrollable(embedded: EmbeddedSet, row: int, rule: MatchRule) -> bool:
    """Whether ``kiosk enroll`` would take this photo: :func:`choose_face` (one face of at
    least :data:`DEFAULT_MIN_FACE_PX`, or a clearly dominant one among several), and the face
    it chooses is the one embedded (else the row's embedding is not the template it makes)."""
    if not rule.enrollment_rule or not embedded.facts:
        return True
    facts = embedded.facts[row]
    if facts.box is None or not facts.boxes:
        return facts.faces_found == 1 and facts.face_px >= DEFAULT_MIN_FACE_PX
    height, width = facts.frame
    choice = choose_face(list(facts.boxes), height, width, DEFAULT_MIN_FACE_PX)
    return choice.box is not None and _overlap(choice.box, facts.box) >= 0.5


def _probe_gated(embedded: EmbeddedSet, rows: Sequence[int], rule: MatchRule) -> np.ndarray:
    if rule.probe_gate == "none" or not embedded.facts:
        return np.zeros(len(rows), dtype=bool)
    facts = [embedded.facts[row] for row in rows]
    small = np.array([fact.face_px < DEFAULT_MIN_FACE_PX for fact in facts], dtype=bool)
    if rule.probe_gate == "min_face":
        return small
    return small | np.array([fact.quality_hint is not None for fact in facts], dtype=bool)


def _rows_by_person(embedded: EmbeddedSet) -> dict[str, list[int]]:
    rows_of: dict[str, list[int]] = {}
    for row in sorted(range(len(embedded.photos)), key=lambda r: embedded.photos[r].relative):
        rows_of.setdefault(embedded.photos[row].identity, []).append(row)
    return rows_of


def _scores(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    enrolled_rows: Sequence[int],
    genuine_rows: Sequence[int],
    stranger_rows: Sequence[int],
    rule: MatchRule,
    leave_own_out: bool,
) -> ProbeScores:
    """Scores of genuine and stranger probes against the enrolled rows. With ``leave_own_out``
    a stranger probe is scored against everyone but its own identity (every training person is
    then a stranger to the others as well as enrolled)."""
    identities = embedded.identities
    kept = [row for row in enrolled_rows if enrollable(embedded, row, rule)]
    owners = [identities[row] for row in kept]
    probe_rows = [*genuine_rows, *stranger_rows]
    people, matrix = _person_scores(
        engine, embedded.matrix[kept], owners, embedded.matrix[probe_rows], rule
    )
    column = {person: index for index, person in enumerate(people)}
    probe_ids = [identities[row] for row in probe_rows]
    if leave_own_out:
        for index in range(len(genuine_rows), len(probe_rows)):
            own = column.get(probe_ids[index])
            if own is not None:
                matrix[index, own] = np.inf
    nearest, best, runner_up = _best_two(matrix, rule.normalise)
    pairs = zip(nearest, probe_ids, strict=True)
    right = np.array([bool(people) and people[int(col)] == pid for col, pid in pairs], dtype=bool)
    genuine = np.zeros(len(probe_rows), dtype=bool)
    genuine[: len(genuine_rows)] = True
    unenrolled = np.array(
        [index < len(genuine_rows) and pid not in column for index, pid in enumerate(probe_ids)],
        dtype=bool,
    )
    right &= genuine  # a stranger scored against everyone else is never "right"
    gated = _probe_gated(embedded, probe_rows, rule) | unenrolled
    groups = tuple(subset_name(embedded.photos[row].relative) for row in probe_rows)
    facts = [embedded.facts[row] for row in probe_rows] if embedded.facts else []
    face_px = np.array([fact.face_px for fact in facts], dtype=np.float64)
    sharp = np.array([fact.sharpness for fact in facts], dtype=np.float64)
    frontal = np.array([-abs(fact.yaw or 0.0) for fact in facts], dtype=np.float64)
    names = tuple(people[int(col)] if people else "" for col in nearest)
    return ProbeScores(
        best,
        runner_up,
        right,
        genuine,
        gated,
        groups,
        face_px,
        sharp,
        frontal,
        owners=tuple(probe_ids),
        nearest=names,
    )


def training_scores(engine: FaceEngine, embedded: EmbeddedSet, rule: MatchRule) -> ProbeScores:
    """Every training person enrolled with their first photos and probed with the others, and
    every photo probed again as a stranger against everyone else."""
    rows_of = _rows_by_person(embedded)
    enrolled = [row for rows in rows_of.values() for row in rows[: rule.enroll_per_person]]
    first_probe = max(rule.enroll_per_person, rule.probes_from)
    genuine = [row for rows in rows_of.values() for row in rows[first_probe:]]
    strangers = [row for rows in rows_of.values() for row in rows]
    return _scores(engine, embedded, enrolled, genuine, strangers, rule, leave_own_out=True)


def held_out_scores(
    engine: FaceEngine,
    held_out: EmbeddedSet,
    rule: MatchRule,
    seed: int,
    colleagues: EmbeddedSet | None = None,
) -> ProbeScores:
    """The kiosk on the held-out people: :func:`split_open_set` (a quarter strangers).

    ``colleagues`` (the training people) are enrolled too, with their first photos, so the
    gallery is as large as the whole set's, as at a real kiosk; only held-out people are probed.
    """
    split = split_open_set(held_out, rule.enroll_per_person, seed, rule.probes_from)
    if colleagues is None or not colleagues.photos:
        return _scores(
            engine,
            held_out,
            split.enrolled,
            split.genuine_probes,
            split.stranger_probes,
            rule,
            leave_own_out=False,
        )
    offset = len(held_out.photos)
    both = EmbeddedSet(
        [*held_out.photos, *colleagues.photos],
        np.vstack([held_out.matrix, colleagues.matrix]),
        [*held_out.facts, *colleagues.facts] if held_out.facts and colleagues.facts else [],
    )
    enrolled = [*split.enrolled]
    for rows in _rows_by_person(colleagues).values():
        enrolled.extend(offset + row for row in rows[: rule.enroll_per_person])
    return _scores(
        engine,
        both,
        enrolled,
        split.genuine_probes,
        split.stranger_probes,
        rule,
        leave_own_out=False,
    )


@dataclass(frozen=True)
class FoldResult:
    """One fold: the thresholds chosen on the other folds' people, and the held-out outcome."""

    fold: int
    held_out_people: int
    tolerance: float
    margin: float
    training: Counts | None
    """Outcome on the training people at the chosen thresholds (None for fixed thresholds)."""
    held_out: Counts
    by_subset: dict[str, Counts] = field(default_factory=dict)
    """The held-out counts per :func:`subset_name`."""
    quality: tuple[tuple[float, float, float], ...] = ()
    """Quality levers: (face-size bin's upper bound or floor in px, tolerance, margin)."""


@dataclass(frozen=True)
class CrossValidation:
    """A rule cross-validated: one result per fold and the held-out counts pooled."""

    rule: MatchRule
    folds: list[FoldResult]

    @property
    def pooled(self) -> Counts:
        """The held-out counts of every fold added up: each person counted once."""
        total = Counts(0, 0, 0, 0, 0)
        for fold in self.folds:
            total = total + fold.held_out
        return total

    @property
    def pooled_by_subset(self) -> dict[str, Counts]:
        """The held-out counts per subset, every fold added up."""
        total: dict[str, Counts] = {}
        for fold in self.folds:
            for name, counts in fold.by_subset.items():
                total[name] = total[name] + counts if name in total else counts
        return dict(sorted(total.items()))


def _add(first: dict[str, Counts], second: dict[str, Counts]) -> dict[str, Counts]:
    return {
        name: first[name] + second[name]
        if name in first and name in second
        else first.get(name) or second[name]
        for name in sorted({*first, *second})
    }


def _quality_decisions(
    rule: MatchRule,
    trained: ProbeScores,
    held: ProbeScores,
    margins: Sequence[float],
    safety: float,
) -> tuple[float, float, Counts, Counts, dict[str, Counts], tuple[tuple[float, float, float], ...]]:
    """A quality lever's thresholds chosen on ``trained`` and applied to ``held``: (tolerance,
    margin of the first bin, training counts, held-out counts, held-out per subset, levers)."""
    if not trained.face_px.size or not held.face_px.size:
        raise ValueError(f"{rule.name} needs the face sizes (embed with facts)")
    if rule.quality == "size_floor":
        floor = float(np.percentile(trained.face_px[trained.genuine], 25))
        trained, held = trained.floored(floor), held.floored(floor)
        tolerance, margin, training = choose_thresholds(trained, margins, safety)
        outcome = count_decisions(held, tolerance, margin)
        per_subset = count_by_subset(held, tolerance, margin)
        return tolerance, margin, training, outcome, per_subset, ((floor, tolerance, margin),)
    measure = {"size_bins": "face_px", "sharp_bins": "sharpness", "yaw_bins": "frontal"}
    train_values = getattr(trained, measure[rule.quality])
    held_values = getattr(held, measure[rule.quality])
    split = float(np.median(train_values[trained.genuine]))
    levers = []
    training = outcome = Counts(0, 0, 0, 0, 0)
    by_subset: dict[str, Counts] = {}
    for upper, in_bin in ((split, np.less), (math.inf, np.greater_equal)):
        train_mask = in_bin(train_values, split)
        held_mask = in_bin(held_values, split)
        tolerance, margin, counts = choose_thresholds(trained.take(train_mask), margins, safety)
        training = training + counts
        outcome = outcome + count_decisions(held.take(held_mask), tolerance, margin)
        by_subset = _add(by_subset, count_by_subset(held.take(held_mask), tolerance, margin))
        levers.append((upper, tolerance, margin))
    return levers[0][1], levers[0][2], training, outcome, by_subset, tuple(levers)


def cross_validate(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    rule: MatchRule,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    safety: float = DEFAULT_SAFETY,
) -> CrossValidation:
    """Choose the thresholds on K-1 folds of people, report on the K-th, for every fold."""
    results = []
    for index, held_out_people in enumerate(fold_people(embedded.identities, folds, seed)):
        held_out = subset(embedded, held_out_people)
        training_set = subset(embedded, set(embedded.identities) - set(held_out_people))
        training: Counts | None = None
        scores = held_out_scores(engine, held_out, rule, seed, training_set)
        if rule.visits:
            scores = visit_scores(scores)
        if rule.quality != "none":
            trained = training_scores(engine, training_set, rule)
            tolerance, margin, training, outcome, by_subset, levers = _quality_decisions(
                rule, trained, scores, rule.margins, safety
            )
            results.append(
                FoldResult(
                    index,
                    len(held_out_people),
                    tolerance,
                    margin,
                    training,
                    outcome,
                    by_subset,
                    levers,
                )
            )
            continue
        if rule.fixed is not None:
            tolerance, margin = rule.fixed
        else:
            trained = training_scores(engine, training_set, rule)
            if rule.visits:
                trained = visit_scores(trained)
            tolerance, margin, training = choose_thresholds(trained, rule.margins, safety)
        outcome = count_decisions(scores, tolerance, margin)
        by_subset = count_by_subset(scores, tolerance, margin)
        results.append(
            FoldResult(index, len(held_out_people), tolerance, margin, training, outcome, by_subset)
        )
    return CrossValidation(rule, results)


def ablation_rules(
    tolerance: float, margin: float, bare_tolerance: float, enroll_per_person: int = 1
) -> list[MatchRule]:
    """Today's matcher at the tolerance in use, the bare model (one threshold, nothing else),
    and today's matcher with thresholds chosen on the training folds (``live``), then with one
    part changed at a time; ``bare_cv`` is the bare model with its threshold chosen likewise."""
    live = MatchRule(
        "live",
        "today's matcher, tolerance + margin chosen per fold",
        enroll_per_person=enroll_per_person,
    )
    return [
        MatchRule(
            "in_use", f"today's matcher at the tolerance in use {tolerance} / {margin}",
            enroll_per_person=enroll_per_person, fixed=(tolerance, margin),
        ),
        MatchRule(
            "bare", f"bare model at distance {bare_tolerance}: no margin, gates or refusals",
            enroll_per_person=enroll_per_person, enrollment_rule=False, probe_gate="none",
            fixed=(bare_tolerance, 0.0),
        ),
        live,
        dataclasses.replace(live, name="no_margin", description="margin 0", margins=(0.0,)),
        dataclasses.replace(
            live, name="no_enroll_rule", description="enrollment takes any photo's largest face",
            enrollment_rule=False,
        ),
        dataclasses.replace(
            live, name="no_min_face", description="probes of any face size", probe_gate="none"
        ),
        dataclasses.replace(
            live, name="quality_gate", description="probes also pass the live quality gates",
            probe_gate="quality",
        ),
        dataclasses.replace(
            live, name="bare_cv", description="no margin, gates or refusals; tolerance per fold",
            margins=(0.0,), enrollment_rule=False, probe_gate="none",
        ),
        dataclasses.replace(
            live, name="enroll1_p4", description="1 photo enrolled, probes from the 4th photo",
            enroll_per_person=1, probes_from=3,
        ),
        dataclasses.replace(
            live, name="enroll3", description="3 photos enrolled, nearest template",
            enroll_per_person=3,
        ),
        dataclasses.replace(
            live, name="enroll3_mean", description="3 photos enrolled, mean distance",
            enroll_per_person=3, reduction="mean",
        ),
        dataclasses.replace(
            live, name="in_use_largest_face",
            description="tolerance in use, enrollment takes the largest face",
            enrollment_rule=False, fixed=(tolerance, margin),
        ),
        dataclasses.replace(
            live, name="in_use_enroll3",
            description="tolerance in use, 3 photos enrolled (largest face), same probes",
            enroll_per_person=3, enrollment_rule=False, fixed=(tolerance, margin),
        ),
        dataclasses.replace(
            live, name="gallery_norm", description="distance minus mean distance to the gallery",
            normalise=True,
        ),
        dataclasses.replace(
            live, name="size_bins",
            description="tolerance + margin per face-size bin (split at the training median)",
            quality="size_bins",
        ),
        dataclasses.replace(
            live, name="sharp_bins",
            description="tolerance + margin per sharpness bin (split at the training median)",
            quality="sharp_bins",
        ),
        dataclasses.replace(
            live, name="yaw_bins",
            description="tolerance + margin per |yaw| bin (split at the training median)",
            quality="yaw_bins",
        ),
        dataclasses.replace(
            live, name="size_floor",
            description="faces under the training lower quartile asked again (not counted wrong)",
            quality="size_floor",
        ),
        dataclasses.replace(
            live, name="enroll3_size_bins",
            description="3 photos enrolled, nearest template, tolerance per face-size bin",
            enroll_per_person=3, quality="size_bins",
        ),
        dataclasses.replace(
            live, name="two_photo_visit",
            description="a visit = 2 photos of one person, both accepted as the same person;"
            " photos are not frames (frames are far more alike): a bound, not a kiosk figure",
            visits=True,
        ),
    ]  # fmt: skip
