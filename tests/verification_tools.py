"""Helpers for the verification-mode tests: a kiosk in a given mode, badge and face frames."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from drivers.face.base import Box, FaceEngine
from terminal.checkin.pipeline import Decision, Pipeline, build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.face.liveness import HeadTurnLiveness
from terminal.store.database import open_database
from terminal.store.outbox import Outbox
from tests.consent_tools import TRANSFER
from tests.recognition_tools import frame_of, person_photo
from tests.scenes import badge_scene, blank_frame

FPS = 15.0
PEOPLE = {"E1001": "scarlett_johansson", "E1002": "jennifer_aniston"}
"""Enrolled with their first photo (../shared/faces); probed with their third."""


class CountingEngine(FaceEngine):
    """A real engine that counts how often it is asked to look at a frame."""

    def __init__(self, inner: FaceEngine) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.default_tolerance = inner.default_tolerance
        self.default_margin = inner.default_margin
        self.calls = 0
        self.embedded = 0

    @property
    def model_digest(self) -> str:
        """The real engine's digest."""
        return self.inner.model_digest

    def detect(self, rgb: np.ndarray, min_face_px: int, scale: float = 1.0) -> list[Box]:
        """Count, then detect with the real engine."""
        self.calls += 1
        return self.inner.detect(rgb, min_face_px, scale)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        """Count, then find landmarks with the real engine."""
        self.calls += 1
        return self.inner.landmarks(rgb, box)

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """Count, then embed with the real engine."""
        self.calls += 1
        self.embedded += len(boxes)
        return self.inner.encode(rgb, boxes)

    def distances(self, gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:  # type: ignore[override]
        """The real engine's distances."""
        return self.inner.distances(gallery, probe)


def kiosk(
    tmp_path: Path,
    engine: FaceEngine,
    mode: str,
    people: dict[str, list[Path]],
    liveness: HeadTurnLiveness | None = None,
    **verification: object,
) -> tuple[Pipeline, Outbox]:
    """A pipeline in verification ``mode`` (liveness off unless given) with ``people``
    enrolled (no photos: QR only), reading codes with the default decoder."""
    config = Config.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "verification": {"mode": mode, **verification},
            "liveness": {"mode": "head_turn" if liveness is not None else "off"},
        }
    )
    db = open_database(config.database_path)
    inner = engine.inner if isinstance(engine, CountingEngine) else engine
    for person_id, photos in people.items():
        enroll(
            db,
            inner if photos else None,
            person_id,
            PEOPLE.get(person_id, person_id),
            photos,
            consent=TRANSFER,
        )
    outbox = Outbox(db, config.terminal.id, config.terminal.site)
    pipeline = build_pipeline(config, outbox, lambda: True, engine=engine, liveness=liveness)
    return pipeline, outbox


def enrolled(faces_dir: Path, *person_ids: str) -> dict[str, list[Path]]:
    """The people of :data:`PEOPLE` named, each with their first photo."""
    return {pid: [person_photo(faces_dir, PEOPLE[pid], 1)] for pid in person_ids}


def badge_frames(tmp_path: Path, person_id: str, frames: int = 6) -> list[np.ndarray]:
    """Blank frames, ``person_id``'s badge held up for ``frames`` frames, blank frames."""
    folder = badge_scene(tmp_path / f"badge-{person_id}" / "frames", [person_id], frames)
    images = [cv2.imread(str(path)) for path in sorted(folder.glob("*.png"))]
    assert all(image is not None for image in images)
    return [image for image in images if image is not None]


def face_frames(faces_dir: Path, identity: str, number: int, count: int) -> list[np.ndarray]:
    """A photo of ``identity`` held up in front of a grey wall, moving a little every frame."""
    photo = cv2.imread(str(person_photo(faces_dir, identity, number)))
    assert photo is not None
    height = 300
    width = min(600, photo.shape[1] * height // photo.shape[0])
    photo = cv2.resize(photo, (photo.shape[1] * height // photo.shape[0], height))
    photo = photo[:, (photo.shape[1] - width) // 2 :][:, :width]
    frames = []
    for step in range(count):
        frame = blank_frame(500 + step)
        top, left = 40 + 3 * (step % 4), (640 - width) // 2 - 10 + 4 * (step % 5)
        left = max(0, min(left, 640 - width))
        frame[top : top + height, left : left + width] = photo
        frames.append(frame)
    return frames


def play(pipeline: Pipeline, images: Iterable[np.ndarray], start_s: float) -> list[Decision]:
    """Every decision of the pipeline for ``images`` shown at :data:`FPS` from ``start_s``."""
    seen: list[Decision] = []
    for index, image in enumerate(images):
        seen.extend(pipeline.process(frame_of(image, index, start_s + index / FPS)))
    return seen
