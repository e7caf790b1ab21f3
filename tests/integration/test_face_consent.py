"""Consent to face recognition at the kiosk: without it a person is never face-matched and
checks in with their code, even at a ``face``-only terminal (face is never the only way)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.errors import EnrollmentError
from drivers.face.base import FaceEngine
from models.messages import Method
from terminal.face.enrollment import enroll
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from terminal.store.processing_log import counts, export_rows
from tests.consent_tools import ON_DEVICE, WITHDRAWN
from tests.recognition_tools import person_photo
from tests.verification_tools import (
    PEOPLE,
    CountingEngine,
    badge_frames,
    enrolled,
    face_frames,
    kiosk,
    play,
)


def _rows(outbox: Outbox) -> list[tuple[str, Method]]:
    return [(row.event.person_id, row.event.method) for row in outbox.rows()]


@pytest.mark.parametrize("how", ["never_recorded", "withdrawn"])
def test_a_person_without_consent_is_not_recognised_and_checks_in_by_code_in_face_mode(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine, how: str
) -> None:
    pipeline, outbox = kiosk(tmp_path, engine, "face", enrolled(faces_dir, "E1001", "E1002"))
    db = outbox.db
    if how == "withdrawn":
        assert Gallery(db).set_consent("E1002", WITHDRAWN)
        assert Gallery(db).get("E1002").templates == 0  # type: ignore[union-attr]
    else:  # a kiosk upgraded from a release without consent: templates, no consent
        db.conn.execute("UPDATE people SET consent_scope = NULL WHERE person_id = 'E1002'")
        assert Gallery(db).get("E1002").templates == 1  # type: ignore[union-attr]
    pipeline.reload()
    assert pipeline.desk.face_ids == {"E1001"}
    # Their face in front of the camera: never matched, never checked in.
    seen = play(pipeline, face_frames(faces_dir, PEOPLE["E1002"], 3, 15), 0.0)
    assert seen and all(d.person_id != "E1002" for d in seen)
    assert "checked_in" not in [d.kind for d in seen]
    assert _rows(outbox) == []
    # Their code checks them in, at a face-only terminal.
    seen = play(pipeline, badge_frames(tmp_path, "E1002"), 5.0)
    assert [(d.kind, d.method) for d in seen if d.kind == "checked_in"] == [
        ("checked_in", Method.QR)
    ]
    # Someone recognised by face still cannot use a code there.
    seen = play(pipeline, badge_frames(tmp_path, "E1001", frames=6), 10.0)
    assert [(d.kind, d.reason) for d in seen] == [("refused", "qr_not_accepted")]
    seen = play(pipeline, face_frames(faces_dir, PEOPLE["E1001"], 3, 6), 15.0)
    assert [d.kind for d in seen].count("checked_in") == 1
    assert _rows(outbox) == [("E1002", Method.QR), ("E1001", Method.FACE)]
    log = counts(db)
    assert log["template_used"] == 1  # E1001's face check-in; E1002's code is not face data
    if how == "withdrawn":
        deleted = [r for r in export_rows(db) if r.action == "template_deleted"]
        assert [(r.person_id, r.templates, r.detail) for r in deleted] == [
            ("E1002", 1, "consent none")
        ]


def test_photos_without_consent_are_not_even_encoded(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    counting = CountingEngine(engine)
    _pipeline, outbox = kiosk(tmp_path, engine, "face_or_qr", {})
    photo = person_photo(faces_dir, PEOPLE["E1001"], 1)
    with pytest.raises(EnrollmentError, match="no consent to face recognition"):
        enroll(outbox.db, counting, "E1001", "Scarlett", [photo])
    with pytest.raises(EnrollmentError, match="no consent to face recognition"):
        enroll(outbox.db, counting, "E1001", "Scarlett", [photo], consent=WITHDRAWN)
    assert counting.calls == 0
    assert Gallery(outbox.db).people() == []
    enroll(outbox.db, counting, "E1001", "Scarlett", [photo], consent=ON_DEVICE)
    assert counting.embedded == 1
    (person,) = Gallery(outbox.db).people()
    assert (person.templates, person.consent, person.consent_source) == (1, ON_DEVICE, "enroll")
