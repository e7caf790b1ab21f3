"""Building the face engine and matcher from the config: one place, used by the live pipeline
and by ``kiosk identify``/``kiosk enroll``, so both decide with the same model and thresholds.
"""

from __future__ import annotations

import logging

from common.errors import FaceEngineError, KioskError, StoreError
from drivers.face.base import FaceEngine, FaceEngineUnavailable
from drivers.qr.base import QrDecoder, QrDecoderUnavailable
from terminal.config import Config
from terminal.face.matcher import Matcher
from terminal.store.gallery import Gallery

log = logging.getLogger(__name__)


def create_engine(config: Config) -> FaceEngine:
    """The face engine named by ``recognition.engine``.

    Raises :class:`FaceEngineError` if its library or model files are missing.
    """
    try:
        engine: FaceEngine
        if config.recognition.engine == "sface":
            from drivers.face.sface_engine import SFaceEngine
            from terminal.face.model_files import sface_model_paths

            engine = SFaceEngine(*sface_model_paths(config))
        else:
            from drivers.face.dlib_engine import DlibEngine

            engine = DlibEngine()
        _ = engine.model_digest  # read the model files now, not at the first face
    except FaceEngineUnavailable as exc:
        raise FaceEngineError(f"face engine unavailable: {exc}") from None
    return engine


def effective_tolerance(config: Config, engine: FaceEngine) -> float:
    """The configured tolerance, or the engine's calibrated default when none is set."""
    configured = config.recognition.tolerance
    return configured if configured is not None else engine.default_tolerance


def build_qr_decoder(config: Config) -> QrDecoder:
    """The QR decoder named by ``qr.decoder``; a :class:`KioskError` if it cannot load."""
    try:
        if config.qr.decoder == "pyzbar":
            from drivers.qr.pyzbar_decoder import PyzbarDecoder

            return PyzbarDecoder()
        from drivers.qr.zxing_decoder import ZxingDecoder

        return ZxingDecoder()
    except QrDecoderUnavailable as exc:
        hint = "install libzbar0" if config.qr.decoder == "pyzbar" else "pip install zxing-cpp"
        raise KioskError(f"QR decoder unavailable: {exc} ({hint})") from None


def build_matcher(config: Config, gallery: Gallery, engine: FaceEngine) -> Matcher:
    """A matcher over every template made by ``engine``'s model, with the configured thresholds.

    Templates of another engine or model are ignored with a warning: those people must be
    enrolled again.
    """
    matrix, person_ids = gallery.matrix(engine.name, engine.model_digest)
    if person_ids and matrix.shape[1] != engine.dim:
        raise StoreError(
            f"stored {engine.name} templates have {matrix.shape[1]} values, expected {engine.dim}"
        )
    foreign = gallery.foreign_templates(engine.name, engine.model_digest)
    if foreign:
        log.warning(
            "%d face templates were made by another face model and are ignored; "
            "enroll those people again",
            foreign,
        )
    recognition = config.recognition
    return Matcher(
        engine,
        matrix,
        person_ids,
        gallery.names(),
        tolerance=effective_tolerance(config, engine),
        margin=recognition.margin if recognition.margin is not None else engine.default_margin,
    )
