"""Shared helpers for recognition tests: one loaded face engine, photos and frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

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
