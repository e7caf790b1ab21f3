"""Measuring a face engine on a labelled photo set (``kiosk calibrate``).

A labelled set is a folder with ``labels.csv`` (``path,identity``, paths relative to the
folder) or, without it, ``<identity>/<photo>`` subfolders. Every photo is embedded once (the
largest face; nothing is cached on disk), then every pair of photos is compared: same identity
= genuine pair, different identity = impostor pair. A threshold ``t`` accepts a pair when its
distance is ``<= t``, exactly like :class:`~terminal.face.matcher.Matcher`'s tolerance, so

- FAR(t) = impostor pairs accepted / impostor pairs (false accepts),
- TAR(t) = genuine pairs accepted / genuine pairs (true accepts).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.errors import ImageError, KioskError
from drivers.face.base import Box, FaceEngine
from terminal.face.enrollment import ENROLL_MIN_FACE_PX, SEARCH_FACE_PX
from terminal.face.images import load_rgb
from terminal.face.quality import assess

LABELS_FILE = "labels.csv"
DEFAULT_FARS = (1e-3, 0.0)
"""Target false-accept rates reported by default: 0.1 % and none at all (the strictest)."""
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
THRESHOLD_STEP = 1e-4
"""Thresholds are rounded down to this, so the printed value is safe to put in the config."""


@dataclass(frozen=True)
class LabelledPhoto:
    """One photo of the set: its file, its path as written in the set, and who it shows."""

    path: Path
    relative: str
    identity: str


def read_labelled_set(folder: Path, include: Sequence[str] = ()) -> list[LabelledPhoto]:
    """The photos of ``folder`` (sorted by relative path) whose path starts with an ``include``
    prefix (all without prefixes). Missing files are kept: embedding reports them."""
    if not folder.is_dir():
        raise KioskError(f"{folder}: no such folder")
    labels = folder / LABELS_FILE
    photos = _read_labels(labels) if labels.exists() else _read_subfolders(folder)
    chosen = [
        LabelledPhoto(folder / relative, relative, identity)
        for relative, identity in photos
        if not include or relative.startswith(tuple(include))
    ]
    if not chosen:
        where = f" under {', '.join(include)}" if include else ""
        raise KioskError(f"{folder}: no labelled photos{where} (need {LABELS_FILE} or subfolders)")
    return sorted(chosen, key=lambda photo: photo.relative)


def read_labelled_sets(folders: Sequence[Path], include: Sequence[str] = ()) -> list[LabelledPhoto]:
    """One folder: :func:`read_labelled_set`. Several: their photos together, each path written
    ``<folder name>/<path>`` (which ``include`` prefixes match) and each identity
    ``<folder name>:<identity>``, so people of different sets are never merged."""
    if len(folders) == 1:
        return read_labelled_set(folders[0], include)
    chosen = []
    for folder in folders:
        for photo in read_labelled_set(folder):
            relative = f"{folder.name}/{photo.relative}"
            if not include or relative.startswith(tuple(include)):
                chosen.append(
                    LabelledPhoto(photo.path, relative, f"{folder.name}:{photo.identity}")
                )
    if not chosen:
        names = ", ".join(str(folder) for folder in folders)
        raise KioskError(f"{names}: no labelled photos under {', '.join(include)}")
    return sorted(chosen, key=lambda photo: photo.relative)


def _read_labels(labels: Path) -> list[tuple[str, str]]:
    try:
        with labels.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise KioskError(f"{labels}: cannot read labels: {exc}") from None
    if rows and not {"path", "identity"} <= rows[0].keys():
        raise KioskError(f"{labels}: the header must be 'path,identity'")
    pairs = [((row["path"] or "").strip(), (row["identity"] or "").strip()) for row in rows]
    for line, (relative, identity) in enumerate(pairs, start=2):
        if not relative or not identity:
            raise KioskError(f"{labels}: line {line}: a path and an identity are needed")
    return pairs


def _read_subfolders(folder: Path) -> list[tuple[str, str]]:
    return [
        (f"{person.name}/{photo.name}", person.name)
        for person in folder.iterdir()
        if person.is_dir() and not person.name.startswith(".")
        for photo in person.iterdir()
        if photo.is_file() and not photo.name.startswith(".")
    ]


@dataclass(frozen=True)
class FaceFacts:
    """What the kiosk's gates would see of the embedded (largest) face of one photo."""

    face_px: int
    """Height of the face box in pixels (``min_face_px`` and the enrollment rule look at it)."""
    faces_found: int
    """Faces detected in the photo (enrollment takes one of several only when dominant)."""
    quality_hint: str | None
    """The live quality gate's verdict (:func:`terminal.face.quality.assess`): None = fit."""
    box: Box | None = None
    """The embedded face's box (photo pixels)."""
    boxes: tuple[Box, ...] = ()
    """Every face found, as enrollment looks for them (down to ``min_face_px``, full size)."""
    frame: tuple[int, int] = (0, 0)
    """The photo's (height, width): enrollment's rule looks at where the faces are."""
    sharpness: float = 0.0
    """Variance of the Laplacian over the face (:func:`terminal.face.quality.sharpness`)."""
    yaw: float | None = None
    """Yaw proxy from the landmarks (:func:`terminal.face.quality.pose`; None without them)."""


@dataclass
class EmbeddedSet:
    """The photos that gave a face, their embeddings (row ``i`` = ``photos[i]``) and the rest."""

    photos: list[LabelledPhoto]
    matrix: np.ndarray
    facts: list[FaceFacts] = field(default_factory=list)
    """Per row (when measured): the face's size, the number of faces, the quality verdict."""
    no_face: list[str] = field(default_factory=list)
    """Relative paths of photos in which no face was found."""
    unreadable: list[str] = field(default_factory=list)
    """One line per photo that could not be read: ``path: reason``."""

    @property
    def identities(self) -> list[str]:
        """The identity of each embedded photo (row order)."""
        return [photo.identity for photo in self.photos]

    @property
    def people(self) -> int:
        """Number of distinct identities among the embedded photos."""
        return len(set(self.identities))


def largest_face(
    engine: FaceEngine, rgb: np.ndarray, min_face_px: int
) -> tuple[np.ndarray, FaceFacts] | None:
    """The embedding of the largest face and what the gates see of it, or None without a face.

    The face is looked for as ``kiosk identify`` looks (down to :data:`ENROLL_MIN_FACE_PX`,
    which lets the engine shrink the photo), and only without one again down to
    ``min_face_px``; the photo's faces are counted down to ``min_face_px`` at full resolution,
    as enrollment counts them.
    """
    counted = engine.detect(rgb, min_face_px, 1.0)
    # The engine keeps its last detection's landmarks for encode(): detect as identify does last.
    boxes = engine.detect(rgb, max(min_face_px, ENROLL_MIN_FACE_PX), 1.0)
    if not boxes and counted:
        boxes = engine.detect(rgb, min_face_px, 1.0)
    if not boxes:
        return None
    box = boxes[0]
    quality = assess(rgb, box, engine.landmarks(rgb, box))
    (embedding,) = engine.encode(rgb, [box])
    height, width = rgb.shape[:2]
    return embedding, FaceFacts(
        box[2] - box[0],
        max(len(counted), 1),
        quality.hint,
        box,
        tuple(counted),
        (int(height), int(width)),
        quality.sharpness,
        quality.yaw,
    )


def embed_labelled_set(
    engine: FaceEngine,
    photos: Sequence[LabelledPhoto],
    min_face_px: int = SEARCH_FACE_PX,
    progress: Callable[[int, int], None] | None = None,
) -> EmbeddedSet:
    """Embed every photo (its largest face, with its :class:`FaceFacts`); unreadable photos and
    photos without a face are listed, not fatal."""
    embedded: list[LabelledPhoto] = []
    rows: list[np.ndarray] = []
    facts: list[FaceFacts] = []
    result = EmbeddedSet([], np.zeros((0, engine.dim), dtype=np.float32))
    for done, photo in enumerate(photos, start=1):
        try:
            rgb = load_rgb(photo.path)
        except ImageError as exc:
            result.unreadable.append(str(exc))
            continue
        found = largest_face(engine, rgb, min_face_px)
        if found is None:
            result.no_face.append(photo.relative)
        else:
            embedded.append(photo)
            rows.append(found[0])
            facts.append(found[1])
        if progress is not None:
            progress(done, len(photos))
    result.photos = embedded
    result.facts = facts
    if rows:
        result.matrix = np.vstack(rows).astype(np.float32, copy=False)
    return result


@dataclass(frozen=True)
class PairDistances:
    """The distance of every genuine and every impostor pair of an embedded set."""

    genuine: np.ndarray
    impostor: np.ndarray


def pair_distances(engine: FaceEngine, embedded: EmbeddedSet) -> PairDistances:
    """All pairs ``i < j`` (upper triangle), split by whether the identities agree.

    One vectorised ``engine.distances`` call per row, so any engine's own metric is used.
    """
    count = len(embedded.photos)
    if count < 2:
        empty = np.zeros(0, dtype=np.float32)
        return PairDistances(empty, empty)
    matrix = embedded.matrix
    upper = np.concatenate(
        [engine.distances(matrix[row + 1 :], matrix[row]) for row in range(count - 1)]
    ).astype(np.float32, copy=False)
    labels = np.unique(np.asarray(embedded.identities, dtype=object), return_inverse=True)[1]
    first, second = np.triu_indices(count, k=1)
    same = labels[first] == labels[second]
    return PairDistances(upper[same], upper[~same])


def describe(distances: np.ndarray) -> dict[str, float]:
    """Count, min, percentiles (``p1``...``p99``) and max of distances; just the count if empty."""
    summary: dict[str, float] = {"count": int(distances.size)}
    if distances.size:
        values = np.percentile(distances.astype(np.float64), PERCENTILES)
        named = [
            ("min", distances.min()),
            *zip((f"p{p}" for p in PERCENTILES), values, strict=True),
            ("max", distances.max()),
        ]
        # + 0.0 turns the -0.0 of a rounded, tiny negative cosine distance into 0.0
        summary.update({name: round(float(value), 4) + 0.0 for name, value in named})
    return summary


@dataclass(frozen=True)
class OperatingPoint:
    """What a threshold does on the set. ``far``/``tar`` are None when there are no such pairs."""

    threshold: float
    false_accepts: int
    far: float | None
    true_accepts: int
    tar: float | None
    far_target: float | None = None


def operating_point(
    pairs: PairDistances, threshold: float, far_target: float | None = None
) -> OperatingPoint:
    """FAR and TAR when pairs at distance ``<= threshold`` are accepted."""
    false_accepts = int(np.count_nonzero(pairs.impostor <= threshold))
    true_accepts = int(np.count_nonzero(pairs.genuine <= threshold))
    return OperatingPoint(
        threshold,
        false_accepts,
        false_accepts / pairs.impostor.size if pairs.impostor.size else None,
        true_accepts,
        true_accepts / pairs.genuine.size if pairs.genuine.size else None,
        far_target,
    )


def threshold_at_far(pairs: PairDistances, far_target: float) -> OperatingPoint | None:
    """The highest threshold (a multiple of 1e-4) whose FAR is at most ``far_target``.

    ``far_target`` 0 gives a threshold just below the nearest impostor pair. None without
    impostor pairs.
    """
    impostor = np.sort(pairs.impostor.astype(np.float64))
    if not impostor.size:
        return None
    allowed = math.floor(far_target * impostor.size + 1e-9)
    if allowed >= impostor.size:
        threshold = math.ceil(impostor[-1] / THRESHOLD_STEP) * THRESHOLD_STEP
    else:  # strictly below the first impostor pair that must be refused
        first_refused = float(impostor[allowed])
        steps = math.floor(first_refused / THRESHOLD_STEP)
        while round(steps * THRESHOLD_STEP, 6) >= first_refused:
            steps -= 1
        threshold = steps * THRESHOLD_STEP
    return operating_point(pairs, round(threshold, 6), far_target)
