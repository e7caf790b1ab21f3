"""``kiosk bench recognition``: the kiosk pipeline against the naive webcam loop, in one run.

Each side (:mod:`devtools.bench.sides`) runs in its own child Python process, one after the
other, so its peak RSS and CPU time are its own and the two never compete for the cores:
``python -m devtools.bench.recognition --side pipeline|naive ...`` prints that side's figures
as JSON. The parent picks the photos (one per person, face at least
:data:`MIN_APPEARANCE_FACE_PX` tall once fitted into a frame), runs both children and adds the
host and the method. Figures are only comparable within one run: the machine may be busy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.errors import KioskError
from devtools.bench.measure import (
    Scene,
    measure_fps,
    measure_idle,
    measure_latency,
    peak_rss_mb,
)
from devtools.bench.sides import (
    NaiveSide,
    PipelineSide,
    random_gallery,
    time_per_probe_ms,
)
from drivers.face.base import FaceEngine
from terminal.checkin.engines import create_engine
from terminal.config import Config, RecognitionSection

CLIP = Path("video/short_hamilton_clip.mp4")
CLIP_FPS = 29.97
CLIP_PERSON = "lin_manuel_miranda"
FIT_W, FIT_H = 560, 420
MIN_APPEARANCE_FACE_PX = 100


@dataclass(frozen=True)
class BenchSettings:
    """How much of everything is measured (``--quick`` shrinks it all for a CI smoke test)."""

    clip_frames: int | None
    people: int | None
    appearances: int
    idle_gap_s: float
    face_timeout_s: float
    idle_s: float
    gallery_sizes: tuple[int, ...]
    match_budget_s: float


FULL = BenchSettings(None, None, 10, 5.0, 10.0, 30.0, (1_000, 10_000, 100_000), 1.0)
QUICK = BenchSettings(8, 3, 2, 1.0, 8.0, 2.0, (100, 1_000), 0.05)

METHOD = {
    "sides": "Each side runs in its own child Python process, one after the other.",
    "pipeline": "terminal.checkin.pipeline as deployed with the [recognition] settings shown"
    " (presence"
    " gating, min_face_px, confirm_frames, QR decoded on every frame); own SQLite outbox.",
    "naive": "face_recognition's facerec_from_webcam.py: face_locations (HOG, upsample 1) on"
    " every whole frame, face_encodings for every face, face_distance to the gallery, nearest"
    " accepted within 0.6 (face_recognition's default; the kiosk uses 0.4, see"
    " docs/recognition.md); one"
    " check-in per person per 60 s into its own SQLite outbox; no gating, no confirmation.",
    "gallery": "One photo per person (the first whose single face is >= 100 px once fitted in"
    " 560x420), enrolled by each side its own way.",
    "fps": "Every frame of video/short_hamilton_clip.mp4 (640x360) replayed with realtime=False"
    " (nothing dropped, decoding included); frames / wall seconds.",
    "latency": "Per appearance a fresh recogniser gets a live 15 fps stream of 640x480 frames in"
    " real time: idle_gap_s of an empty noisy wall, then an enrolled person's photo pasted and"
    " moved a few px every frame for at most face_timeout_s. When processing lags the newest"
    " captured frame is taken and older ones dropped, as from a camera. Latency = commit"
    " returned minus capture time of the first frame showing the face (dropped or not); p50"
    " and p95 over committed appearances; missed = never checked in. cpu_s_per_checkin ="
    " median user+sys CPU seconds of the side's process from the face's first frame to the"
    " commit.",
    "idle_cpu": "A static noisy wall (16 noise frames cycled) at 15 fps in real time for idle_s;"
    " getrusage user+sys CPU of the side's process / wall time.",
    "matching": "Random unit float32 128-d templates (same seed both sides), one per person;"
    " median time per random probe. pipeline: Matcher.identify; naive: face_distance on the"
    " template array (not the example's Python list) + argmin + threshold.",
    "peak_rss": "Peak RSS (VmHWM; ru_maxrss elsewhere than Linux) of the side's own process"
    " after the fps, latency and idle phases, before the matching galleries exist.",
}


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise KioskError(f"{path}: cannot read this image")
    return image


def run_side(side: str, faces: Path, workdir: Path, settings: BenchSettings, rec: str) -> dict:
    """Every figure for one side (run in that side's own process)."""
    photos = {pid: Path(path) for pid, path in json.loads((workdir / "photos.json").read_text())}
    recogniser_side: PipelineSide | NaiveSide
    if side == "pipeline":
        recognition = RecognitionSection.model_validate_json(rec)
        recogniser_side = PipelineSide(workdir / side, recognition, photos)
    else:
        recogniser_side = NaiveSide(workdir / side, photos)
    scene = Scene()
    images = [(pid, _read(path)) for pid, path in photos.items()]
    latency = measure_latency(
        recogniser_side.fresh,
        scene,
        images,
        settings.appearances,
        settings.idle_gap_s,
        settings.face_timeout_s,
    )
    result: dict[str, Any] = {
        "fps": measure_fps(recogniser_side.fresh(), faces / CLIP, CLIP_FPS, settings.clip_frames),
        "latency_s": latency,
        "idle": measure_idle(recogniser_side.fresh(), scene, settings.idle_s),
        "peak_rss_mb": peak_rss_mb(),
    }
    result["matching_ms_per_probe"] = {
        str(size): time_per_probe_ms(
            recogniser_side.matching_timer(random_gallery(size)), settings.match_budget_s
        )
        for size in settings.gallery_sizes
    }
    return result


def _one_large_face(engines: list[FaceEngine], image: np.ndarray) -> bool:
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    for engine in engines:
        boxes = engine.detect(rgb, 40)  # as enrollment looks: a second, smaller face counts
        if len(boxes) != 1 or boxes[0][2] - boxes[0][0] < MIN_APPEARANCE_FACE_PX:
            return False
    return True


def choose_photos(
    faces: Path, limit: int | None, out: Path, engines: list[FaceEngine]
) -> list[tuple[str, str]]:
    """One fitted photo per person (the clip's actor first), written as PNGs under ``out``.

    A photo qualifies when every one of ``engines`` finds exactly one face in it, at least
    :data:`MIN_APPEARANCE_FACE_PX` tall, so both sides can enroll and recognise it.
    """
    folders = sorted((faces / "people").iterdir(), key=lambda p: (p.name != CLIP_PERSON, p.name))
    chosen: list[tuple[str, str]] = []
    out.mkdir(parents=True, exist_ok=True)
    for folder in (f for f in folders if f.is_dir()):
        for photo in sorted(folder.iterdir()):
            image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
            if image is None:
                continue
            scale = min(FIT_W / image.shape[1], FIT_H / image.shape[0])
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if _one_large_face(engines, image):
                path = out / f"{folder.name}.png"
                cv2.imwrite(str(path), image)
                chosen.append((folder.name, str(path)))
                break
        if limit is not None and len(chosen) >= limit:
            break
    return chosen


def _run_child(side: str, faces: Path, workdir: Path, quick: bool, rec: str) -> dict:
    command = [sys.executable, "-m", "devtools.bench.recognition", "--side", side]
    command += ["--faces", str(faces), "--workdir", str(workdir), "--recognition", rec]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(command + ["--quick"] * quick, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise KioskError(f"the {side} side of the benchmark failed: {last}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _engines(recognition: RecognitionSection) -> list[FaceEngine]:
    """The naive side's detector (dlib HOG) and the pipeline's engine, when another."""
    from drivers.face.dlib_engine import DlibEngine

    engines: list[FaceEngine] = [DlibEngine()]
    if recognition.engine != "dlib":
        config = Config.model_validate({"recognition": recognition.model_dump()})
        engines.append(create_engine(config))
    return engines


RECOGNITION_STEPS = ("choosing photos", "the pipeline side", "the naive side")
"""What :func:`run_benchmark` tells ``step`` as it goes."""


def run_benchmark(
    faces: Path,
    quick: bool,
    recognition: RecognitionSection,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every figure for both sides, with the host and the method, as one JSON-ready dict;
    ``step`` is told each of :data:`RECOGNITION_STEPS` as it begins."""
    tell = step or (lambda _name: None)
    if not (faces / CLIP).is_file() or not (faces / "people").is_dir():
        raise KioskError(f"{faces}: not a face data folder (needs people/ and {CLIP})")
    settings = QUICK if quick else FULL
    host = {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_at_start": os.getloadavg()[0],
    }
    rec = recognition.model_dump_json()
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        workdir = Path(tmp)
        tell(RECOGNITION_STEPS[0])
        photos = choose_photos(faces, settings.people, workdir / "photos", _engines(recognition))
        if not photos:
            raise KioskError(f"{faces}/people: no photo with one large enough face")
        (workdir / "photos.json").write_text(json.dumps(photos))
        sides = {}
        for side, name in (("pipeline", RECOGNITION_STEPS[1]), ("naive", RECOGNITION_STEPS[2])):
            tell(name)
            sides[side] = _run_child(side, faces, workdir, quick, rec)
    result = {
        "host": host,
        "quick": quick,
        "settings": asdict(settings),
        "method": METHOD,
        "people": [person for person, _ in photos],
        "pipeline_recognition": recognition.model_dump(mode="json"),
        **sides,
    }
    return _rounded(result)


def _rounded(value: Any) -> Any:
    """``value`` with every float rounded to 4 significant digits (JSON stays readable)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(item) for item in value]
    return value


def _child_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One side of kiosk bench recognition.")
    parser.add_argument("--side", choices=["pipeline", "naive"], required=True)
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--recognition", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    print(json.dumps(run_side(args.side, args.faces, args.workdir, settings, args.recognition)))


if __name__ == "__main__":
    _child_main()
