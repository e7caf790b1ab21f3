"""Presence gating: no face work on an empty scene, face work as soon as someone shows up."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import sqlite_utils

from drivers.face.base import Box, FaceEngine
from terminal.checkin.pipeline import Decision, Pipeline, build_pipeline
from terminal.checkin.presence import MotionDetector, PresenceGate
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.store.outbox import Outbox
from tests.consent_tools import TRANSFER
from tests.recognition_tools import dlib_engine, frame_of, person_photo
from tests.scenes import blank_frame

FPS = 15.0


class CountingEngine(FaceEngine):
    """The real dlib engine, counting how often faces are looked for and embedded."""

    def __init__(self, inner: FaceEngine) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.default_tolerance = inner.default_tolerance
        self.default_margin = inner.default_margin
        self.detect_calls = 0
        self.encode_calls = 0
        self.embedded = 0

    @property
    def model_digest(self) -> str:
        """The real engine's digest."""
        return self.inner.model_digest

    def detect(self, rgb: np.ndarray, min_face_px: int, scale: float = 1.0) -> list[Box]:
        """Count, then detect with the real engine."""
        self.detect_calls += 1
        return self.inner.detect(rgb, min_face_px, scale)

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """Count, then embed with the real engine."""
        self.encode_calls += 1
        self.embedded += len(boxes)
        return self.inner.encode(rgb, boxes)

    @staticmethod
    def distances(gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:
        """The real engine's distances."""
        return dlib_engine().distances(gallery, probe)


def _face_frame(photo: np.ndarray, step: int) -> np.ndarray:
    """The photo held up in front of the grey wall, moving a few pixels every frame."""
    frame = blank_frame(500 + step)
    h, w = photo.shape[:2]
    top, left = 40 + 3 * (step % 4), 120 + 4 * (step % 5)
    frame[top : top + h, left : left + w] = photo
    return frame


def _lit(image: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _pipeline(
    tmp_path: Path, db: sqlite_utils.Database, engine: FaceEngine, **rec: object
) -> Pipeline:
    config = Config.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "recognition": rec,
            "qr": {"enabled": False},
            "liveness": {"mode": "off"},
        }
    )
    outbox = Outbox(db, config.terminal.id, config.terminal.site)
    return build_pipeline(config, outbox, lambda: True, engine=engine)


def _play(pipeline: Pipeline, images: list[np.ndarray], start_s: float) -> list[Decision]:
    decisions: list[Decision] = []
    for number, image in enumerate(images):
        index = round(start_s * FPS) + number
        decisions += pipeline.process(frame_of(image, index, index / FPS))
    return decisions


def test_sensor_noise_and_slow_light_changes_are_not_motion() -> None:
    detector = MotionDetector()
    seen = [detector.motion(blank_frame(seed), seed / FPS) for seed in range(30)]
    assert seen[0] is None  # the first frame only sets the background
    assert max(m for m in seen[1:] if m is not None) == 0.0
    # +30 % light over 6 s, then a sudden +20 grey levels (lights switched on).
    brighter = [_lit(blank_frame(seed), 1 + (seed - 30) / 300, 0) for seed in range(30, 120)]
    brighter.append(_lit(blank_frame(120), 1.3, 20))
    seen = [detector.motion(image, (30 + n) / FPS) for n, image in enumerate(brighter)]
    assert max(m for m in seen if m is not None) < 0.005


def test_gate_opens_on_motion_and_closes_after_the_hold() -> None:
    gate = PresenceGate(enabled=True, hold_s=3.0, min_motion=0.005)
    wall = [frame_of(blank_frame(i), i, i / FPS) for i in range(15)]
    assert not any(gate.admit(frame) for frame in wall)
    moved = blank_frame(15)
    moved[100:300, 200:400] = 30  # someone dark steps in, then stands perfectly still
    still = [frame_of(moved, 15 + n, (15 + n) / FPS) for n in range(300)]
    admitted = [gate.admit(frame) for frame in still]
    assert admitted[0] and not admitted[-1]  # the background has taken them in
    closed_at = admitted.index(False)
    assert all(admitted[:closed_at]) and not any(admitted[closed_at:])
    assert closed_at / FPS >= 3.0  # at least the hold after the step
    assert (gate.frames, gate.admitted) == (315, closed_at)

    gate.face_seen(still[-1].monotonic)  # a face keeps face work going for another hold
    seen_s = (15 + 299) / FPS
    assert gate.admit(frame_of(moved, 400, seen_s + 2.9))
    assert not gate.admit(frame_of(moved, 401, seen_s + 3.1))


def _lin_at_the_kiosk(
    tmp_path: Path, faces_dir: Path, db: sqlite_utils.Database
) -> tuple[CountingEngine, np.ndarray, Pipeline]:
    """Lin-Manuel Miranda enrolled; his photo sized for a 640x480 frame; a counting pipeline."""
    engine = CountingEngine(dlib_engine())
    photo_path = person_photo(faces_dir, "lin_manuel_miranda")
    enroll(db, engine.inner, "E2001", "Lin-Manuel Miranda", [photo_path], consent=TRANSFER)
    photo = cv2.imread(str(photo_path))
    assert photo is not None
    photo = cv2.resize(photo, (352, 306), interpolation=cv2.INTER_AREA)
    return engine, photo, _pipeline(tmp_path, db, engine)


def test_no_face_work_while_idle_then_check_in_when_a_face_appears(
    tmp_path: Path, faces_dir: Path, db: sqlite_utils.Database
) -> None:
    engine, photo, pipeline = _lin_at_the_kiosk(tmp_path, faces_dir, db)

    idle = _play(pipeline, [blank_frame(i) for i in range(60)], 0.0)  # 4 s of an empty lobby
    assert idle == []
    assert (engine.detect_calls, engine.encode_calls) == (0, 0)

    seen = _play(pipeline, [_face_frame(photo, step) for step in range(8)], 4.0)
    checked_in = [d for d in seen if d.kind == "checked_in"]
    assert [(d.person_id, d.name) for d in checked_in] == [("E2001", "Lin-Manuel Miranda")]
    assert engine.detect_calls >= 2

    # The person leaves: face work stops once the hold has passed.
    _play(pipeline, [blank_frame(1000 + i) for i in range(90)], 5.0)
    calls = engine.detect_calls
    assert _play(pipeline, [blank_frame(2000 + i) for i in range(30)], 11.0) == []
    assert engine.detect_calls == calls


def test_a_checked_in_face_staying_in_view_is_followed_not_embedded_again(
    tmp_path: Path, faces_dir: Path, db: sqlite_utils.Database
) -> None:
    engine, photo, pipeline = _lin_at_the_kiosk(tmp_path, faces_dir, db)
    _play(pipeline, [blank_frame(i) for i in range(5)], 0.0)

    seen = _play(pipeline, [_face_frame(photo, step) for step in range(40)], 1.0)
    kinds = [d.kind for d in seen]
    assert kinds.count("checked_in") == 1
    assert kinds.count("repeat") >= 30
    assert engine.embedded <= 4  # the confirming frames, then the face is only followed


def test_gating_off_looks_for_faces_in_every_frame(
    tmp_path: Path, faces_dir: Path, db: sqlite_utils.Database
) -> None:
    engine = CountingEngine(dlib_engine())
    enroll(
        db,
        engine.inner,
        "E2001",
        "Lin",
        [person_photo(faces_dir, "lin_manuel_miranda")],
        consent=TRANSFER,
    )
    pipeline = _pipeline(tmp_path, db, engine, presence_gating=False)
    assert _play(pipeline, [blank_frame(i) for i in range(5)], 0.0) == []
    assert engine.detect_calls == 5


def test_presence_settings_are_validated() -> None:
    recognition = Config().recognition
    assert (recognition.presence_gating, recognition.presence_hold_s) == (True, 3.0)
    with pytest.raises(ValueError, match="presence_min_motion"):
        Config.model_validate({"recognition": {"presence_min_motion": 0}})
