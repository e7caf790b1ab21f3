"""Synthetic surgical masks on labelled photos, and the open set measured with them.

Many employees wear surgical masks. :func:`draw_mask` paints one on a photo from the face's
five landmarks (right eye, left eye, nose, right and left mouth corner, as YuNet gives them):
from the nose bridge, just below the eyes, down past the chin and from cheek to cheek; light
blue or white, with pleats and shading, its colour and shape varied by a seed.

:func:`embed_with_masks` embeds every photo twice, bare and masked (the mask drawn on the face
that was embedded, then the masked photo searched and embedded again as the kiosk would), and
scores the mask detector (:mod:`terminal.face.mask`) on both. :func:`cross_validate_masked` is
:func:`devtools.open_set.cross_validate` with every probe masked: the same folds, strangers
and thresholds (chosen on the training people's bare photos, as a site calibrates), the
enrolled photos bare (HR photos), every genuine and stranger probe of the held-out people
masked.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from common.errors import ImageError
from devtools.calibration import EmbeddedSet, FaceFacts, LabelledPhoto, largest_face
from devtools.open_set import (
    DEFAULT_FOLDS,
    DEFAULT_SAFETY,
    Counts,
    CrossValidation,
    FoldResult,
    MatchRule,
    choose_thresholds,
    count_decisions,
    fold_people,
    held_out_scores,
    split_open_set,
    subset,
    training_scores,
)
from drivers.face.base import Box, FaceEngine
from terminal.face.enrollment import SEARCH_FACE_PX
from terminal.face.images import load_rgb
from terminal.face.mask import mask_score

MASK_COLOURS = (
    (168, 205, 228),  # the common light blue
    (150, 192, 222),
    (186, 216, 232),
    (236, 238, 236),  # white
    (222, 228, 230),
)
"""RGB of the masks drawn (before shading); the seed picks one and shifts it a little."""

# The outline in face units: x along the eye line in eye distances from the face's centre line,
# y down from the eye line in eye-to-mouth distances (0 = eyes, 1 = mouth corners). The top
# edge runs over the nose bridge under the eyes; the sides follow the cheeks; the bottom wraps
# under the chin (the chin is about 0.8 eye-to-mouth distances below the mouth).
MASK_OUTLINE = (
    (-1.05, 0.42),
    (-0.55, 0.30),
    (0.0, 0.22),
    (0.55, 0.30),
    (1.05, 0.42),
    (1.10, 1.00),
    (0.85, 1.50),
    (0.40, 1.80),
    (0.0, 1.86),
    (-0.40, 1.80),
    (-0.85, 1.50),
    (-1.10, 1.00),
)
PLEAT_ROWS = (0.62, 0.95, 1.28)
"""Where the three horizontal pleats run (same vertical unit as the outline)."""


def _face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin, across, down): the eyes' midpoint, one eye distance along the eye line, and one
    eye-to-mouth distance down the face (perpendicular to the eye line)."""
    points = landmarks.astype(np.float64)
    right_eye, left_eye = points[0], points[1]
    mouth = (points[3] + points[4]) / 2
    eyes = (right_eye + left_eye) / 2
    across = left_eye - right_eye
    if float(np.linalg.norm(across)) < 1.0:
        across = np.array([1.0, 0.0])
    unit = across / np.linalg.norm(across)
    normal = np.array([-unit[1], unit[0]])
    if float(np.dot(mouth - eyes, normal)) < 0:
        normal = -normal
    down = normal * max(float(np.dot(mouth - eyes, normal)), 1.0)
    # Centre on the nose: a head turned aside has its nose, not its eye midpoint, in the middle.
    nose_shift = float(np.dot(points[2] - eyes, unit))
    return eyes + unit * nose_shift, across, down


def draw_mask(rgb: np.ndarray, landmarks: np.ndarray, seed: int = 0) -> np.ndarray:
    """A copy of ``rgb`` with a surgical mask over the face whose five landmarks are given."""
    rng = np.random.default_rng(seed)
    origin, across, down = _face_frame(landmarks)
    scale_x = 1.0 + rng.uniform(-0.06, 0.06)
    drop = rng.uniform(-0.05, 0.05)

    def to_image(x: float, y: float) -> np.ndarray:
        point: np.ndarray = origin + across * (x * scale_x) + down * (y + drop)
        return point

    outline = np.array([to_image(x, y) for x, y in MASK_OUTLINE])
    height, width = rgb.shape[:2]
    coverage = np.zeros((height, width), dtype=np.uint8)
    cv2.fillPoly(coverage, [np.round(outline).astype(np.int32)], 255, cv2.LINE_AA)
    ys, xs = np.nonzero(coverage)
    if ys.size == 0:
        return rgb.copy()
    top, bottom = int(ys.min()), int(ys.max()) + 1
    left, right = int(xs.min()), int(xs.max()) + 1

    base = np.array(MASK_COLOURS[int(rng.integers(len(MASK_COLOURS)))], dtype=np.float64)
    base = np.clip(base + rng.uniform(-10, 10, size=3), 0, 255)
    # Shading: the cloth curves away from the light towards the cheeks and under the chin.
    grid_y, grid_x = np.mgrid[top:bottom, left:right].astype(np.float64)
    offset = np.stack([grid_x - origin[0], grid_y - origin[1]], axis=-1)
    basis = np.array([across * scale_x, down]).T
    face_xy = offset @ np.linalg.inv(basis).T
    light = 1.0 - 0.18 * np.clip(np.abs(face_xy[..., 0]), 0, 1.2) ** 2
    light -= 0.10 * np.clip(face_xy[..., 1] - 1.3, 0, 0.6)
    light += rng.normal(0, 0.015, size=light.shape)
    layer = light[..., None] * base[None, None, :]
    pleats = np.zeros((bottom - top, right - left), dtype=np.uint8)
    thickness = max(1, round(float(np.linalg.norm(down)) * 0.03))
    for row in PLEAT_ROWS:
        line = np.array([to_image(x, row + 0.02 * x * x) for x in np.linspace(-1.0, 1.0, 9)])
        shifted = np.round(line - (left, top)).astype(np.int32)
        cv2.polylines(pleats, [shifted], False, 255, thickness, cv2.LINE_AA)
    layer *= 1.0 - 0.22 * (pleats[..., None] / 255.0)
    alpha = cv2.GaussianBlur(coverage[top:bottom, left:right], (3, 3), 0)[..., None] / 255.0
    result = rgb.copy()
    region = result[top:bottom, left:right].astype(np.float64)
    result[top:bottom, left:right] = np.clip(region * (1 - alpha) + layer * alpha, 0, 255).astype(
        np.uint8
    )
    return result


def photo_seed(photo: LabelledPhoto, seed: int) -> int:
    """The mask seed of one photo: the same photo gets the same mask in every run."""
    return zlib.crc32(f"{seed}:{photo.relative}".encode())


@dataclass
class MaskedSets:
    """Every photo with a face, embedded bare and masked (row ``i`` of both = one photo)."""

    bare: EmbeddedSet
    masked: EmbeddedSet
    """Same photos and rows as ``bare``. A row whose masked face was not found again (or a
    different face was) has a zero embedding and face size 0, so the kiosk's smallest-face gate
    refuses it, as a kiosk that sees no face checks nobody in."""
    masked_no_face: list[str] = field(default_factory=list)
    """Relative paths of photos whose face was no longer found once masked."""
    bare_scores: list[float | None] = field(default_factory=list)
    """The mask detector's score of each bare face (None: no verdict)."""
    masked_scores: list[float | None] = field(default_factory=list)
    """The mask detector's score of each masked face (None: no verdict or no face)."""


def _same_face(first: Box, second: Box) -> bool:
    """Whether two (top, right, bottom, left) boxes overlap by at least half (IoU)."""
    height = min(first[2], second[2]) - max(first[0], second[0])
    width = min(first[1], second[1]) - max(first[3], second[3])
    if height <= 0 or width <= 0:
        return False
    inter = height * width
    areas = [(box[2] - box[0]) * (box[1] - box[3]) for box in (first, second)]
    return inter / max(sum(areas) - inter, 1) >= 0.5


def embed_with_masks(
    engine: FaceEngine,
    photos: Sequence[LabelledPhoto],
    seed: int = 0,
    min_face_px: int = SEARCH_FACE_PX,
    progress: Callable[[int, int], None] | None = None,
) -> MaskedSets:
    """Embed each photo's largest face as :func:`devtools.calibration.embed_labelled_set` does,
    then draw a mask on that face and embed the masked photo again the same way."""
    kept: list[LabelledPhoto] = []
    bare_rows: list[np.ndarray] = []
    masked_rows: list[np.ndarray] = []
    bare_facts: list[FaceFacts] = []
    masked_facts: list[FaceFacts] = []
    empty = np.zeros((0, engine.dim), dtype=np.float32)
    result = MaskedSets(EmbeddedSet([], empty), EmbeddedSet([], empty))
    for done, photo in enumerate(photos, start=1):
        if progress is not None and done > 1:
            progress(done - 1, len(photos))
        try:
            rgb = load_rgb(photo.path)
        except ImageError as exc:
            result.bare.unreadable.append(str(exc))
            continue
        found = largest_face(engine, rgb, min_face_px)
        box = found[1].box if found is not None else None
        landmarks = engine.landmarks(rgb, box) if box is not None else None
        if found is None or box is None or landmarks is None:
            result.bare.no_face.append(photo.relative)
            continue
        embedding, facts = found
        kept.append(photo)
        bare_rows.append(embedding)
        bare_facts.append(facts)
        result.bare_scores.append(mask_score(rgb, landmarks))
        masked_rgb = draw_mask(rgb, landmarks, photo_seed(photo, seed))
        masked = largest_face(engine, masked_rgb, min_face_px)
        masked_box = masked[1].box if masked is not None else None
        masked_marks = None
        if masked is not None and masked_box is not None and _same_face(box, masked_box):
            masked_marks = engine.landmarks(masked_rgb, masked_box)
        if masked is None or masked_marks is None:
            result.masked_no_face.append(photo.relative)
            masked_rows.append(np.zeros(engine.dim, dtype=np.float32))
            masked_facts.append(dataclasses.replace(facts, face_px=0, quality_hint=None))
            result.masked_scores.append(None)
            continue
        masked_rows.append(masked[0])
        masked_facts.append(masked[1])
        result.masked_scores.append(mask_score(masked_rgb, masked_marks))
    if progress is not None and photos:
        progress(len(photos), len(photos))
    if kept:
        result.bare = EmbeddedSet(
            kept,
            np.vstack(bare_rows).astype(np.float32),
            bare_facts,
            result.bare.no_face,
            result.bare.unreadable,
        )
        result.masked = EmbeddedSet(
            list(kept), np.vstack(masked_rows).astype(np.float32), masked_facts
        )
    return result


def _rows(embedded: EmbeddedSet, rows: Sequence[int]) -> EmbeddedSet:
    return EmbeddedSet(
        [embedded.photos[row] for row in rows],
        embedded.matrix[list(rows)],
        [embedded.facts[row] for row in rows] if embedded.facts else [],
    )


def probes_masked(bare: EmbeddedSet, masked: EmbeddedSet, enrolled: Sequence[int]) -> EmbeddedSet:
    """``bare`` with every row but ``enrolled`` taken from ``masked`` (same photos, same rows):
    the enrolled photos stay bare, every probe wears its mask."""
    matrix = masked.matrix.copy()
    facts = list(masked.facts)
    for row in enrolled:
        matrix[row] = bare.matrix[row]
        facts[row] = bare.facts[row]
    return EmbeddedSet(list(bare.photos), matrix, facts)


def refuse_flagged(masked: EmbeddedSet, flagged: Sequence[bool]) -> EmbeddedSet:
    """``masked`` with each flagged row refused before matching (face size 0, which the
    smallest-face gate refuses): the kiosk asks that person to lower the mask instead."""
    facts = [
        dataclasses.replace(fact, face_px=0) if flag else fact
        for fact, flag in zip(masked.facts, flagged, strict=True)
    ]
    return EmbeddedSet(list(masked.photos), masked.matrix, facts)


def cross_validate_masked(
    engine: FaceEngine,
    bare: EmbeddedSet,
    masked: EmbeddedSet,
    rule: MatchRule,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    safety: float = DEFAULT_SAFETY,
) -> CrossValidation:
    """:func:`devtools.open_set.cross_validate` (same folds, strangers, thresholds chosen on
    the training people's bare photos) with the held-out people's probes masked: their
    enrolled photos and every training person stay bare."""
    if bare.identities != masked.identities:
        raise ValueError("the bare and masked sets must hold the same photos, row for row")
    results = []
    for index, held_out_people in enumerate(fold_people(bare.identities, folds, seed)):
        held_out = subset(bare, held_out_people)
        held_out_rows = [row for row, who in enumerate(bare.identities) if who in held_out_people]
        training_set = subset(bare, set(bare.identities) - set(held_out_people))
        training: Counts | None = None
        if rule.fixed is not None:
            tolerance, margin = rule.fixed
        else:
            trained = training_scores(engine, training_set, rule)
            tolerance, margin, training = choose_thresholds(trained, rule.margins, safety)
        split = split_open_set(held_out, rule.enroll_per_person, seed, rule.probes_from)
        probed = probes_masked(held_out, _rows(masked, held_out_rows), split.enrolled)
        scores = held_out_scores(engine, probed, rule, seed, training_set)
        outcome = count_decisions(scores, tolerance, margin)
        results.append(
            FoldResult(index, len(held_out_people), tolerance, margin, training, outcome)
        )
    return CrossValidation(rule, results)
