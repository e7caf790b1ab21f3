"""Liveness: a recognised face must turn its head as asked; photos and replays cannot.

Real footage: ``phone_pair_real.mp4`` (a young man turning his head: left at about 2 s,
right at about 5 s) and ``phone_pair_replay.mp4`` (that recording played on a screen), the
NUAA printed-photo attacks, and photos of ``../shared/faces`` held up and moved by hand
(:mod:`devtools.attack_video`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from devtools.attack_video import hand_held_photo, still_photo
from drivers.display.base import ResultView
from drivers.face.base import FaceEngine
from terminal.checkin.pipeline import Decision, Pipeline, build_pipeline
from terminal.config import Config
from terminal.daemon import Daemon, RunOptions
from terminal.face.enrollment import enroll, find_faces
from terminal.face.images import load_rgb
from terminal.face.liveness import HeadTurnLiveness
from terminal.output.screen import ScreenFeed
from terminal.store.database import open_database
from terminal.store.outbox import Outbox
from tests.consent_tools import TRANSFER
from tests.recognition_tools import (
    ScriptedChoices,
    frame_of,
    person_photo,
    video_frames,
    write_image,
)

FPS = 15.0


def _kiosk(
    tmp_path: Path,
    engine: FaceEngine,
    people: dict[str, Path],
    *directions: str,
    **liveness: object,
) -> tuple[Pipeline, Outbox]:
    config = Config.model_validate(
        {
            "storage": {"data_dir": tmp_path / "data"},
            "qr": {"enabled": False},
            "liveness": liveness,
        }
    )
    db = open_database(config.database_path)
    for person_id, photo in people.items():
        enroll(db, engine, person_id, person_id, [photo], consent=TRANSFER)
    outbox = Outbox(db, config.terminal.id, config.terminal.site)
    asker = HeadTurnLiveness(config.liveness, ScriptedChoices(*directions))
    return build_pipeline(config, outbox, lambda: True, engine=engine, liveness=asker), outbox


def _play(pipeline: Pipeline, images: Iterable[np.ndarray], start_s: float = 0.0) -> list[Decision]:
    seen: list[Decision] = []
    for index, image in enumerate(images):
        seen.extend(pipeline.process(frame_of(image, index, start_s + index / FPS)))
    return seen


def _pair_person(tmp_path: Path, faces_dir: Path) -> dict[str, Path]:
    first = next(video_frames(faces_dir / "video" / "phone_pair_real.mp4"))
    return {"E3001": write_image(tmp_path / "pair.jpg", first)}


def test_real_person_turning_as_asked_is_checked_in_once(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = _kiosk(tmp_path, engine, _pair_person(tmp_path, faces_dir), "left")
    video = faces_dir / "video" / "phone_pair_real.mp4"
    seen = _play(pipeline, video_frames(video, step=2))

    kinds = [d.kind for d in seen if d.person_id == "E3001"]
    assert "challenge" in kinds and kinds.count("checked_in") == 1
    assert kinds.index("challenge") < kinds.index("checked_in")
    assert {d.reason for d in seen if d.kind == "challenge"} == {"turn_left"}
    assert outbox.counts()["pending"] == 1


def test_a_wrong_way_turn_is_asked_again_without_accusing_and_the_retry_passes(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = _kiosk(tmp_path, engine, _pair_person(tmp_path, faces_dir), *["right"] * 3)
    video = faces_dir / "video" / "phone_pair_real.mp4"
    # Asked to turn right, he turns left (2-5.6 s): asked again; that request times out while
    # his head is still turned left; asked a last time, he turns right (7.4 s) and is checked in.
    seen = _play(pipeline, video_frames(video, step=2))

    asked = [d.reason for d in seen if d.kind == "challenge"]
    assert list(dict.fromkeys(asked)) == ["turn_right", "turn_right_again", "turn_right_last"]
    assert not any(d.kind == "refused" for d in seen)
    assert [d.kind for d in seen].count("checked_in") == 1
    assert outbox.counts()["pending"] == 1
    shown = _screen(seen, "en")
    kinds = [view.kind for view in shown]
    assert "refused" not in kinds[: kinds.index("success")]
    assert not any(view.title.startswith("Photo or video") for view in shown)
    again = [v for v in shown if v.title == "E3001, once more: please turn your head to your right"]
    assert again and again[0].kind == "prompt" and again[0].detail == "→"
    zh = [v.title for v in _screen(seen, "zh")]
    assert "E3001，请再试一次：请向右转头" in zh


def test_a_wrong_way_turn_with_no_attempt_left_is_refused_as_photo_or_video(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = _kiosk(
        tmp_path, engine, _pair_person(tmp_path, faces_dir), "right", max_attempts=1
    )
    video = faces_dir / "video" / "phone_pair_real.mp4"
    # The first 4 s: he is asked to turn right and turns left.
    seen = _play(pipeline, video_frames(video, step=2, limit=60))

    refused = [d.reason for d in seen if d.kind == "refused"]
    # Then, recognised again while locked out: "too many failed requests".
    assert refused[0] == "liveness: turned the other way"
    assert set(refused[1:]) <= {"liveness: too many failed requests"}
    assert not any(
        d.kind in ("checked_in", "challenge")
        for d in seen[seen.index(next(d for d in seen if d.kind == "refused")) :]
    )
    assert outbox.counts()["pending"] == 0
    assert {v.title for v in _screen(seen, "en") if v.kind == "refused"} == {
        "Photo or video detected: face the camera yourself"
    }


def test_replayed_video_is_refused_when_it_turns_the_other_way(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    pipeline, outbox = _kiosk(tmp_path, engine, _pair_person(tmp_path, faces_dir), *["right"] * 10)
    seen = _play(pipeline, video_frames(faces_dir / "video" / "phone_pair_replay.mp4", step=2))

    assert any(d.kind == "challenge" for d in seen), "the replayed face was never recognised"
    assert not any(d.kind == "checked_in" for d in seen)
    assert outbox.counts()["pending"] == 0


def test_printed_photo_attacks_moved_by_hand_are_refused(
    tmp_path: Path, east_asian_dir: Path, engine: FaceEngine
) -> None:
    webcam = east_asian_dir / "nuaa_webcam"
    people = {d.name: _one_face(engine, d) for d in sorted(webcam.iterdir()) if d.is_dir()}
    pipeline, outbox = _kiosk(tmp_path, engine, people, *["left", "right"] * 20)
    attacks = east_asian_dir / "nuaa_printed_photo_attacks"
    asked = 0
    for number, subject in enumerate(sorted(people)):
        photo = min((attacks / subject).glob("*.jpg"))
        frames = hand_held_photo(_read(photo), n_frames=75, fps=FPS, seed=number)
        seen = _play(pipeline, frames, start_s=100.0 * number)
        asked += any(d.kind == "challenge" for d in seen)
        assert not any(d.kind == "checked_in" for d in seen), photo
    assert asked >= len(people) // 2, "too few attacks were recognised to test liveness"
    assert outbox.counts()["pending"] == 0


def test_photos_held_up_or_propped_are_refused_and_lock_out(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    people = {name: person_photo(faces_dir, name, 1) for name in ("katy_perry", "barack_obama")}
    pipeline, outbox = _kiosk(
        tmp_path, engine, people, *["left", "right"] * 10, timeout_s=2.0, max_attempts=2
    )
    # Another photo of her; his enrollment photo itself (a print of the badge photo).
    for number, (name, shown) in enumerate((("katy_perry", 3), ("barack_obama", 1))):
        photo = _read(person_photo(faces_dir, name, shown))
        start = 100.0 * number
        held = _play(pipeline, hand_held_photo(photo, n_frames=60, fps=FPS, seed=number), start)
        propped = _play(pipeline, still_photo(photo, n_frames=60, seed=number), start + 10)
        reasons = [d.reason for d in held + propped if d.kind == "refused"]
        assert any(r.startswith("liveness: ") for r in reasons), name
        assert "liveness: too many failed requests" in reasons, name
        assert not any(d.kind == "checked_in" for d in held + propped), name
    assert outbox.counts()["pending"] == 0


def test_liveness_off_checks_the_photo_in(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    people = {"katy_perry": person_photo(faces_dir, "katy_perry", 1)}
    pipeline, outbox = _kiosk(tmp_path, engine, people, mode="off")
    photo = _read(person_photo(faces_dir, "katy_perry", 3))
    seen = _play(pipeline, hand_held_photo(photo, n_frames=20, fps=FPS))
    assert [d.kind for d in seen].count("checked_in") == 1
    assert not any(d.kind == "challenge" for d in seen)
    assert outbox.counts()["pending"] == 1


def _screen(decisions: list[Decision], language: str) -> list[ResultView]:
    """What the kiosk screen shows for ``decisions``, in ``language``."""
    config = Config.model_validate({"terminal": {"language": language}})
    feed = ScreenFeed(config)
    return [view for view in map(feed.on_decision, decisions) if view is not None]


def _one_face(engine: FaceEngine, folder: Path) -> Path:
    """The first photo in ``folder`` that shows exactly one face (some frames show two)."""
    for photo in sorted(folder.glob("*.jpg")):
        if len(find_faces(engine, load_rgb(photo))) == 1:
            return photo
    raise AssertionError(f"no single-face photo in {folder}")


def _read(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return image


def test_daemon_says_each_request_once_in_the_terminal_language(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config.model_validate(
        {
            "terminal": {"language": "en"},
            "camera": {"source": str(faces_dir / "video" / "phone_pair_real.mp4"), "fps": 30},
            "storage": {"data_dir": tmp_path / "data"},
            "qr": {"enabled": False},
        }
    )
    db = open_database(config.database_path)
    enroll(
        db,
        engine,
        "E3001",
        "Wei",
        list(_pair_person(tmp_path, faces_dir).values()),
        consent=TRANSFER,
    )
    db.conn.close()
    decisions: list[Decision] = []
    options = RunOptions(
        realtime=False, exit_when_source_ends=True, clock=lambda: True,
        on_decision=decisions.append,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="terminal.output.kiosk_output"):
        assert Daemon(config, options).run() == 0

    requests = [d for d in decisions if d.kind == "challenge"]
    assert requests, "he was never asked to turn"
    said = [r.getMessage() for r in caplog.records if "please turn your head" in r.getMessage()]
    # One line per request, not one per frame.
    assert 1 <= len(said) < len(requests)
    pattern = r"Wei, (once more: |one last time: )?please turn your head to your (left|right)"
    assert all(re.fullmatch(pattern, line) for line in said), said
