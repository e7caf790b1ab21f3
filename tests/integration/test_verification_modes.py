"""Verification modes on real photos, real badges and real SQLite: face, qr, face_and_qr."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from central.receiver.batch_check import BatchChecker
from common.errors import ConfigError
from drivers.face.base import FaceEngine
from models.messages import Method
from terminal.checkin.pipeline import build_pipeline
from terminal.config import Config
from terminal.daemon import Daemon, RunOptions
from terminal.face.liveness import HeadTurnLiveness
from terminal.face.pairing import MISS_FRAMES
from terminal.output.announcements import announce
from terminal.store.outbox import Outbox
from tests.recognition_tools import ScriptedChoices, video_frames, write_image
from tests.verification_tools import (
    CountingEngine,
    badge_frames,
    enrolled,
    face_frames,
    kiosk,
    play,
)


def _rows(outbox: Outbox) -> list[tuple[str, Method]]:
    return [(row.event.person_id, row.event.method) for row in outbox.rows()]


def test_code_then_its_face_checks_in_once_by_face_and_qr(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", enrolled(faces_dir, "E1001", "E1002"))
    assert pipeline.pairing is not None
    assert pipeline.pairing.pair_tolerance == pytest.approx(0.8 * 0.41)
    seen = play(pipeline, badge_frames(tmp_path, "E1001"), 0.0)
    paired = [d for d in seen if d.kind == "paired"]
    assert [(d.person_id, d.reason, d.method) for d in paired] == [
        ("E1001", "look_now", Method.FACE_AND_QR)
    ]
    assert announce("look_now", "en", name="Scarlett") == "Scarlett: now look at the camera"
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 12), 1.0)
    checked_in = [d for d in seen if d.kind == "checked_in"]
    assert [(d.person_id, d.method) for d in checked_in] == [("E1001", Method.FACE_AND_QR)]
    assert {d.kind for d in seen} <= {"pending", "checked_in", "repeat"}
    assert _rows(outbox) == [("E1001", Method.FACE_AND_QR)]
    distance = outbox.rows()[0].event.distance
    assert distance is not None and distance <= 0.8 * 0.41
    # The pairing is used up: the face alone, later, is asked for a code again.
    later = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 3), 20.0)
    assert {d.reason for d in later} == {"show_code_first"}


@pytest.mark.parametrize(
    ("identity", "people"),
    [("jennifer_aniston", ("E1001", "E1002")), ("katy_perry", ("E1001",))],
    ids=["nearer-to-an-enrolled-colleague", "beyond-the-tolerance"],
)
def test_code_with_someone_elses_face_is_refused_and_cancelled(
    tmp_path: Path,
    faces_dir: Path,
    engine: FaceEngine,
    caplog: pytest.LogCaptureFixture,
    identity: str,
    people: tuple[str, ...],
) -> None:
    """A colleague's code with one's own face, or with a face of nobody enrolled."""
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", enrolled(faces_dir, *people))
    play(pipeline, badge_frames(tmp_path, "E1001"), 0.0)
    with caplog.at_level(logging.WARNING, logger="terminal.face.pairing"):
        seen = play(pipeline, face_frames(faces_dir, identity, 3, 10), 1.0)
    refused = [(d.person_id, d.reason) for d in seen if d.kind == "refused"]
    assert refused[0] == ("E1001", "face_mismatch")
    assert announce("face_mismatch", "en") == "Face does not match the code"
    assert all(reason == "show_code_first" for _, reason in refused[1:])
    assert not any(d.kind == "checked_in" for d in seen)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "E1001" in warning and "possible buddy punching" in warning
    # Cancelled: the code's own person now needs to show the code again.
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 6), 3.0)
    assert {d.reason for d in seen} == {"show_code_first"}
    assert outbox.counts()["pending"] == 0


def test_a_face_without_a_code_is_asked_for_it_and_not_embedded(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    counting = CountingEngine(engine)
    pipeline, outbox = kiosk(tmp_path, counting, "face_and_qr", enrolled(faces_dir, "E1001"))
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 10), 0.0)
    assert seen and {(d.kind, d.reason) for d in seen} == {("refused", "show_code_first")}
    assert announce("show_code_first", "zh") == "请先出示二维码"
    assert counting.embedded == 0
    assert outbox.counts()["pending"] == 0


def test_a_pairing_times_out(tmp_path: Path, faces_dir: Path, engine: FaceEngine) -> None:
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", enrolled(faces_dir, "E1001"))
    assert [d.kind for d in play(pipeline, badge_frames(tmp_path, "E1001"), 0.0)] == ["paired"]
    # Past pair_window_s (15 s) after the code was read:
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 8), 16.0)
    assert (seen[0].kind, seen[0].person_id, seen[0].reason) == ("refused", "E1001", "pair_expired")
    assert {d.reason for d in seen[1:]} == {"show_code_first"}
    assert outbox.counts()["pending"] == 0


def test_a_code_of_someone_without_face_templates_is_refused(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    people = enrolled(faces_dir, "E1001") | {"E1003": []}
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", people)
    seen = play(pipeline, badge_frames(tmp_path, "E1003"), 0.0)
    assert [(d.kind, d.person_id, d.reason) for d in seen] == [
        ("refused", "E1003", "no_face_to_confirm")
    ]
    assert outbox.counts()["pending"] == 0


def test_the_pair_tolerance_is_stricter_than_recognition(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    """Her third photo is recognised 1:N (about 0.31 from her first, tolerance 0.59), but a
    pair tolerance of 0.25 asks more: after MISS_FRAMES frames the face does not match."""
    people = enrolled(faces_dir, "E1001", "E1002")
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", people, pair_tolerance=0.25)
    play(pipeline, badge_frames(tmp_path, "E1001"), 0.0)
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 8), 1.0)
    assert next(d.reason for d in seen if d.kind == "refused") == "face_mismatch"
    assert [d.kind for d in seen].count("pending") == MISS_FRAMES - 1
    assert outbox.counts()["pending"] == 0


def test_qr_mode_never_looks_at_faces(tmp_path: Path, faces_dir: Path, engine: FaceEngine) -> None:
    counting = CountingEngine(engine)
    pipeline, outbox = kiosk(tmp_path, counting, "qr", enrolled(faces_dir, "E1001"))
    assert play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 15), 0.0) == []
    seen = play(pipeline, badge_frames(tmp_path, "E1001"), 2.0)
    assert [d.kind for d in seen].count("checked_in") == 1
    assert _rows(outbox) == [("E1001", Method.QR)]
    assert counting.calls == 0


def test_face_mode_refuses_each_sighting_of_a_code_once(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = kiosk(tmp_path, engine, "face", enrolled(faces_dir, "E1001"))
    badge = badge_frames(tmp_path, "E1001", frames=6)
    seen = play(pipeline, badge, 0.0) + play(pipeline, badge, 5.0)  # held up twice
    assert [(d.kind, d.reason, d.method) for d in seen] == [
        ("refused", "qr_not_accepted", Method.QR)
    ] * 2
    assert announce("qr_not_accepted", "en") == "QR codes are not accepted at this terminal"
    seen = play(pipeline, face_frames(faces_dir, "scarlett_johansson", 3, 6), 10.0)
    assert [d.kind for d in seen].count("checked_in") == 1
    assert _rows(outbox) == [("E1001", Method.FACE)]


def test_face_and_qr_needs_both_parts_switched_on(tmp_path: Path) -> None:
    config = Config.model_validate(
        {"verification": {"mode": "face_and_qr"}, "qr": {"enabled": False}}
    )
    with pytest.raises(ConfigError, match=r"qr\.enabled"):
        build_pipeline(config, None, lambda: True)  # type: ignore[arg-type]


def test_face_and_qr_with_the_head_turn_request(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    """phone_pair_real: a young man who turns his head to his left at about 2 s."""
    video = faces_dir / "video" / "phone_pair_real.mp4"
    photo = write_image(tmp_path / "pair.jpg", next(video_frames(video)))
    asker = HeadTurnLiveness(Config().liveness, ScriptedChoices("left"))
    pipeline, outbox = kiosk(tmp_path, engine, "face_and_qr", {"E3001": [photo]}, liveness=asker)
    play(pipeline, badge_frames(tmp_path, "E3001"), 0.0)
    seen = play(pipeline, video_frames(video, step=2, limit=60), 1.0)
    kinds = [d.kind for d in seen]
    assert "challenge" in kinds and kinds.count("checked_in") == 1
    assert kinds.index("challenge") < kinds.index("checked_in")
    assert {d.method for d in seen} == {Method.FACE_AND_QR}
    assert _rows(outbox) == [("E3001", Method.FACE_AND_QR)]


def test_the_receiver_accepts_face_and_qr_events() -> None:
    def event(seq: int, **changes: object) -> dict[str, object]:
        return {
            "schema_version": 1, "event_id": str(uuid.uuid4()), "seq": seq,
            "terminal_id": "kiosk-01", "site": "hq", "person_id": "E1001",
            "method": "face_and_qr", "distance": 0.31,
            "captured_at": "2026-11-22T10:00:01.123Z", "clock_synced": True, **changes,
        }  # fmt: skip

    def batch(*events: dict[str, object]) -> bytes:
        return json.dumps({"schema_version": 1, "terminal_id": "kiosk-01",
                           "events": list(events)}).encode()  # fmt: skip

    checker = BatchChecker()
    fast = checker.check("kiosk-01", batch(event(1)))  # the pydantic fast path
    assert [e.method for e in fast.events] == [Method.FACE_AND_QR] and not fast.rejected
    # A bad sibling sends the batch through the JSON Schemas, event by event.
    slow = checker.check("kiosk-01", batch(event(2), event(3, method="iris")))
    assert [(e.seq, e.method) for e in slow.events] == [(2, Method.FACE_AND_QR)]
    assert len(slow.rejected) == 1


def test_the_daemon_says_each_step_once_in_the_terminal_language(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine, caplog: pytest.LogCaptureFixture
) -> None:
    face = face_frames(faces_dir, "scarlett_johansson", 3, 8)
    scene = [*face, *badge_frames(tmp_path, "E1001"), *face]
    folder = tmp_path / "camera"
    for index, image in enumerate(scene):
        write_image(folder / f"{index:04d}.png", image)
    config = Config.model_validate(
        {
            "terminal": {"language": "en"},
            "camera": {"source": str(folder), "fps": 15},
            "storage": {"data_dir": tmp_path / "data"},
            "verification": {"mode": "face_and_qr"},
            "liveness": {"mode": "off"},
        }
    )
    kiosk(tmp_path, engine, "face_and_qr", enrolled(faces_dir, "E1001"))[1].db.conn.close()
    options = RunOptions(realtime=False, exit_when_source_ends=True, clock=lambda: True)
    with caplog.at_level(logging.INFO, logger="terminal.output.kiosk_output"):
        assert Daemon(config, options).run() == 0
    said = [r.getMessage() for r in caplog.records if r.name == "terminal.output.kiosk_output"]
    assert said.count("Show your QR code first") == 1
    assert said.count("scarlett_johansson: now look at the camera") == 1
    assert [line for line in said if line.startswith("Checked in: ")] == [
        f"Checked in: scarlett_johansson at {_local_time(tmp_path)}"
    ]


def _local_time(tmp_path: Path) -> str:
    """The local time of the one event committed in ``tmp_path``'s database."""
    outbox = Outbox.open(tmp_path / "data" / "kiosk.db", "kiosk-01", "default")
    try:
        (row,) = outbox.rows()
        assert row.event.method == Method.FACE_AND_QR
        return row.event.captured_at.astimezone().strftime("%H:%M:%S")
    finally:
        outbox.close()
