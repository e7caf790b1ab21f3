"""The passive liveness stage in the pipeline, on real footage: clear cases decided without a
request, the uncertain middle asked to turn, a phone replay refused once the kiosk is
calibrated on its own camera.

``phone_pair_real.mp4`` (a young man in front of a phone camera) and ``phone_pair_replay.mp4``
(that recording played on a phone held up to the camera) share one camera: the calibration is
made from the first 10 s of the real recording, as an installer would, and judged on the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from drivers.camera.replay import ReplayCamera
from drivers.face.base import FaceEngine
from terminal.checkin.pipeline import Decision, Pipeline, build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.face.liveness import HeadTurnLiveness
from terminal.face.liveness_calibration import calibrate_liveness, capture_cues
from terminal.store.database import open_database
from terminal.store.liveness_calibration import (
    load_liveness_calibration,
    save_liveness_calibration,
)
from terminal.store.outbox import Outbox
from tests.consent_tools import TRANSFER
from tests.recognition_tools import ScriptedChoices, frame_of, video_frames, write_image

FPS = 15.0
PASSIVE_REFUSAL = "liveness: looks like a photo or screen"


def _kiosk(
    tmp_path: Path, engine: FaceEngine, enroll_from: Path, mode: str = "passive"
) -> tuple[Pipeline, Outbox]:
    config = Config.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "qr": {"enabled": False},
            "liveness": {"mode": mode},
        }
    )
    db = open_database(config.database_path)
    first = next(video_frames(enroll_from))
    enroll(
        db, engine, "E3001", "Wei", [write_image(tmp_path / "enroll.png", first)], consent=TRANSFER
    )
    outbox = Outbox(db, config.terminal.id, config.terminal.site)
    asker = HeadTurnLiveness(config.liveness, ScriptedChoices(*["left"] * 20))
    return build_pipeline(config, outbox, lambda: True, engine=engine, liveness=asker), outbox


def _play(pipeline: Pipeline, images: Iterable[np.ndarray], start_s: float = 0.0) -> list[Decision]:
    seen: list[Decision] = []
    for index, image in enumerate(images):
        seen.extend(pipeline.process(frame_of(image, index, start_s + index / FPS)))
    return seen


def _frames_after(video: Path, skip: int) -> Iterable[np.ndarray]:
    for index, image in enumerate(video_frames(video, step=2)):
        if index >= skip:
            yield image


@pytest.mark.parametrize("video", ["studio_headshot_b.mp4", "webcam_glasses_blinks.mp4"])
def test_a_sharp_live_face_is_checked_in_without_a_request(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine, video: str
) -> None:
    path = faces_dir / "video" / video
    pipeline, outbox = _kiosk(tmp_path, engine, path)
    seen = _play(pipeline, video_frames(path, step=2, limit=45))

    kinds = [d.kind for d in seen if d.person_id == "E3001"]
    assert kinds.count("checked_in") == 1, kinds
    assert "challenge" not in kinds and "refused" not in kinds
    assert outbox.counts()["pending"] == 1


def test_strict_mode_asks_the_same_sharp_face_to_turn(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    path = faces_dir / "video" / "studio_headshot_b.mp4"
    pipeline, outbox = _kiosk(tmp_path, engine, path, mode="head_turn")  # the old name
    seen = _play(pipeline, video_frames(path, step=2, limit=45))

    assert pipeline.config.liveness.mode == "strict"
    assert any(d.kind == "challenge" for d in seen)
    assert not any(d.kind == "checked_in" for d in seen)  # he never turns: he talks
    assert outbox.counts()["pending"] == 0


def test_uncalibrated_an_uncertain_real_face_is_asked_and_checked_in_when_it_turns(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    path = faces_dir / "video" / "phone_pair_real.mp4"
    pipeline, outbox = _kiosk(tmp_path, engine, path)
    seen = _play(pipeline, video_frames(path, step=2))

    kinds = [d.kind for d in seen if d.person_id == "E3001"]
    assert "challenge" in kinds and kinds.count("checked_in") == 1
    assert kinds.index("challenge") < kinds.index("checked_in")
    assert "refused" not in kinds
    assert outbox.counts()["pending"] == 1


def test_calibrated_on_its_camera_the_kiosk_refuses_a_phone_replay_and_lets_the_person_in(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    real = faces_dir / "video" / "phone_pair_real.mp4"
    first_10_s = tmp_path / "installation"
    for index, image in enumerate(video_frames(real, limit=300)):
        write_image(first_10_s / f"{index:04d}.png", image)
    camera = ReplayCamera(first_10_s, fps=30, loop=False, realtime=False)
    genuine = capture_cues(camera, engine, "installation", 60, None)
    stored, figures = calibrate_liveness([genuine])
    assert figures["genuine"]["faces"] >= 100
    pipeline, outbox = _kiosk(tmp_path, engine, real)
    save_liveness_calibration(outbox.db, stored)

    replay = faces_dir / "video" / "phone_pair_replay.mp4"
    attacked = _play(pipeline, video_frames(replay, step=2), start_s=1000.0)
    assert any(d.kind == "refused" and d.reason.startswith(PASSIVE_REFUSAL) for d in attacked)
    assert not any(d.kind == "checked_in" for d in attacked)
    assert outbox.counts()["pending"] == 0

    # The rest of the real recording (after the 10 s used for the calibration).
    honest = _play(pipeline, _frames_after(real, 150), start_s=2000.0)
    assert not any(d.reason.startswith(PASSIVE_REFUSAL) for d in honest if d.reason)
    assert [d.kind for d in honest].count("checked_in") == 1
    assert outbox.counts()["pending"] == 1


def test_kiosk_calibrate_liveness_stores_the_cutoffs_and_says_what_is_wrong(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    video = faces_dir / "video"
    args = ["--data-dir", str(data), "calibrate", "--liveness", "--json"]
    real, replay = str(video / "phone_pair_real.mp4"), str(video / "phone_pair_replay.mp4")
    assert main([*args, "--genuine", real, "--attack", replay, "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["stored"] is False
    assert not (data / "kiosk.db").exists()

    assert main([*args, "--genuine", real, "--attack", replay]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stored"] is True and result["database"] == str(data / "kiosk.db")
    assert result["attacks"]["frames"]["live"] == 0  # every attack frame is below the pass line
    assert result["genuine"]["faces"] > 100 and result["genuine"]["frames"]["refuse"] == 0
    db = open_database(data / "kiosk.db")
    stored = load_liveness_calibration(db)
    db.conn.close()
    assert stored is not None
    assert stored.pass_below == result["pass_below"]
    assert stored.refuse_above == result["refuse_above"]
    assert stored.attack_count == result["attacks"]["faces"]
    assert "phone_pair_replay" in stored.source

    blank = tmp_path / "blank"
    for index in range(30):
        write_image(blank / f"{index:03d}.png", np.full((120, 160, 3), 90, np.uint8))
    assert main([*args, "--genuine", str(blank)]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("kiosk: error: only 0 genuine faces seen (at least 20 needed)")
    assert main([*args, "--genuine", str(video / "phone_pair_real.mp4"), "--fit"]) == 1
    assert "--fit needs attack captures" in capsys.readouterr().err
