"""The face engine interface: detection, embedding and the distance between embeddings.

Templates are engine-specific: every embedding is stored with the engine's ``name`` and
``model_digest`` and only compared with embeddings of the same engine and digest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]
"""A face box in full-frame pixels: (top, right, bottom, left), face_recognition's order."""


class FaceEngineUnavailable(Exception):
    """The engine's native library or model files cannot be loaded."""


@dataclass(frozen=True)
class FaceEmbedding:
    """A detected face and its embedding (``float32``, shape ``(dim,)``)."""

    box: Box
    embedding: np.ndarray


class FaceEngine(ABC):
    """Detects faces in RGB images and turns them into comparable embeddings."""

    name: str
    """Short engine id stored with each template, e.g. ``dlib``."""
    dim: int
    """Embedding length."""
    default_tolerance: float
    """Largest distance accepted as the same person when the config does not say."""
    default_margin: float = 0.05
    """Distance gap required between the best and the second-best person by default."""

    @property
    @abstractmethod
    def model_digest(self) -> str:
        """A digest of the model files, stored with each template."""

    @abstractmethod
    def detect(self, rgb: np.ndarray, min_face_px: int, scale: float = 1.0) -> list[Box]:
        """Boxes of faces at least ``min_face_px`` tall, largest first.

        ``scale`` (0-1] shrinks the image before detection; boxes are returned in the
        coordinates of ``rgb``.
        """

    @abstractmethod
    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """One ``float32`` embedding per box, in the same order."""

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        """Five points (right eye, left eye, nose tip, right and left mouth corner), shape
        (5, 2) in image pixels, for a box found by :meth:`detect` on ``rgb``; None when the
        engine has none."""
        return None

    @staticmethod
    @abstractmethod
    def distances(gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:
        """Distances (lower is more alike) from ``probe`` (dim,) to each row of ``gallery``."""
