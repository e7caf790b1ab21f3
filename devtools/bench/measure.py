"""Measuring one recogniser: frames per second on a clip, latency on a live stream, idle CPU.

The live stream (:func:`play_live`) behaves like a camera at :data:`LIVE_FPS`: frames are
captured on time whether or not the recogniser keeps up, and when it is free it gets the newest
one; the rest are dropped. Frames are made here (:class:`Scene`): an empty noisy wall, and a
photo held in front of it and moved a little every frame.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from devtools.bench.sides import Recogniser
from drivers.camera import ReplayCamera
from drivers.camera.base import Frame

FRAME_W, FRAME_H = 640, 480
LIVE_FPS = 15.0
WALLS = 16
"""Distinct noise frames the empty scene cycles through."""


def _wall(seed: int) -> np.ndarray:
    """A plain wall with a vertical light gradient and sensor noise (different per seed)."""
    gradient = np.linspace(170, 120, FRAME_H, dtype=np.float32)[:, None, None]
    wall = np.broadcast_to(gradient, (FRAME_H, FRAME_W, 3))
    noise = np.random.default_rng(seed).normal(0, 3, wall.shape).astype(np.float32)
    return np.clip(wall + noise, 0, 255).astype(np.uint8)


class Scene:
    """Idle frames of an empty wall, and frames with a photo held in front of it."""

    def __init__(self) -> None:
        self.walls = [_wall(seed) for seed in range(WALLS)]

    def idle(self, index: int) -> np.ndarray:
        """The empty scene at frame ``index``."""
        return self.walls[index % WALLS]

    def with_face(self, photo: np.ndarray, step: int) -> np.ndarray:
        """``photo`` pasted near the centre, moved a few pixels at every ``step``."""
        frame = self.walls[step % WALLS].copy()
        h, w = photo.shape[:2]
        top = (FRAME_H - h) // 2 + round(4 * math.sin(step / 3))
        left = (FRAME_W - w) // 2 + round(6 * math.cos(step / 4))
        frame[top : top + h, left : left + w] = photo
        return frame


@dataclass(frozen=True)
class Appearance:
    """A person walking up to an idle kiosk: ``idle_frames`` of the empty scene, then them."""

    scene: Scene
    person_id: str
    photo: np.ndarray
    idle_frames: int

    def image_at(self, index: int) -> np.ndarray:
        """Frame ``index`` of the appearance."""
        if index < self.idle_frames:
            return self.scene.idle(index)
        return self.scene.with_face(self.photo, index - self.idle_frames)

    def checked_in(self, person_ids: list[str]) -> bool:
        """Whether this person is among the check-ins committed on a frame."""
        return self.person_id in person_ids


def play_live(
    recogniser: Recogniser,
    image_at: Callable[[int], np.ndarray],
    count: int,
    done: Callable[[list[str]], bool],
    cpu_from_frame: int = 0,
) -> tuple[float, float | None, float]:
    """Feed frames ``0..count-1`` as a live camera at :data:`LIVE_FPS` would.

    Whenever the recogniser is free it gets the newest frame captured so far; older ones are
    dropped. Returns the stream's start, the time ``done`` first held (None if never) and the
    CPU seconds this process spent from frame ``cpu_from_frame`` on.
    """
    start = time.monotonic()
    last = -1
    cpu_start: float | None = None
    while True:
        now = time.monotonic()
        newest = int((now - start) * LIVE_FPS)
        if newest >= count:
            return start, None, _cpu_seconds() - (cpu_start or 0.0)
        if newest <= last:
            time.sleep(max(0.0, start + (last + 1) / LIVE_FPS - now))
            continue
        frame = Frame(image_at(newest), newest, start + newest / LIVE_FPS, datetime.now(UTC))
        last = newest
        if cpu_start is None and newest >= cpu_from_frame:
            cpu_start = _cpu_seconds()  # from the first frame that shows the face
        if done(recogniser.process(frame)):
            return start, time.monotonic(), _cpu_seconds() - (cpu_start or 0.0)


def measure_fps(
    recogniser: Recogniser, clip: Path, clip_fps: float, limit: int | None
) -> dict[str, Any]:
    """Frames per second over the clip (its first ``limit`` frames), every frame processed."""
    frames = 0
    checkins: list[str] = []
    began = time.perf_counter()
    with ReplayCamera(clip, fps=clip_fps, realtime=False) as camera:
        while (limit is None or frames < limit) and (frame := camera.read()) is not None:
            checkins += recogniser.process(frame)
            frames += 1
    seconds = time.perf_counter() - began
    return {
        "frames": frames,
        "seconds": seconds,
        "fps": frames / seconds,
        "face_work_frames": recogniser.face_work_frames,
        "checkins": checkins,
    }


def measure_latency(
    make: Callable[[], Recogniser],
    scene: Scene,
    photos: list[tuple[str, np.ndarray]],
    appearances: int,
    idle_gap_s: float,
    face_timeout_s: float,
) -> dict[str, Any]:
    """Seconds from a face's first frame to its committed check-in, over ``appearances``.

    Each appearance: ``idle_gap_s`` of the empty scene, then the next photo for at most
    ``face_timeout_s`` (or until that person's check-in is committed).
    """
    idle_frames = round(idle_gap_s * LIVE_FPS)
    count = idle_frames + round(face_timeout_s * LIVE_FPS)
    samples: list[float] = []
    cpu_per_checkin: list[float] = []
    for number in range(appearances):
        person_id, photo = photos[number % len(photos)]
        appearance = Appearance(scene, person_id, photo, idle_frames)
        start, committed, cpu = play_live(
            make(), appearance.image_at, count, appearance.checked_in, idle_frames
        )
        if committed is not None:
            samples.append(committed - (start + idle_frames / LIVE_FPS))
            cpu_per_checkin.append(cpu)
    return {
        "cpu_s_per_checkin": float(np.median(cpu_per_checkin)) if cpu_per_checkin else None,
        "appearances": appearances,
        "committed": len(samples),
        "missed": appearances - len(samples),
        "p50": float(np.percentile(samples, 50)) if samples else None,
        "p95": float(np.percentile(samples, 95)) if samples else None,
        "samples": samples,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_idle(recogniser: Recogniser, scene: Scene, seconds: float) -> dict[str, Any]:
    """CPU time spent on a static scene with nobody in view, fed at :data:`LIVE_FPS`."""
    cpu, began = _cpu_seconds(), time.monotonic()
    play_live(recogniser, scene.idle, round(seconds * LIVE_FPS), lambda ids: False)
    cpu, wall = _cpu_seconds() - cpu, time.monotonic() - began
    return {
        "seconds": wall,
        "face_work_frames": recogniser.face_work_frames,
        "cpu_s": cpu,
        "cpu_s_per_min": cpu / wall * 60,
        "percent_of_one_core": cpu / wall * 100,
    }


def peak_rss_mb() -> float:
    """This process's own peak resident set size so far, in MiB.

    On Linux this is ``VmHWM`` from /proc/self/status: ``ru_maxrss`` of a child process also
    counts the parent's RSS at fork time (Linux carries it over exec), so it would not be the
    child's own figure. Elsewhere ``ru_maxrss`` is used.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024
