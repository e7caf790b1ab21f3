"""First frame to committed check-in, with the passive liveness stage and with the head turn.

Each real video of ``../shared/faces/video`` is one person walking up to a kiosk. The person is
enrolled from the video's first frame; then, from several start points (every
:data:`START_EVERY_S` seconds), a fresh pipeline (the kiosk's own, with a real kiosk.db in a
temporary folder) is shown the video as a camera at the video's frame rate would: a frame that
arrives while the previous one is still being processed is dropped, and each frame costs what
``Pipeline.process`` measured on this machine (thread CPU time, so other load does not count).
The time to check-in is from the first frame shown to the end of processing the frame whose
check-in was committed.

``passive`` runs ``[liveness] mode = "passive"`` with the uncalibrated defaults (the strictest
passive setting: a calibrated kiosk passes more people without a request); ``strict`` runs the
head-turn request for everyone, the behaviour before the passive stage, in the same run. A
recording cannot answer a request, so under ``strict`` a person is checked in only when the
video happens to turn the asked way in time (the direction is drawn with a fixed seed).
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devtools.sample_consent import SAMPLE_CONSENT
from drivers.camera.base import Frame
from drivers.face.base import FaceEngine
from terminal.checkin.pipeline import build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.face.liveness import HeadTurnLiveness
from terminal.store.database import open_database
from terminal.store.outbox import Outbox

VIDEOS = (
    "studio_headshot_a",
    "studio_headshot_b",
    "webcam_glasses_blinks",
    "selfie_talking",
    "phone_pair_real",
)
START_EVERY_S = 2.0
WATCH_S = 8.0
"""How long a person is watched from a start point before counting them as not checked in."""
EPOCH = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Visit:
    """One simulated walk-up: how long until the check-in (None: none within :data:`WATCH_S`),
    whether a head turn was asked, CPU spent."""

    seconds: float | None
    asked: bool
    cpu_s: float


def _frames(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 30.0)
    images: list[np.ndarray] = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            images.append(image)
    finally:
        capture.release()
    return images, fps


def _visit(
    config: Config, engine: FaceEngine, images: list[np.ndarray], fps: float, seed: int
) -> Visit:
    """Show ``images`` to a fresh pipeline as a camera at ``fps`` would (see the module)."""
    db = open_database(config.database_path)
    try:
        outbox = Outbox(db, config.terminal.id, config.terminal.site)
        asker = HeadTurnLiveness(config.liveness, random.Random(seed))
        pipeline = build_pipeline(config, outbox, lambda: True, engine=engine, liveness=asker)
        busy_until = 0.0
        asked = False
        cpu_total = 0.0
        for index, image in enumerate(images):
            arrives = index / fps
            if arrives > WATCH_S:
                break
            if arrives < busy_until:
                continue  # the camera's frame is dropped: the pipeline is still busy
            frame = Frame(image, index, 1000.0 + arrives, EPOCH + timedelta(seconds=arrives))
            started = time.thread_time()
            decisions = pipeline.process(frame)
            cost = time.thread_time() - started
            cpu_total += cost
            busy_until = arrives + cost
            asked = asked or any(d.kind == "challenge" for d in decisions)
            if any(d.kind == "checked_in" for d in decisions):
                return Visit(round(busy_until, 3), asked, round(cpu_total, 3))
        return Visit(None, asked, round(cpu_total, 3))
    finally:
        db.conn.close()


def _summary(visits: list[Visit]) -> dict[str, Any]:
    done = sorted(v.seconds for v in visits if v.seconds is not None)
    unasked = sorted(v.seconds for v in visits if v.seconds is not None and not v.asked)
    return {
        "visits": len(visits),
        "checked_in": len(done),
        "checked_in_without_request": len(unasked),
        "asked_to_turn": sum(v.asked for v in visits),
        "seconds_p50": round(float(np.median(done)), 3) if done else None,
        "seconds_p50_without_request": round(float(np.median(unasked)), 3) if unasked else None,
        "seconds_max": round(done[-1], 3) if done else None,
        "cpu_s_per_visit": round(float(np.mean([v.cpu_s for v in visits])), 3) if visits else None,
    }


def run_checkin_time_benchmark(engine: FaceEngine, faces: Path, quick: bool) -> dict[str, Any]:
    """Per mode (``passive``, ``strict``) and per video: visits, check-ins, p50 seconds."""
    logging.getLogger("terminal").setLevel(logging.WARNING)
    videos = VIDEOS[:2] if quick else VIDEOS
    modes: dict[str, dict[str, Any]] = {"passive": {}, "strict": {}}
    every: dict[str, list[Visit]] = {"passive": [], "strict": []}
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-checkin-") as scratch:
        for name in videos:
            images, fps = _frames(faces / "video" / f"{name}.mp4")
            enroll_photo = Path(scratch) / f"{name}.png"
            cv2.imwrite(str(enroll_photo), images[0])
            starts = range(0, max(1, int(len(images) / fps - 1.0)), int(START_EVERY_S))
            for mode in modes:
                visits = []
                for number, start_s in enumerate(starts):
                    data = Path(scratch) / f"{name}-{mode}-{number}"
                    config = Config.model_validate({
                        "storage": {"data_dir": data}, "qr": {"enabled": False},
                        "liveness": {"mode": mode},
                    })  # fmt: skip
                    db = open_database(config.database_path)
                    enroll(db, engine, "E1", name, [enroll_photo], consent=SAMPLE_CONSENT)
                    db.conn.close()
                    first = int(start_s * fps)
                    visits.append(_visit(config, engine, images[first:], fps, seed=number))
                modes[mode][name] = _summary(visits)
                every[mode].extend(visits)
    return {
        "quick": quick,
        "watch_s": WATCH_S,
        "start_every_s": START_EVERY_S,
        "passive": {"all": _summary(every["passive"]), "per_video": modes["passive"]},
        "strict": {"all": _summary(every["strict"]), "per_video": modes["strict"]},
    }
