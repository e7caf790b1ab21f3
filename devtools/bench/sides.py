"""The two recognisers ``kiosk bench recognition`` compares, behind one small interface.

- :class:`PipelineSide`: the kiosk's own :class:`~terminal.checkin.pipeline.Pipeline` as deployed
  (presence gating, ``min_face_px``, confirmation over frames, QR decoding on every frame).
- :class:`NaiveSide`: face_recognition's webcam example (``facerec_from_webcam.py``): HOG
  ``face_locations`` on every whole frame, ``face_encodings`` for every face, ``face_distance``
  against the gallery and the nearest one accepted within :data:`NAIVE_TOLERANCE`; no gating.

Both commit their check-ins to their own SQLite outbox, so a check-in costs the same on both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from devtools.sample_consent import SAMPLE_CONSENT
from drivers.camera.base import Frame
from models.messages import Method
from terminal.checkin.engines import build_qr_decoder, create_engine, effective_tolerance
from terminal.checkin.pipeline import Pipeline, build_pipeline
from terminal.checkin.rules import RepeatGuard
from terminal.config import Config, RecognitionSection
from terminal.face.enrollment import enroll
from terminal.face.matcher import Matcher
from terminal.store.database import open_database
from terminal.store.outbox import CheckInDraft, Outbox

NAIVE_TOLERANCE = 0.6
"""face_recognition's own threshold (``compare_faces`` default), as the example uses it."""
EMBEDDING_DIM = 128


class Recogniser(Protocol):
    """What the benchmark drives: frames in, the people checked in on that frame out."""

    @property
    def face_work_frames(self) -> int:
        """Frames on which faces were looked for (detect, embed, match)."""

    def process(self, frame: Frame) -> list[str]:
        """Process one frame; the person ids whose check-ins were committed on it."""


class PipelineSide:
    """The kiosk pipeline over a gallery enrolled from ``photos`` (person id -> photo)."""

    def __init__(
        self, workdir: Path, recognition: RecognitionSection, photos: dict[str, Path]
    ) -> None:
        self.config = Config.model_validate(
            {
                "storage": {"data_dir": workdir},
                "recognition": recognition.model_dump(),
                # Timed without the head-turn request: its time is the person's reaction.
                "liveness": {"mode": "off"},
            }
        )
        self.outbox = Outbox.open(self.config.database_path, "bench-pipeline", "bench")
        self.engine = create_engine(self.config)
        self.qr = build_qr_decoder(self.config)
        for person_id, photo in photos.items():
            enroll(
                self.outbox.db, self.engine, person_id, person_id, [photo], consent=SAMPLE_CONSENT
            )

    def fresh(self) -> Recogniser:
        """A new pipeline (no confirmation, repeat or presence state) over the same gallery."""
        pipeline = build_pipeline(
            self.config, self.outbox, lambda: True, engine=self.engine, qr=self.qr
        )
        return _PipelineRecogniser(pipeline)

    def matching_timer(self, gallery: np.ndarray) -> Callable[[np.ndarray], Any]:
        """Identify one probe against ``gallery`` (one template per person) with the Matcher."""
        ids = [f"P{i:06d}" for i in range(len(gallery))]
        tolerance = effective_tolerance(self.config, self.engine)
        margin = self.config.recognition.margin
        margin = self.engine.default_margin if margin is None else margin
        matcher = Matcher(self.engine, gallery, ids, {}, tolerance=tolerance, margin=margin)
        return matcher.identify


class _PipelineRecogniser:
    """A :class:`Pipeline` as a :class:`Recogniser`: its face check-ins, its gate's count."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @property
    def face_work_frames(self) -> int:
        """Frames the presence gate let through to face work."""
        return self.pipeline.presence.admitted

    def process(self, frame: Frame) -> list[str]:
        """The people checked in by face on this frame."""
        return [
            str(decision.person_id)
            for decision in self.pipeline.process(frame)
            if decision.kind == "checked_in" and decision.method == Method.FACE
        ]


class NaiveSide:
    """face_recognition's webcam example over a gallery made the example's way."""

    def __init__(self, workdir: Path, photos: dict[str, Path]) -> None:
        import face_recognition

        self.fr: Any = face_recognition
        self.outbox = Outbox(open_database(workdir / "kiosk.db"), "bench-naive", "bench")
        self.person_ids = list(photos)
        known = [
            face_recognition.face_encodings(face_recognition.load_image_file(str(photo)))[0]
            for photo in photos.values()
        ]
        self.known = np.asarray(known)

    def fresh(self) -> Recogniser:
        """A new loop (no repeat state) over the same gallery."""
        return _NaiveLoop(self)

    def matching_timer(self, gallery: np.ndarray) -> Callable[[np.ndarray], Any]:
        """The example's matching: ``face_distance`` over the gallery, argmin, threshold."""
        fr = self.fr

        def match(probe: np.ndarray) -> bool:
            distances = fr.face_distance(gallery, probe)
            return bool(distances[int(np.argmin(distances))] <= NAIVE_TOLERANCE)

        return match


class _NaiveLoop:
    """One run of the example's loop: every frame gets the full face work."""

    def __init__(self, side: NaiveSide) -> None:
        self.side = side
        self.repeats = RepeatGuard(60.0)
        self.frames = 0

    @property
    def face_work_frames(self) -> int:
        """Every frame processed."""
        return self.frames

    def process(self, frame: Frame) -> list[str]:
        """Detect, encode and match every face; commit the first sighting of each person."""
        fr = self.side.fr
        self.frames += 1
        # The example passes frame[:, :, ::-1]; dlib 19.24+ refuses that view, hence cvtColor.
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        locations = fr.face_locations(rgb)
        committed: list[str] = []
        for encoding in fr.face_encodings(rgb, locations):
            distances = fr.face_distance(self.side.known, encoding)
            best = int(np.argmin(distances))
            if distances[best] > NAIVE_TOLERANCE:
                continue
            person_id = self.side.person_ids[best]
            if self.repeats.seconds_since(person_id, frame.monotonic) is not None:
                continue
            draft = CheckInDraft(person_id, Method.FACE, frame.wall, float(distances[best]))
            self.side.outbox.commit_checkin(draft, clock_synced=True)
            self.repeats.record(person_id, frame.monotonic)
            committed.append(person_id)
        return committed


def random_gallery(size: int, seed: int = 7) -> np.ndarray:
    """``size`` random unit-length ``float32`` templates (the same for a given seed)."""
    rng = np.random.default_rng(seed)
    gallery = rng.standard_normal((size, EMBEDDING_DIM), dtype=np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    return gallery


def time_per_probe_ms(match: Callable[[np.ndarray], Any], budget_s: float) -> float:
    """Median milliseconds per call of ``match`` on random probes, over about ``budget_s``."""
    probes = random_gallery(64, seed=11)
    match(probes[0])  # warm-up
    times: list[float] = []
    spent = 0.0
    while len(times) < 3 or (spent < budget_s and len(times) < 2000):
        probe = probes[len(times) % len(probes)]
        start = time.perf_counter()
        match(probe)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return float(np.median(times) * 1000.0)
