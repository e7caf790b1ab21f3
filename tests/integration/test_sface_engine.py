"""The sface engine (YuNet + SFace) and its model files: pinned, verified, engine-specific."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.errors import FaceEngineError
from drivers.face.sface_engine import SFaceEngine
from terminal.checkin.engines import build_matcher, create_engine
from terminal.config import Config, RecognitionSection
from terminal.face.enrollment import enroll
from terminal.face.images import load_rgb
from terminal.face.model_files import check_models, default_models_dir, sface_model_paths
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from tests.consent_tools import TRANSFER


@pytest.fixture(scope="module")
def engine() -> SFaceEngine:
    built = create_engine(Config(recognition=RecognitionSection(engine="sface")))
    assert isinstance(built, SFaceEngine)
    return built


def _embed(engine: SFaceEngine, path: Path) -> np.ndarray:
    rgb = load_rgb(path)
    boxes = engine.detect(rgb, min_face_px=40)
    assert boxes, f"no face in {path}"
    (embedding,) = engine.encode(rgb, boxes[:1])
    return embedding


def test_installed_models_match_the_pinned_digests() -> None:
    assert check_models(default_models_dir()) == {}


def test_same_person_is_closer_than_another(engine: SFaceEngine, faces_dir: Path) -> None:
    people = faces_dir / "people"
    obama = [_embed(engine, people / "barack_obama" / f"0{i}.jpg") for i in (1, 2, 3)]
    others = [_embed(engine, people / p / "01.jpg") for p in ("joe_biden", "katy_perry")]
    for vector in obama + others:
        assert vector.shape == (128,) and vector.dtype == np.float32
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    gallery = np.stack(obama[:1])
    genuine = [float(engine.distances(gallery, v)[0]) for v in obama[1:]]
    impostor = [float(engine.distances(gallery, v)[0]) for v in others]
    assert max(genuine) < engine.default_tolerance < min(impostor)


def test_encode_without_detect_finds_the_landmarks_itself(
    engine: SFaceEngine, faces_dir: Path
) -> None:
    rgb = load_rgb(faces_dir / "people" / "barack_obama" / "01.jpg")
    (box,) = engine.detect(rgb, min_face_px=40)
    (first,) = engine.encode(rgb, [box])
    (again,) = engine.encode(rgb.copy(), [box])  # a new array: the detection cache misses
    assert float(engine.distances(first[None, :], again)[0]) < 0.05


def test_altered_model_file_is_refused(tmp_path: Path) -> None:
    for path in default_models_dir().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    recognizer = next(tmp_path.glob("face_recognition_sface*.onnx"))
    data = bytearray(recognizer.read_bytes())
    data[-1] ^= 0xFF
    recognizer.write_bytes(bytes(data))
    config = Config(recognition=RecognitionSection(engine="sface", models_dir=tmp_path))
    with pytest.raises(FaceEngineError, match="sha256 does not match"):
        sface_model_paths(config)
    empty = Config(recognition=RecognitionSection(engine="sface", models_dir=tmp_path / "none"))
    with pytest.raises(FaceEngineError, match="kiosk models install"):
        create_engine(empty)


def test_templates_of_another_engine_are_never_matched(
    engine: SFaceEngine, faces_dir: Path, tmp_path: Path
) -> None:
    db = open_database(tmp_path / "kiosk.db")
    photo = faces_dir / "people" / "barack_obama" / "01.jpg"
    dlib_config = Config(recognition=RecognitionSection(engine="dlib"))
    enroll(db, create_engine(dlib_config), "obama", "Obama", [photo], consent=TRANSFER)
    sface_config = Config(recognition=RecognitionSection(engine="sface"))
    matcher = build_matcher(sface_config, Gallery(db), engine)
    assert matcher.people == 0
    probe = _embed(engine, faces_dir / "people" / "barack_obama" / "02.jpg")
    assert matcher.identify(probe).person_id is None
    enroll(db, engine, "obama", "Obama", [photo], consent=TRANSFER)
    assert build_matcher(sface_config, Gallery(db), engine).identify(probe).person_id == "obama"
    db.conn.close()
