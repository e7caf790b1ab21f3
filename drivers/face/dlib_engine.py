"""dlib's face detector and 128-d face embedding (the models ``face_recognition`` uses).

The engine calls dlib directly with the model files of ``face_recognition_models``, exactly as
``face_recognition.face_locations`` / ``face_encodings(model="small")`` do, so embeddings are
identical; importing ``face_recognition`` itself would also load its 100 MB 68-point landmark
model and a CNN detector that are never used here (about 85 MB more memory, 1.8 s slower start).

Detection sizes: dlib's HOG detector finds faces down to about 80 px; the CNN detector down to
about 40 px. To find faces of ``min_face_px`` the frame is enlarged (or shrunk by ``scale``)
before detection; see :meth:`DlibEngine.detect_factor`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np

from drivers.face.base import Box, FaceEngine, FaceEngineUnavailable

HOG_MIN_FACE_PX = 80
CNN_MIN_FACE_PX = 40
MAX_DETECT_FACTOR = 4.0
MAX_DETECT_SIDE = 3840
_READ_CHUNK = 1 << 20


DLIB_MODEL_FILES = {
    "landmarks": "shape_predictor_5_face_landmarks.dat",
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}
"""The files of ``face_recognition_models`` this engine uses, by role."""


def dlib_model_files() -> dict[str, Path] | None:
    """Where the installed ``face_recognition_models`` keeps :data:`DLIB_MODEL_FILES`, or None
    when it is not installed.

    Found without importing the package: its ``__init__`` imports ``pkg_resources``, which
    setuptools no longer ships.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return {role: folder / name for role, name in DLIB_MODEL_FILES.items()}


def _file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


class DlibEngine(FaceEngine):
    """dlib HOG (or CNN) face detection and the ResNet 128-d embedding; euclidean distance.

    ``upsample``: None picks the detection resize automatically from ``min_face_px``; an int
    forces dlib's pyramid upsampling that many times (on the image already shrunk by ``scale``).
    """

    name = "dlib"
    dim = 128
    default_tolerance = 0.28
    """Cross-validated on the 76 people of ``../shared/faces_east_asian`` + ``../shared/faces``
    (``kiosk calibrate --open-set --folds 5 --engine dlib``: chosen on the other folds' people,
    counted on the held-out ones): 0.28 accepted no wrong person and no stranger of 211, and
    only 10.5 % of genuine probes (SFace: 42.8 %); the former 0.4 accepted 43 % but 6 probes
    as the wrong person and 17 of 211 strangers; dlib's own 0.6 accepts 42-68 % of
    different-person pairs of East Asian faces. A wrong check-in is worse than "look at the
    camera again": use SFace (the default) where faces must be recognised."""

    _digests: ClassVar[dict[tuple[str, ...], str]] = {}

    def __init__(self, upsample: int | None = None, model: str = "hog") -> None:
        if model not in ("hog", "cnn"):
            raise FaceEngineUnavailable(f"unknown dlib detector model {model!r} (hog or cnn)")
        if upsample is not None and not 0 <= upsample <= 3:
            raise FaceEngineUnavailable(f"upsample must be 0-3, not {upsample}")
        self.upsample = upsample
        self.model = model
        try:
            import dlib
        except ImportError as exc:
            raise FaceEngineUnavailable(f"dlib face engine not installed: {exc}") from None
        files = dlib_model_files()
        if files is None:
            raise FaceEngineUnavailable(
                "dlib face engine: face_recognition_models is not installed"
            )
        self._model_files = [files["landmarks"], files["encoder"]]
        try:
            self._predictor: Any = dlib.shape_predictor(str(self._model_files[0]))
            self._encoder: Any = dlib.face_recognition_model_v1(str(self._model_files[1]))
            if model == "cnn":
                cnn_file = str(files["cnn_detector"])
                self._detector: Any = dlib.cnn_face_detection_model_v1(cnn_file)
            else:
                self._detector = dlib.get_frontal_face_detector()
        except RuntimeError as exc:
            raise FaceEngineUnavailable(f"cannot load dlib face models: {exc}") from None
        self._rectangle: Any = dlib.rectangle

    @property
    def model_digest(self) -> str:
        """sha256 over the files that shape an embedding (5-point landmarks, ResNet model).

        The detector is left out: switching HOG/CNN does not invalidate templates.
        """
        key = tuple(str(path) for path in self._model_files)
        if key not in self._digests:
            try:
                self._digests[key] = _file_digest(self._model_files)
            except OSError as exc:
                raise FaceEngineUnavailable(f"cannot read face model files: {exc}") from None
        return self._digests[key]

    @property
    def min_detectable_px(self) -> int:
        """Smallest face height the detector finds at its native resolution."""
        return CNN_MIN_FACE_PX if self.model == "cnn" else HOG_MIN_FACE_PX

    def detect_factor(self, min_face_px: int, scale: float, long_side: int) -> float:
        """How much a frame is resized before detection (upsampling aside).

        ``scale`` shrinks, but never so far that faces of ``min_face_px`` become too small
        for the detector: factor = max(scale, native minimum / min_face_px). Enlarging stops
        at 4x and at a 3840 px long side. With an explicit ``upsample`` it is just ``scale``.
        """
        if self.upsample is not None:
            return scale
        wanted = max(scale, self.min_detectable_px / min_face_px)
        if wanted <= 1.0:
            return wanted
        return max(1.0, min(wanted, MAX_DETECT_FACTOR, MAX_DETECT_SIDE / long_side))

    def detect(self, rgb: np.ndarray, min_face_px: int, scale: float = 1.0) -> list[Box]:
        """Faces at least ``min_face_px`` tall (in ``rgb`` pixels), largest first."""
        height, width = rgb.shape[:2]
        factor = self.detect_factor(min_face_px, scale, max(height, width))
        image = rgb
        if not math.isclose(factor, 1.0):
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            shrink = factor < 1.0
            image = cv2.resize(
                rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            )
        found = self._detector(np.ascontiguousarray(image), self.upsample or 0)
        boxes: list[Box] = []
        for item in found:
            rect = item.rect if self.model == "cnn" else item
            top = max(0, round(rect.top() / factor))
            right = min(width, round(rect.right() / factor))
            bottom = min(height, round(rect.bottom() / factor))
            left = max(0, round(rect.left() / factor))
            if bottom - top >= min_face_px and right > left:
                boxes.append((top, right, bottom, left))
        boxes.sort(key=lambda box: (box[2] - box[0]) * (box[1] - box[3]), reverse=True)
        return boxes

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """The 128-d embedding of each box (one jitter, 5-point alignment)."""
        image = np.ascontiguousarray(rgb)
        embeddings = []
        for top, right, bottom, left in boxes:
            shape = self._predictor(image, self._rectangle(left, top, right, bottom))
            descriptor = self._encoder.compute_face_descriptor(image, shape, 1)
            embeddings.append(np.asarray(descriptor, dtype=np.float32))
        return embeddings

    @staticmethod
    def distances(gallery: np.ndarray, probe: np.ndarray) -> np.ndarray:
        """Euclidean distance from ``probe`` to every row of ``gallery`` (float32)."""
        diff = gallery - probe.astype(np.float32, copy=False)
        return np.sqrt(np.einsum("ij,ij->i", diff, diff, dtype=np.float32))
