"""``kiosk bench liveness``: how often the head-turn request is passed, by attacks and by people.

Every presentation is reduced to its face's five landmarks per frame (YuNet, at 15 fps); then a
request is simulated at every half second where a face is in view, in both directions, with
the configured ``[liveness]`` settings. A passed request by an attack is an accepted attack
(APCER, ISO/IEC 30107-3); the baseline beside it is the kiosk without liveness, which accepts
every attack presentation whose face it recognises.

Attacks: every photo (``../shared/faces/people``, the NUAA printed-photo attacks and NUAA webcam
frames used as prints) held up by hand for 6 s (:func:`devtools.attack_video.hand_held_photo`)
and propped up still; the phone-screen replay ``video/phone_pair_replay.mp4``. Bona fide:
``video/phone_pair_real.mp4`` (a man turning his head, unprompted) and the other real videos.
A recording cannot answer a request, so for real people the figures say how far their turns
move the nose and whether a request made just before each turn would pass.

In the same run, ``passive_stage`` (:mod:`devtools.bench.passive_liveness`): the recapture score
and the background-motion cue in front of the request, per attack kind (NUAA printed photos,
the phone replay) beside the head-turn figures above, with the hand-set default coefficients
and with coefficients a site would fit at installation; and ``first_frame_to_checkin``
(:mod:`devtools.bench.checkin_time`): the real pipeline's time from a real person's first frame
to the committed check-in with the passive stage, beside the head turn for everyone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devtools.attack_video import hand_held_photo, still_photo
from devtools.bench.checkin_time import run_checkin_time_benchmark
from devtools.bench.passive_liveness import passive_stage_figures
from drivers.face.base import FaceEngine
from terminal.config import LivenessSection
from terminal.face.liveness import Challenge, Direction, HeadTurnLiveness

FPS = 15.0
REQUEST_EVERY_S = 0.5
MIN_FACE_PX = 60
Series = list[np.ndarray | None]


def landmark_series(engine: FaceEngine, frames: Iterable[np.ndarray]) -> Series:
    """The largest face's five landmarks in each frame (None where no face is found)."""
    series: Series = []
    for image in frames:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxes = engine.detect(rgb, MIN_FACE_PX)
        series.append(engine.landmarks(rgb, boxes[0]) if boxes else None)
    return series


def request_passes(
    asker: HeadTurnLiveness, series: Series, start: int, direction: Direction
) -> bool:
    """Whether a request made at frame ``start`` is passed by the frames after it."""
    marks = series[start]
    assert marks is not None
    challenge = Challenge("bench", None, None, direction, asker.sideways(marks), start / FPS)
    for index in range(start + 1, len(series)):
        verdict = asker.observe(challenge, series[index], index / FPS)
        if verdict != "waiting":
            return verdict == "passed"
    return False


def _requests(asker: HeadTurnLiveness, series: Series) -> tuple[int, int]:
    step = max(1, round(REQUEST_EVERY_S * FPS))
    made = passed = 0
    for start in range(0, len(series), step):
        if series[start] is None:
            continue
        for direction in ("left", "right"):
            made += 1
            passed += request_passes(asker, series, start, direction)
    return made, passed


def _peaks(asker: HeadTurnLiveness, series: Series) -> tuple[float, float]:
    """The largest sideways move to the left and to the right from the first face's pose."""
    values = [asker.sideways(m) for m in series if m is not None]
    if not values:
        return 0.0, 0.0
    moves = np.array(values) - values[0]
    return round(float(moves.max()), 3), round(float(-moves.min()), 3)


def _summary(asker: HeadTurnLiveness, all_series: list[Series]) -> dict[str, Any]:
    made = passed = seen = 0
    peaks: list[float] = []
    for series in all_series:
        m, p = _requests(asker, series)
        made, passed = made + m, passed + p
        seen += sum(marks is not None for marks in series) >= 2
        peaks.append(max(_peaks(asker, series)))
    return {
        "presentations": len(all_series),
        "with_face": seen,
        "requests": made,
        "passed": passed,
        "apcer": round(passed / made, 4) if made else None,
        "apcer_without_liveness": round(seen / len(all_series), 4) if all_series else None,
        "peak_sideways": {
            "p50": round(float(np.percentile(peaks, 50)), 3) if peaks else None,
            "p95": round(float(np.percentile(peaks, 95)), 3) if peaks else None,
            "max": round(max(peaks), 3) if peaks else None,
        },
    }


def _video(path: Path, limit: int | None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or FPS
    step = max(1, round(fps / FPS))
    frames: list[np.ndarray] = []
    index = 0
    while limit is None or len(frames) < limit:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(image)
        index += 1
    capture.release()
    return frames


def _photos(faces: Path, east_asian: Path | None, quick: bool) -> list[Path]:
    photos = sorted(p for p in (faces / "people").glob("*/*") if p.suffix in (".jpg", ".png"))
    if east_asian is not None:
        photos += sorted((east_asian / "nuaa_printed_photo_attacks").glob("*/*.jpg"))
        photos += sorted((east_asian / "nuaa_webcam").glob("*/*.jpg"))[::8]
    return photos[:: max(1, len(photos) // 3)] if quick else photos


LIVENESS_STEPS = ("photos held up and propped", "the videos", "head-turn requests and attacks")
"""What :func:`run_liveness_benchmark` tells ``step`` as it goes."""


def run_liveness_benchmark(
    engine: FaceEngine, settings: LivenessSection, faces: Path, east_asian: Path | None,
    quick: bool, step: Callable[[str], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """All figures as one JSON-ready dict (see the module docstring); ``step`` is told what
    begins (:data:`LIVENESS_STEPS`)."""
    tell = step or (lambda _name: None)
    started = time.perf_counter()
    asker = HeadTurnLiveness(settings.model_copy(update={"lockout_s": 0.0}))
    # Thousands of simulated requests fail by design; their log lines would drown the output.
    logging.getLogger("terminal.face.liveness").setLevel(logging.WARNING)
    held: list[Series] = []
    propped: list[Series] = []
    frames = 30 if quick else 90
    tell(LIVENESS_STEPS[0])
    for seed, photo in enumerate(_photos(faces, east_asian, quick)):
        image = cv2.imread(str(photo))
        if image is None:
            continue
        held.append(landmark_series(engine, hand_held_photo(image, frames, FPS, seed)))
        propped.append(landmark_series(engine, still_photo(image, frames // 2, seed)))
    limit = 60 if quick else None
    tell(LIVENESS_STEPS[1])
    video = faces / "video"
    replay = landmark_series(engine, _video(video / "phone_pair_replay.mp4", limit))
    real = {
        name: landmark_series(engine, _video(video / f"{name}.mp4", limit))
        for name in ("phone_pair_real", "webcam_glasses_blinks", "selfie_talking",
                     "studio_headshot_a", "studio_headshot_b")
    }  # fmt: skip
    bona_fide = {}
    tell(LIVENESS_STEPS[2])
    for name, series in real.items():
        made, passed = _requests(asker, series)
        left, right = _peaks(asker, series)
        bona_fide[name] = {
            "frames": len(series),
            "requests": made,
            "passed": passed,
            "peak_sideways_left": left,
            "peak_sideways_right": right,
        }
    attacks = {
        "hand_held_photo": _summary(asker, held),
        "still_photo": _summary(asker, propped),
        "screen_replay": _summary(asker, [replay]),
    }
    head_turn_apcer = {kind: figures["apcer"] for kind, figures in attacks.items()}
    return {
        "settings": settings.model_dump(),
        "quick": quick,
        "attacks": attacks,
        "bona_fide_unprompted": bona_fide,
        "passive_stage": passive_stage_figures(engine, faces, east_asian, head_turn_apcer, quick),
        "first_frame_to_checkin": run_checkin_time_benchmark(engine, faces, quick),
        "seconds": round(time.perf_counter() - started, 1),
    }
