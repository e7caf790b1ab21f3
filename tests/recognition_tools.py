"""Shared helpers for recognition tests: one loaded face engine, photos and frames."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from drivers.camera.base import Frame
from drivers.face.dlib_engine import DlibEngine

EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@cache
def dlib_engine() -> DlibEngine:
    """The dlib engine, loaded once per test session (about a second)."""
    return DlibEngine()


def person_photo(faces_dir: Path, identity: str, number: int = 1) -> Path:
    """``people/<identity>/NN.jpg`` (or .png) from the shared face set."""
    folder = faces_dir / "people" / identity
    (path,) = folder.glob(f"{number:02d}.*")
    return path


def frame_of(image: np.ndarray, index: int, seconds: float) -> Frame:
    """A frame as a camera would deliver it, ``seconds`` after a fixed start."""
    return Frame(image, index, 1000.0 + seconds, EPOCH + timedelta(seconds=seconds))


def write_image(path: Path, image: np.ndarray) -> Path:
    """Write a BGR image (format from the extension) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


class ScriptedChoices(random.Random):
    """A random source whose ``choice`` returns the given values in order (then the first
    option): liveness requests in a known direction."""

    def __init__(self, *values: str) -> None:
        super().__init__(0)
        self.values = list(values)

    def choice(self, seq: Sequence[Any]) -> Any:  # type: ignore[override]
        """The next scripted value, or ``seq[0]`` when the script is used up."""
        return self.values.pop(0) if self.values else seq[0]


def video_frames(path: Path, step: int = 1, limit: int | None = None) -> Iterator[np.ndarray]:
    """Every ``step``-th frame of a video file (BGR), at most ``limit`` of them."""
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened(), f"cannot open {path}"
    index = given = 0
    try:
        while limit is None or given < limit:
            ok, image = capture.read()
            if not ok:
                return
            if index % step == 0:
                given += 1
                yield image
            index += 1
    finally:
        capture.release()
