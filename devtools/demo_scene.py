"""The built-in demo scene: a face walking up to the kiosk, then a QR badge held up.

Everything is made from what this package ships (``devtools/data/eileen_collins.png``: the
head of the public-domain NASA portrait of Eileen Collins, cut once from scikit-image's
``astronaut.png``; see ``devtools/data/README.txt``) and a badge rendered here; nothing is
downloaded, and neither scikit-image nor scipy is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from common.errors import KioskError
from terminal.checkin.badges import write_badge_png

FRAME_W, FRAME_H = 640, 480
FACE_PHOTO = "data/eileen_collins.png"
"""Package data of ``devtools``: rows 0-279, columns 90-349 of ``skimage.data.astronaut()``
(her head only), losslessly, as BGR PNG."""


@dataclass(frozen=True)
class DemoScene:
    """Paths of the generated scene and who appears in it."""

    frames_dir: Path
    enroll_photo: Path
    face_person: tuple[str, str]
    badge_person: tuple[str, str]
    frame_count: int


def _face_photo() -> np.ndarray:
    """The demo's face (BGR), from the package data."""
    data = resources.files("devtools").joinpath(FACE_PHOTO).read_bytes()
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise KioskError(f"devtools/{FACE_PHOTO}: cannot decode the demo's face photo")
    face: np.ndarray = image
    return face


def _background(index: int) -> np.ndarray:
    """A plain lobby wall with a little sensor noise, different in every frame."""
    gradient = np.linspace(170, 120, FRAME_H, dtype=np.float32)[:, None, None]
    wall = np.repeat(np.repeat(gradient, FRAME_W, axis=1), 3, axis=2)
    wall[..., 0] += 10
    noise = np.random.default_rng(index).normal(0, 3, wall.shape).astype(np.float32)
    return np.clip(wall + noise, 0, 255).astype(np.uint8)


def _paste(frame: np.ndarray, patch: np.ndarray, centre_x: int, centre_y: int) -> None:
    h, w = patch.shape[:2]
    top = max(0, centre_y - h // 2)
    left = max(0, centre_x - w // 2)
    bottom = min(FRAME_H, top + h)
    right = min(FRAME_W, left + w)
    frame[top:bottom, left:right] = patch[: bottom - top, : right - left]


def build_scene(directory: Path) -> DemoScene:
    """Write the scene's frames (PNG, 640x480) and the enrollment photo under ``directory``."""
    frames_dir = directory / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    head = _face_photo()
    enroll_photo = directory / "enroll_eileen_collins.png"
    cv2.imwrite(str(enroll_photo), head)

    badge_person = ("E1002", "李四")
    badge_png = directory / "badge_E1002.png"
    write_badge_png(badge_person[0], badge_png, badge_person[1])
    badge = cv2.imread(str(badge_png))
    if badge is None:
        raise KioskError(f"{badge_png}: could not render the demo badge")
    badge = cv2.resize(badge, (220, 220 * badge.shape[0] // badge.shape[1]))

    frames: list[np.ndarray] = []
    frames += [_background(i) for i in range(10)]
    steps = 30
    for step in range(steps):  # walking up: growing, drifting to the centre, slightly tilted
        scale = 0.75 + 0.5 * step / steps
        patch = cv2.resize(head, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        angle = 4.0 * np.sin(step / 5)
        matrix = cv2.getRotationMatrix2D((patch.shape[1] / 2, patch.shape[0] / 2), angle, 1.0)
        patch = cv2.warpAffine(
            patch, matrix, (patch.shape[1], patch.shape[0]), borderMode=cv2.BORDER_REPLICATE
        )
        frame = _background(100 + step)
        _paste(frame, patch, 460 - 140 * step // steps, 250)
        frames.append(frame)
    frames += [_background(200 + i) for i in range(10)]
    for step in range(20):  # a badge held up, moving a little
        frame = _background(300 + step)
        _paste(frame, badge, 320 + 6 * (step % 4), 230 + 3 * (step % 3))
        frames.append(frame)
    frames += [_background(400 + i) for i in range(10)]

    for index, frame in enumerate(frames):
        cv2.imwrite(str(frames_dir / f"frame_{index:04d}.png"), frame)
    return DemoScene(
        frames_dir=frames_dir,
        enroll_photo=enroll_photo,
        face_person=("E1001", "Eileen Collins"),
        badge_person=badge_person,
        frame_count=len(frames),
    )
