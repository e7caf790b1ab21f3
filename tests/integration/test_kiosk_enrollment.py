"""Enrollment at the kiosk: an admin's signed enrollment code, then the person's face from the
camera (a real recorded video), stored on the kiosk with nothing but a notice for the central
side; the processing log accounts for every step."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.face.base import FaceEngine
from models.messages import Method
from models.signed_code import issue_code, parse_code
from terminal.checkin.decisions import Decision
from terminal.checkin.pipeline import Pipeline, build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.face.kiosk_enrollment import ENROLL_FRAMES
from terminal.face.liveness import HeadTurnLiveness
from terminal.store import enrollment_notices
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from terminal.store.processing_log import counts, export_rows
from tests.recognition_tools import EPOCH, ScriptedChoices, video_frames
from tests.scenes import code_scene
from tests.signed_code_tools import hr_keys
from tests.verification_tools import play

VIDEO = "phone_pair_real.mp4"
"""A young man at a webcam who turns his head to his left at about 2 s."""


class Kiosk:
    """A kiosk reading faces and signed codes, head-turn liveness asked to the left."""

    def __init__(self, tmp_path: Path, engine: FaceEngine | None, mode: str = "face") -> None:
        self.tmp_path = tmp_path
        self.keys: dict[str, Ed25519PrivateKey] = hr_keys(tmp_path / "keys", "HR1")
        config = Config.model_validate(
            {
                "storage": {"data_dir": tmp_path / "data"},
                "recognition": {"enabled": engine is not None},
                "verification": {"mode": mode},
                "qr": {"public_keys_dir": tmp_path / "keys"},
                "liveness": {"mode": "head_turn" if engine is not None else "off"},
            }
        )
        db = open_database(config.database_path)
        enroll(db, None, "E3001", "Wei", [])  # on the roster, QR only: no consent, no face
        self.outbox = Outbox(db, config.terminal.id, config.terminal.site)
        asker = HeadTurnLiveness(config.liveness, ScriptedChoices(*["left"] * 10))
        self.pipeline: Pipeline = build_pipeline(
            config, self.outbox, lambda: True, engine=engine, liveness=asker
        )

    def enrollment_code(self, person_id: str, issued_s: float = 0.0) -> str:
        """An enrollment code for ``person_id``, valid 120 s from ``issued_s`` after EPOCH."""
        return issue_code(self.keys["HR1"], "HR1", person_id, 120, EPOCH.timestamp() + issued_s,
                          kind="enroll")  # fmt: skip

    def show(self, name: str, texts: list[str], start_s: float) -> list[Decision]:
        """``texts`` as QR codes on a phone held up from ``start_s`` seconds after EPOCH."""
        folder = code_scene(self.tmp_path / "scenes" / name, texts)
        images = [cv2.imread(str(path)) for path in sorted(folder.glob("*.png"))]
        return play(self.pipeline, [i for i in images if i is not None], start_s)


def test_an_enrollment_code_then_the_camera_stores_templates_here_and_sends_none(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    kiosk = Kiosk(tmp_path, engine)
    db = kiosk.outbox.db
    code = kiosk.enrollment_code("E3001")
    assert code.startswith("ATT1:E:")
    seen = kiosk.show("admin", [code], 0.0)
    assert [(d.kind, d.person_id, d.reason) for d in seen][:1] == [("enrolling", "E3001", "0/5")]
    video = faces_dir / "video" / VIDEO
    seen = play(kiosk.pipeline, video_frames(video, step=2, limit=90), 2.0)
    kinds = [d.kind for d in seen]
    assert "challenge" in kinds and kinds.count("enrolled") == 1, kinds
    progress = [d.reason for d in seen if d.kind == "enrolling" and d.box is not None]
    assert f"{ENROLL_FRAMES - 1}/{ENROLL_FRAMES}" in progress
    assert kinds.index("challenge") < kinds.index("enrolled")
    assert "checked_in" not in kinds[: kinds.index("enrolled")]  # enrolling is not checking in
    # Stored here: five templates made by the camera, consent on_device from the code.
    person = Gallery(db).get("E3001")
    assert person is not None and person.templates == ENROLL_FRAMES
    assert person.consent is not None and person.consent.scope == "on_device"
    assert (person.consent.recorded_by, person.consent_source) == (
        "enrollment code of key HR1",
        "code",
    )
    origins = db.conn.execute("SELECT DISTINCT origin, source FROM templates").fetchall()
    nonce = parse_code(code).nonce
    assert origins == [("local", f"camera, enrollment code HR1/{nonce}")]
    # Sent: for the central side only the notice, which holds no template.
    (notice,) = enrollment_notices.pending(db.conn)
    assert (notice.person_id, notice.state, notice.templates) == ("E3001", "enrolled", 5)
    columns = [r[1] for r in db.conn.execute("PRAGMA table_info(enrollment_notices)")]
    assert columns == ["person_id", "state", "templates", "at", "published", "announced"]
    # The processing log: consent recorded, templates created.
    steps = [(r.action, r.person_id, r.templates) for r in export_rows(db)]
    steps = [step for step in steps if step[0] != "template_used"]
    assert steps == [("consent_recorded", "E3001", 0), ("template_created", "E3001", 5)]
    # The code enrolls once.
    seen = kiosk.show("again", [code], 20.0)
    assert [(d.kind, d.refusal) for d in seen if d.kind == "refused"][:1] == [
        ("refused", "replayed")
    ]
    # And the face now checks him in, by face, counted in the log.
    seen = play(kiosk.pipeline, video_frames(video, step=2, limit=90), 600.0)
    checked = [(row.event.person_id, row.event.method) for row in kiosk.outbox.rows()]
    assert checked and set(checked) == {("E3001", Method.FACE)}
    assert counts(db)["template_used"] == len(checked)


def test_a_photo_held_up_is_not_enrolled(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    """A still frame (a printed photo) cannot turn its head: nothing is stored."""
    kiosk = Kiosk(tmp_path, engine)
    kiosk.show("admin", [kiosk.enrollment_code("E3001")], 0.0)
    still = next(video_frames(faces_dir / "video" / VIDEO))
    seen = play(kiosk.pipeline, [still] * 300, 2.0)
    assert [d.reason for d in seen if d.kind == "refused"] == ["enrollment_failed"]
    assert Gallery(kiosk.outbox.db).get("E3001").templates == 0  # type: ignore[union-attr]
    assert counts(kiosk.outbox.db)["template_created"] == 0


@pytest.mark.parametrize("person_id", ["E9999"])
def test_codes_for_strangers_and_check_in_codes_do_not_enroll(
    tmp_path: Path, engine: FaceEngine, person_id: str
) -> None:
    kiosk = Kiosk(tmp_path, engine)
    seen = kiosk.show("stranger", [kiosk.enrollment_code(person_id)], 0.0)
    assert [(d.kind, d.refusal) for d in seen][:1] == [("refused", "not_enrolled")]
    assert not kiosk.pipeline.enrolling.active  # type: ignore[union-attr]


def test_a_terminal_that_reads_no_faces_refuses_enrollment_codes(tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path, None, mode="qr")
    seen = kiosk.show("admin", [kiosk.enrollment_code("E3001")], 0.0)
    assert {(d.kind, d.reason) for d in seen} == {("refused", "enroll_code_not_here")}
