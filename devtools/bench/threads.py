"""``kiosk bench threads``: OpenCV's and OpenBLAS's thread counts against the libraries' defaults.

The recognition work of a frame (detect, embed the two largest faces, match each against a
gallery) is measured in a child Python process per setting: ``cv2.setNumThreads`` in
:data:`CV_THREADS` (``default``: not called) and the BLAS threads in :data:`BLAS_THREADS`
(``default``: not set; else ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` in the child's
environment, which OpenBLAS reads once, when numpy is imported; threadpoolctl is not a
dependency). Each child decodes the video's frames first, warms up, then reports the process's
user+sys CPU seconds and the wall seconds per frame, and the CPU milliseconds per match. Every
setting runs alone and, with ``contention``, again beside that many busy processes (one
spinning Python process per core by default: the kiosk's browser, sync and web display compete
for the cores of a real board). The naive baseline is the libraries' defaults, measured in the
same run; ratios are to it, in the same condition. Figures are only comparable within a run.

``python -m devtools.bench.threads --child ...`` is the child; it prints its figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.errors import KioskError

VIDEO = Path("video/webcam_glasses_blinks.mp4")
"""A webcam at arm's length, as at a kiosk (512x480, one face)."""
CV_THREADS: tuple[int | None, ...] = (None, 1, 2, 4)
BLAS_THREADS: tuple[int | None, ...] = (None, 1, 2)
GALLERY = 10_000
"""Templates matched against (the person's own among random unit vectors): a large site."""
FRAMES, QUICK_FRAMES = 60, 6
WARMUP_FRAMES = 3
MAX_FACES = 2
"""As the kiosk: only the two largest faces are embedded (terminal.face.identify)."""

METHOD = {
    "work": "Per frame, as the pipeline: BGR->RGB, engine.detect (configured min_face_px and"
    " detect_scale), engine.encode of the two largest faces, Matcher.identify of each against"
    " a gallery of the video's first face plus random unit templates (gallery_templates).",
    "processes": "One child Python process per setting and condition, one after the other."
    " cv_threads: cv2.setNumThreads(n) right after importing cv2 (default: not called);"
    " blas_threads: OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=n in the child's environment before"
    " numpy is imported (default: unset).",
    "figures": "After warmup_frames, over the video's next frames (decoded beforehand):"
    " cpu_s_per_frame = the child's user+sys CPU (getrusage, all its threads) per frame;"
    " wall_s_per_frame; match_cpu_ms = CPU milliseconds per Matcher.identify call.",
    "contention": "The same again while `contention_processes` busy Python loops run"
    " (default one per core).",
    "baseline": "cv_threads=default, blas_threads=default (the libraries' own choice), in the"
    " same condition; ratios = setting / baseline (below 1: cheaper or faster).",
}


def _label(threads: int | None) -> int | str:
    return "default" if threads is None else threads


def run_child(
    faces: Path, cv_threads: int | None, frames: int, gallery: int, rec_json: str
) -> dict[str, Any]:
    """The figures for one setting (run in the child, its BLAS environment already set)."""
    import cv2
    import numpy as np

    if cv_threads is not None:
        cv2.setNumThreads(cv_threads)
    from terminal.checkin.engines import create_engine
    from terminal.config import Config, RecognitionSection
    from terminal.face.matcher import Matcher

    recognition = RecognitionSection.model_validate_json(rec_json)
    engine = create_engine(Config.model_validate({"recognition": recognition.model_dump()}))
    images = _decode(faces / VIDEO, WARMUP_FRAMES + frames)
    rgbs = [cv2.cvtColor(image, cv2.COLOR_BGR2RGB) for image in images]
    own = None
    for rgb in rgbs:
        boxes = engine.detect(rgb, recognition.min_face_px, recognition.detect_scale)
        if boxes:
            own = engine.encode(rgb, boxes[:1])[0]
            break
    if own is None:
        raise KioskError(f"{faces / VIDEO}: no face found to enroll")
    rng = np.random.default_rng(7)
    others = rng.standard_normal((gallery - 1, own.shape[0])).astype(np.float32)
    others /= np.linalg.norm(others, axis=1, keepdims=True)
    matrix = np.vstack([own[None, :].astype(np.float32), others])
    ids = ["E0"] + [f"R{i}" for i in range(gallery - 1)]
    tolerance = recognition.tolerance or engine.default_tolerance
    margin = recognition.margin if recognition.margin is not None else engine.default_margin
    matcher = Matcher(engine, matrix, ids, {"E0": "own"}, tolerance, margin)

    faces_seen = matches = 0
    match_cpu = 0.0
    cpu0 = wall0 = 0.0
    for number, rgb in enumerate(rgbs):
        if number == WARMUP_FRAMES:
            cpu0, wall0, faces_seen, matches, match_cpu = _cpu(), time.perf_counter(), 0, 0, 0.0
        boxes = engine.detect(rgb, recognition.min_face_px, recognition.detect_scale)[:MAX_FACES]
        embeddings = engine.encode(rgb, boxes) if boxes else []
        faces_seen += len(boxes)
        for embedding in embeddings:
            before = _cpu()
            matcher.identify(embedding)
            match_cpu += _cpu() - before
            matches += 1
    measured = len(rgbs) - WARMUP_FRAMES
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    return {
        "cv2_threads_in_effect": cv2.getNumThreads(),
        "frames": measured,
        "faces": faces_seen,
        "cpu_s_per_frame": cpu / measured,
        "wall_s_per_frame": wall / measured,
        "match_cpu_ms": 1000 * match_cpu / matches if matches else None,
    }


def _decode(path: Path, count: int) -> list[Any]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    images: list[Any] = []
    try:
        while len(images) < count:
            ok, image = capture.read()
            if not ok:
                break
            images.append(image)
    finally:
        capture.release()
    if len(images) <= WARMUP_FRAMES:
        raise KioskError(f"{path}: too few frames")
    return images


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(
    faces: Path,
    cv_threads: int | None,
    blas_threads: int | None,
    frames: int,
    gallery: int,
    rec_json: str,
) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(name, None)
        if blas_threads is not None:
            env[name] = str(blas_threads)
    command = [sys.executable, "-m", "devtools.bench.threads", "--child", "--faces", str(faces)]
    command += ["--frames", str(frames), "--gallery", str(gallery), "--recognition", rec_json]
    if cv_threads is not None:
        command += ["--cv-threads", str(cv_threads)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise KioskError(f"bench threads (cv {cv_threads}, blas {blas_threads}) failed: {last}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class BusyProcesses:
    """``count`` Python processes spinning on a core each, while the ``with`` block runs."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> BusyProcesses:
        for _ in range(self.count):
            busy = [sys.executable, "-c", "while True: pass"]
            self.processes.append(subprocess.Popen(busy))
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()


def _with_ratios(runs: list[dict[str, Any]], condition: str) -> None:
    base = next(r[condition] for r in runs if r["cv_threads"] == r["blas_threads"] == "default")
    for run in runs:
        figures = run[condition]
        for key in ("cpu_s_per_frame", "wall_s_per_frame", "match_cpu_ms"):
            ours, theirs = figures.get(key), base.get(key)
            ratio = ours / theirs if ours is not None and theirs else None
            figures[f"{key.removesuffix('_per_frame')}_ratio_to_default"] = ratio


def run_threads_benchmark(
    faces: Path,
    recognition_json: str,
    quick: bool,
    contention: int | None,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every setting alone and (``contention`` > 0) beside busy processes: one JSON object;
    ``step`` is told each run as it begins."""
    tell = step or (lambda _name: None)
    frames = QUICK_FRAMES if quick else FRAMES
    gallery = 1_000 if quick else GALLERY
    busy = (os.cpu_count() or 1) if contention is None else contention
    cv_choices = (None, 1) if quick else CV_THREADS
    blas_choices = (None, 1) if quick else BLAS_THREADS
    conditions = ["alone"] + (["contended"] if busy > 0 else [])
    runs: list[dict[str, Any]] = [
        {"cv_threads": _label(cv), "blas_threads": _label(blas)}
        for cv in cv_choices
        for blas in blas_choices
    ]
    for condition in conditions:
        with BusyProcesses(busy if condition == "contended" else 0):
            if condition == "contended":
                time.sleep(0.5)  # let them get going
            for run, (cv, blas) in zip(
                runs, [(c, b) for c in cv_choices for b in blas_choices], strict=True
            ):
                tell(f"{condition}: cv {_label(cv)}, blas {_label(blas)}")
                run[condition] = _child(faces, cv, blas, frames, gallery, recognition_json)
        _with_ratios(runs, condition)
    return {
        "host": {"cpu_count": os.cpu_count(), "machine": platform.machine()},
        "quick": quick,
        "method": METHOD,
        "settings": {
            "video": str(VIDEO),
            "frames": frames,
            "warmup_frames": WARMUP_FRAMES,
            "gallery_templates": gallery,
            "engine": json.loads(recognition_json)["engine"],
            "contention_processes": busy,
        },
        "baseline": {"cv_threads": "default", "blas_threads": "default"},
        "conditions": conditions,
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """The child: one setting's figures as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m devtools.bench.threads")
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--cv-threads", type=int, default=None)
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--gallery", type=int, default=GALLERY)
    parser.add_argument("--recognition", required=True)
    args = parser.parse_args(argv)
    result = run_child(args.faces, args.cv_threads, args.frames, args.gallery, args.recognition)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
