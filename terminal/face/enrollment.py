"""Enrolling people from photos, and identifying the faces in photos (``kiosk identify``).

Enrollment is strict because a bad template causes wrong check-ins for months. Each photo is
judged on its own and every photo's outcome is reported; the person is stored with the photos
that pass (nothing is stored when none does). A photo passes when it shows one face at least
:data:`ENROLL_MIN_FACE_PX` tall, or one clearly dominant face among several: the rule is
:func:`choose_face`. When the person has other photos to compare with (stored templates, or
single-face photos of the same enrollment), a face chosen among several must also look more
like them than the photo's other faces do, so a bystander is not enrolled in their place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from common.errors import EnrollmentError, ImageError
from drivers.face.base import Box, FaceEngine
from models.consent import Consent
from terminal.face.images import load_rgb
from terminal.face.matcher import Matcher
from terminal.face.quality import EDGE_MARGIN
from terminal.store.gallery import Gallery, Person, check_name, check_person_id
from terminal.store.template_seal import TemplateSeal

ENROLL_MIN_FACE_PX = 80
"""Smallest face (box height, photo pixels) accepted for a template."""
SEARCH_FACE_PX = 40
"""Faces down to this height are looked for, so a second, smaller face is noticed."""
DOMINANT_AREA_RATIO = 2.25
"""Among several faces, the largest is used only if its box has at least this many times the
area of the next largest (1.5 times the side). Measured with both engines: a bystander behind
the subject gives 2.4-34 (webcam photos of ``faces_east_asian/nuaa_webcam``, news photos of
``faces_east_asian/lfw``, ``people/jennifer_aniston/04``); two people side by side give 1.0-1.5
(the ``scenes`` of ``../shared/faces``), an LFW photo whose largest face is not the labelled
person 1.1-1.3, and news photos of two people at different depths up to 2.1. Below 2.25 the
rule would be guessing between two people: a refused photo costs a retake, a wrong template
months of wrong check-ins."""
CENTRE_BAND = 0.3
"""The chosen face's centre must lie within this fraction of the photo's width from the middle
(the middle 60 %): the subject of a portrait is near the middle, a large face at the side is
more likely someone leaning into the picture."""


@dataclass(frozen=True)
class FaceChoice:
    """The face of a photo to enroll (``box``), or why none (``reason``); ``others`` are the
    photo's other faces, largest first."""

    box: Box | None
    reason: str | None
    others: list[Box] = field(default_factory=list)


@dataclass(frozen=True)
class EnrolledPhoto:
    """One photo used for a template: where its face was, how tall it is, and the heights of
    the other (smaller) faces it had, largest first."""

    path: Path
    box: Box
    face_px: int
    other_faces_px: tuple[int, ...] = ()

    def describe(self) -> str:
        """Which face was used, e.g. ``used the largest face (212 px, box [...]) of 2; the other
        is 48 px``, or ``face 212 px tall`` when it was the only one."""
        if not self.other_faces_px:
            return f"face {self.face_px} px tall"
        others = [f"{px} px" for px in self.other_faces_px]
        rest = (
            f"the other is {others[0]}"
            if len(others) == 1
            else f"the others are {', '.join(others[:-1])} and {others[-1]}"
        )
        return (
            f"used the largest face ({self.face_px} px, box {list(self.box)})"
            f" of {len(others) + 1}; {rest}"
        )


@dataclass(frozen=True)
class RefusedPhoto:
    """A photo that gave no template, and why (one line, without the path)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class EnrollResult:
    """The person as now stored, and every photo's outcome in the order given."""

    person: Person
    outcomes: list[EnrolledPhoto | RefusedPhoto]

    @property
    def photos(self) -> list[EnrolledPhoto]:
        """The photos that were added as templates."""
        return [item for item in self.outcomes if isinstance(item, EnrolledPhoto)]

    @property
    def refused(self) -> list[RefusedPhoto]:
        """The photos that were not used."""
        return [item for item in self.outcomes if isinstance(item, RefusedPhoto)]


@dataclass(frozen=True)
class _Candidate:
    """A photo whose chosen face was embedded, with its other faces' embeddings."""

    photo: EnrolledPhoto
    embedding: np.ndarray
    other_embeddings: list[np.ndarray]


def _height(box: Box) -> int:
    return box[2] - box[0]


def _area(box: Box) -> int:
    top, right, bottom, left = box
    return (bottom - top) * (right - left)


def _cut_off(box: Box, height: int, width: int) -> bool:
    """The box touches the photo's border (the same margin as the kiosk's quality gate)."""
    top, right, bottom, left = box
    margin_y, margin_x = EDGE_MARGIN * height, EDGE_MARGIN * width
    return (
        top <= margin_y or left <= margin_x or bottom >= height - margin_y
        or right >= width - margin_x
    )  # fmt: skip


def _sizes(boxes: list[Box]) -> str:
    heights = [str(_height(box)) for box in boxes]
    return f"{', '.join(heights[:-1])} and {heights[-1]} px tall"


def choose_face(boxes: list[Box], height: int, width: int, min_face_px: int) -> FaceChoice:
    """The face to enroll from a photo of ``height`` x ``width`` with faces ``boxes``.

    One face is used if it is at least ``min_face_px`` tall. Of several faces the largest is
    used only when it is clearly the photo's subject: at least :data:`DOMINANT_AREA_RATIO`
    times the area of the next, not cut off by the photo's edge, its centre within
    :data:`CENTRE_BAND` of the middle, and itself at least ``min_face_px`` tall. Anything else
    is a real ambiguity and refused, naming the count and the sizes. (Detection confidence is
    the engine's: it returns only faces above its own score threshold.)
    """
    if not boxes:
        return FaceChoice(None, "no face found")
    ranked = sorted(boxes, key=_area, reverse=True)
    largest, others = ranked[0], ranked[1:]
    face_px = _height(largest)
    if not others:
        if face_px < min_face_px:
            return FaceChoice(None, f"face is {face_px} px tall, at least {min_face_px} px needed")
        return FaceChoice(largest, None)
    count = len(ranked)
    advice = "use a photo with only this person"
    ratio = _area(largest) / max(_area(others[0]), 1)
    if ratio < DOMINANT_AREA_RATIO:
        return FaceChoice(
            None,
            f"{count} faces of similar size found ({_sizes(ranked)}; the largest has"
            f" {ratio:.1f}x the area of the next, {DOMINANT_AREA_RATIO:g}x needed); {advice}",
            others,
        )
    if _cut_off(largest, height, width):
        reason = f"{count} faces found and the largest ({face_px} px) is cut off by the edge"
        return FaceChoice(None, f"{reason}; {advice}", others)
    centre_x = (largest[1] + largest[3]) / 2 / width
    if abs(centre_x - 0.5) > CENTRE_BAND:
        reason = f"{count} faces found and the largest ({face_px} px) is not near the middle"
        return FaceChoice(None, f"{reason}; {advice}", others)
    if face_px < min_face_px:
        return FaceChoice(
            None,
            f"{count} faces found and the largest is {face_px} px tall,"
            f" at least {min_face_px} px needed",
            others,
        )
    return FaceChoice(largest, None, others)


def find_faces(engine: FaceEngine, rgb: np.ndarray, min_face_px: int = SEARCH_FACE_PX) -> list[Box]:
    """Faces in a photo, largest first (photos are searched at full resolution)."""
    return engine.detect(rgb, min_face_px=min_face_px, scale=1.0)


def _examine_photo(
    engine: FaceEngine, photo: Path, min_face_px: int = ENROLL_MIN_FACE_PX
) -> _Candidate | RefusedPhoto:
    """The face of ``photo`` to enroll, embedded (with the photo's other faces), or why not."""
    try:
        rgb = load_rgb(photo)
    except ImageError as exc:
        return RefusedPhoto(photo, str(exc).removeprefix(f"{photo}: "))
    height, width = rgb.shape[:2]
    choice = choose_face(
        find_faces(engine, rgb, min(SEARCH_FACE_PX, min_face_px)), height, width, min_face_px
    )
    if choice.box is None:
        return RefusedPhoto(photo, choice.reason or "no face found")
    embedding, *other_embeddings = engine.encode(rgb, [choice.box, *choice.others])
    used = EnrolledPhoto(
        photo, choice.box, _height(choice.box), tuple(_height(box) for box in choice.others)
    )
    return _Candidate(used, embedding, other_embeddings)


def _unlike_the_others(
    engine: FaceEngine, candidate: _Candidate, references: np.ndarray
) -> RefusedPhoto | None:
    """Refuse a face chosen among several when another face of its photo is nearer the
    person's other templates (``references``): the largest face is then not this person."""
    if not candidate.other_embeddings or len(references) == 0:
        return None
    chosen = float(engine.distances(references, candidate.embedding).min())
    for other_px, other in zip(
        candidate.photo.other_faces_px, candidate.other_embeddings, strict=True
    ):
        if float(engine.distances(references, other).min()) < chosen:
            return RefusedPhoto(
                candidate.photo.path,
                f"the largest face ({candidate.photo.face_px} px) looks less like this person's"
                f" other photos than the {other_px} px face; use a photo with only this person",
            )
    return None


def _refusal_message(refused: list[RefusedPhoto]) -> str:
    if len(refused) == 1:
        return f"{refused[0].path}: {refused[0].reason}"
    reasons = "; ".join(f"{item.path}: {item.reason}" for item in refused)
    return f"none of the {len(refused)} photos can be used: {reasons}"


class NoUsablePhotoError(EnrollmentError):
    """None of the photos gave a template: the message gives every photo's reason on one line,
    and :attr:`refused` has them one by one (``kiosk enroll`` prints a line per photo)."""

    def __init__(self, refused: list[RefusedPhoto]) -> None:
        super().__init__(_refusal_message(refused))
        self.refused = refused


def enroll(
    db: sqlite_utils.Database,
    engine: FaceEngine | None,
    person_id: str,
    name: str,
    photos: list[Path],
    min_face_px: int = ENROLL_MIN_FACE_PX,
    consent: Consent | None = None,
    seal: TemplateSeal | None = None,
) -> EnrollResult:
    """Add ``person_id`` with one face template per usable photo; every photo's outcome is in
    the result. :class:`NoUsablePhotoError` giving every photo's reason when none is usable.

    An existing person keeps their templates, gets the new ones and the new name. With no
    photos the person is stored without templates (QR badge check-in only) and ``engine``
    may be None. ``consent`` is recorded with the person; photos are refused before any face
    in them is encoded unless that consent, or the one recorded before, allows face
    recognition (:class:`EnrollmentError`). With ``seal`` the templates are stored sealed.
    """
    check_person_id(person_id)
    check_name(name)
    gallery = Gallery(db, seal)
    if photos:
        before = gallery.get(person_id)
        allowed = (
            consent.allows_face if consent is not None else bool(before and before.face_allowed)
        )
        if not allowed:
            scope = consent.scope if consent is not None else "none recorded"
            raise EnrollmentError(
                f"{person_id}: no consent to face recognition ({scope}): their photos are not"
                " read; record the person's separate consent with --consent on_device or"
                " --consent transfer, or enroll them without photos (QR code only)"
            )
    if engine is None:
        if photos:
            raise ValueError("a face engine is needed to enroll photos")
        return EnrollResult(
            gallery.add_person(person_id, name, [], "", "", [], consent=consent), []
        )
    examined = [_examine_photo(engine, photo, min_face_px) for photo in photos]
    stored, owners = gallery.matrix(engine.name, engine.model_digest)
    single_faces = [
        item.embedding
        for item in examined
        if isinstance(item, _Candidate) and not item.other_embeddings
    ]
    references = np.array(
        [row for row, owner in zip(stored, owners, strict=True) if owner == person_id]
        + single_faces,
        dtype=np.float32,
    )
    outcomes: list[_Candidate | RefusedPhoto] = []
    for item in examined:
        refusal = (
            None if isinstance(item, RefusedPhoto) else _unlike_the_others(engine, item, references)
        )
        outcomes.append(refusal or item)
    used = [item for item in outcomes if isinstance(item, _Candidate)]
    if not used:
        raise NoUsablePhotoError([item for item in outcomes if isinstance(item, RefusedPhoto)])
    person = gallery.add_person(
        person_id,
        name,
        [item.embedding for item in used],
        engine.name,
        engine.model_digest,
        [str(item.photo.path) for item in used],
        consent=consent,
    )
    return EnrollResult(
        person, [item.photo if isinstance(item, _Candidate) else item for item in outcomes]
    )


def identify_image(
    engine: FaceEngine, matcher: Matcher, image: Path, min_face_px: int
) -> dict[str, Any]:
    """Who is in ``image``: ``{"image", "faces": [{"person_id", "name", "distance", "box"}]}``.

    ``distance`` is to the nearest enrolled person even when not accepted (then ``person_id``
    and ``name`` are null). An unreadable image gives ``{"image", "error"}`` instead.
    """
    try:
        rgb = load_rgb(image)
    except ImageError as exc:
        return {"image": str(image), "error": str(exc)}
    boxes = find_faces(engine, rgb, min_face_px)
    faces = []
    for box, embedding in zip(boxes, engine.encode(rgb, boxes), strict=True):
        match = matcher.identify(embedding)
        faces.append(
            {
                "person_id": match.person_id,
                "name": match.name,
                "distance": None if match.distance is None else round(match.distance, 4),
                "box": list(box),
            }
        )
    return {"image": str(image), "faces": faces}
