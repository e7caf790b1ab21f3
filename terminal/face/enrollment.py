"""Enrolling people from photos, and identifying the faces in photos (``kiosk identify``).

Enrollment is strict because a bad template causes wrong check-ins for months: every photo must
show exactly one face, at least :data:`ENROLL_MIN_FACE_PX` tall (a passport-style photo or a
phone selfie easily is). All photos are checked before anything is stored: one refused photo
stores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from common.errors import EnrollmentError, ImageError
from drivers.face.base import Box, FaceEngine
from terminal.face.images import load_rgb
from terminal.face.matcher import Matcher
from terminal.store.gallery import Gallery, Person, check_name, check_person_id

ENROLL_MIN_FACE_PX = 80
"""Smallest face (box height, photo pixels) accepted for a template."""
SEARCH_FACE_PX = 40
"""Faces down to this height are looked for, so a second, smaller face is noticed."""


@dataclass(frozen=True)
class EnrolledPhoto:
    """One photo used for a template: where its face was and how tall it is."""

    path: Path
    box: Box
    face_px: int


@dataclass(frozen=True)
class EnrollResult:
    """The person as now stored, and the photos that were added as templates."""

    person: Person
    photos: list[EnrolledPhoto]


def find_faces(engine: FaceEngine, rgb: np.ndarray, min_face_px: int = SEARCH_FACE_PX) -> list[Box]:
    """Faces in a photo, largest first (photos are searched at full resolution)."""
    return engine.detect(rgb, min_face_px=min_face_px, scale=1.0)


def face_template(
    engine: FaceEngine, photo: Path, min_face_px: int = ENROLL_MIN_FACE_PX
) -> tuple[np.ndarray, EnrolledPhoto]:
    """The embedding of the single face in ``photo``; :class:`EnrollmentError` saying why not."""
    try:
        rgb = load_rgb(photo)
    except ImageError as exc:
        raise EnrollmentError(str(exc)) from None
    boxes = find_faces(engine, rgb, min(SEARCH_FACE_PX, min_face_px))
    if not boxes:
        raise EnrollmentError(f"{photo}: no face found")
    if len(boxes) > 1:
        raise EnrollmentError(
            f"{photo}: {len(boxes)} faces found; use a photo with only this person"
        )
    box = boxes[0]
    face_px = box[2] - box[0]
    if face_px < min_face_px:
        raise EnrollmentError(
            f"{photo}: face is {face_px} px tall, at least {min_face_px} px needed"
        )
    (embedding,) = engine.encode(rgb, [box])
    return embedding, EnrolledPhoto(photo, box, face_px)


def enroll(
    db: sqlite_utils.Database,
    engine: FaceEngine | None,
    person_id: str,
    name: str,
    photos: list[Path],
    min_face_px: int = ENROLL_MIN_FACE_PX,
) -> EnrollResult:
    """Add ``person_id`` with one face template per photo (all photos or none).

    An existing person keeps their templates, gets the new ones and the new name. With no
    photos the person is stored without templates (QR badge check-in only) and ``engine``
    may be None.
    """
    check_person_id(person_id)
    check_name(name)
    if engine is None:
        if photos:
            raise ValueError("a face engine is needed to enroll photos")
        person = Gallery(db).add_person(person_id, name, [], "", "", [])
        return EnrollResult(person, [])
    templates = [face_template(engine, photo, min_face_px) for photo in photos]
    person = Gallery(db).add_person(
        person_id,
        name,
        [embedding for embedding, _ in templates],
        engine.name,
        engine.model_digest,
        [str(used.path) for _, used in templates],
    )
    return EnrollResult(person, [used for _, used in templates])


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
