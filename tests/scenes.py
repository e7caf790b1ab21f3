"""Replay scenes built at test time: blank frames and frames with real QR codes in them."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import segno

from terminal.checkin.badges import write_badge_png


def blank_frame(seed: int, width: int = 640, height: int = 480) -> np.ndarray:
    """A grey wall with sensor noise (different for every seed)."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(140, 4, (height, width, 3)), 0, 255).astype(np.uint8)


def badge_scene(directory: Path, person_ids: list[str], frames_per_badge: int = 6) -> Path:
    """A folder of PNG frames: blank frames, then each badge held up for a few frames."""
    directory.mkdir(parents=True, exist_ok=True)
    badges = []
    for person_id in person_ids:
        png = directory.parent / f"badge-{person_id}.png"
        write_badge_png(person_id, png)
        badge = cv2.imread(str(png))
        assert badge is not None
        badges.append(cv2.resize(badge, (240, 240 * badge.shape[0] // badge.shape[1])))
    return _held_up(directory, badges, frames_per_badge, top=100, left=180)


def code_scene(directory: Path, texts: list[str], frames_per_code: int = 6) -> Path:
    """Like :func:`badge_scene` for any QR texts (signed codes): as a phone screen would show
    them, 5 px per module, level M; frame ``3 + k * (frames_per_code + 3)`` starts text ``k``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    codes = []
    for text in texts:
        buffer = io.BytesIO()
        segno.make_qr(text, error="m").save(buffer, kind="png", scale=5, border=4)
        code = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
        assert code is not None and code.shape[0] <= 400
        codes.append(code)
    return _held_up(directory, codes, frames_per_code, top=40, left=150)


def _held_up(
    directory: Path, images: list[np.ndarray], frames_each: int, top: int, left: int
) -> Path:
    """Write the scene: 3 blank frames, then each image held up (moving a little) for
    ``frames_each`` frames followed by 3 blank frames."""
    frames: list[np.ndarray] = [blank_frame(i) for i in range(3)]
    for number, image in enumerate(images):
        for step in range(frames_each):
            frame = blank_frame(100 * (number + 1) + step)
            y, x = top + 2 * step, left + 3 * step
            frame[y : y + image.shape[0], x : x + image.shape[1]] = image
            frames.append(frame)
        frames += [blank_frame(1000 * (number + 1) + i) for i in range(3)]
    for index, frame in enumerate(frames):
        cv2.imwrite(str(directory / f"{index:04d}.png"), frame)
    return directory
