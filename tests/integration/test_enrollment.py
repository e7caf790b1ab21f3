"""Enrollment from real photos (strict, all-or-nothing) and identifying photos afterwards."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlite_utils

from common.errors import EnrollmentError, UnknownPersonError
from terminal.checkin.engines import build_matcher
from terminal.config import Config
from terminal.face.enrollment import enroll, identify_image
from terminal.store.gallery import Gallery
from tests.recognition_tools import dlib_engine, person_photo, write_image


def _identify(db: sqlite_utils.Database, photo: Path) -> list[dict[str, object]]:
    engine = dlib_engine()
    matcher = build_matcher(Config.model_validate({}), Gallery(db), engine)
    result = identify_image(
        engine, matcher, photo, Config.model_validate({}).recognition.min_face_px
    )
    faces: list[dict[str, object]] = result["faces"]
    return faces


def test_enrolled_person_is_identified_in_another_photo(
    db: sqlite_utils.Database, faces_dir: Path
) -> None:
    result = enroll(
        db, dlib_engine(), "E1001", "Barack Obama", [person_photo(faces_dir, "barack_obama", 1)]
    )
    assert result.person.templates == 1
    assert result.photos[0].face_px >= 80
    (face,) = _identify(db, person_photo(faces_dir, "barack_obama", 2))
    assert face["person_id"] == "E1001"
    assert face["name"] == "Barack Obama"
    assert isinstance(face["distance"], float) and face["distance"] <= 0.5
    assert len(face["box"]) == 4  # type: ignore[arg-type]
    (other,) = _identify(db, person_photo(faces_dir, "joe_biden", 1))
    assert other["person_id"] is None
    assert other["name"] is None
    assert isinstance(other["distance"], float) and other["distance"] > 0.5


def test_no_face_is_refused_and_nothing_stored(db: sqlite_utils.Database, tmp_path: Path) -> None:
    wall = write_image(tmp_path / "wall.jpg", np.full((480, 640, 3), 150, dtype=np.uint8))
    with pytest.raises(EnrollmentError, match=r"wall\.jpg: no face found"):
        enroll(db, dlib_engine(), "E1001", "Nobody", [wall])
    assert Gallery(db).people() == []


def test_photo_with_several_faces_refuses_the_whole_enrollment(
    db: sqlite_utils.Database, faces_dir: Path
) -> None:
    good = person_photo(faces_dir, "barack_obama", 1)
    group = faces_dir / "scenes" / "two_people.jpg"
    with pytest.raises(
        EnrollmentError, match=r"two_people\.jpg: 2 faces found; use a photo with only"
    ):
        enroll(db, dlib_engine(), "E1001", "Barack Obama", [good, group])
    assert Gallery(db).people() == []
    assert db.execute("SELECT count(*) FROM templates").fetchone()[0] == 0


def test_too_small_face_is_refused(
    db: sqlite_utils.Database, faces_dir: Path, tmp_path: Path
) -> None:
    photo = cv2.imread(str(person_photo(faces_dir, "barack_obama", 1)))
    assert photo is not None
    small = write_image(tmp_path / "small.jpg", cv2.resize(photo, None, fx=0.28, fy=0.28))
    with pytest.raises(EnrollmentError, match=r"small\.jpg: face is \d\d px tall, at least 80 px"):
        enroll(db, dlib_engine(), "E1001", "Barack Obama", [small])
    assert Gallery(db).people() == []


def test_corrupt_photo_is_refused_with_its_name(db: sqlite_utils.Database, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 cut off")
    with pytest.raises(EnrollmentError, match=r"broken\.jpg"):
        enroll(db, dlib_engine(), "E1001", "X", [broken])


def test_reenrolling_adds_templates_and_renames_remove_deletes_them(
    db: sqlite_utils.Database, faces_dir: Path
) -> None:
    engine = dlib_engine()
    enroll(db, engine, "E1001", "Obama", [person_photo(faces_dir, "barack_obama", 1)])
    again = enroll(
        db, engine, "E1001", "Barack Obama", [person_photo(faces_dir, "barack_obama", 2)]
    )
    assert (again.person.name, again.person.templates) == ("Barack Obama", 2)
    qr_only = enroll(db, None, "E1002", "张三", [])
    assert qr_only.person.templates == 0
    gallery = Gallery(db)
    assert [p.person_id for p in gallery.people()] == ["E1001", "E1002"]
    matrix, owners = gallery.matrix(engine.name, engine.model_digest)
    assert matrix.shape == (2, 128) and matrix.dtype == np.float32
    assert owners == ["E1001", "E1001"]
    assert gallery.matrix(engine.name, "another model")[1] == []
    gallery.remove("E1001")
    assert db.execute("SELECT count(*) FROM templates").fetchone()[0] == 0
    with pytest.raises(UnknownPersonError):
        gallery.remove("E1001")


@pytest.mark.parametrize("bad_id", ["", "x" * 65, "E10\n01", " E1001"])
def test_bad_person_ids_are_refused(db: sqlite_utils.Database, bad_id: str) -> None:
    with pytest.raises(EnrollmentError, match="person id"):
        enroll(db, None, bad_id, "Name", [])


def test_identify_reports_an_unreadable_image_instead_of_raising(
    db: sqlite_utils.Database, tmp_path: Path
) -> None:
    engine = dlib_engine()
    matcher = build_matcher(Config.model_validate({}), Gallery(db), engine)
    (tmp_path / "x.png").write_bytes(b"nothing")
    result = identify_image(engine, matcher, tmp_path / "x.png", 40)
    assert set(result) == {"image", "error"}
    assert "not an image" in result["error"]
