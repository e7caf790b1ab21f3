"""Replay scenes built at test time: blank frames and frames with a real QR badge in them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from terminal.badges import write_badge_png


def blank_frame(seed: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A grey wall with sensor noise (different for every seed)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(140, 4, (height, width, 3)), 0, 255).astype(np.uint8)


def badge_scene(directory: Path, person_ids: list[str], frames_per_badge: int = 6) -> Path:
    """A folder of PNG frames: blank frames, then each badge held up for a few frames."""
    directory.mkdir(parents=True, exist_ok=True)
    frames: list[np.ndarray] = [blank_frame(i) for i in range(3)]
    for number, person_id in enumerate(person_ids):
        png = directory.parent / f"badge-{person_id}.png"
        write_badge_png(person_id, png)
        badge = cv2.imread(str(png))
        assert badge is not None
        badge = cv2.resize(badge, (240, 240 * badge.shape[0] // badge.shape[1]))
        for step in range(frames_per_badge):
            frame = blank_frame(100 * (number + 1) + step)
            top, left = 100 + 2 * step, 180 + 3 * step
            frame[top : top + badge.shape[0], left : left + badge.shape[1]] = badge
            frames.append(frame)
        frames += [blank_frame(1000 * (number + 1) + i) for i in range(3)]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(directory / f"{index:04d}.png"), frame)
    return directory
