"""Presentation-attack videos built from a still photo: the photo held up by a hand.

A printed photo or a phone showing one moves as a flat card: shifted, turned, tilted toward
and away from the camera, brought nearer, and lit differently as it turns. These frames are
what the liveness check must refuse; they are generated, so tests and ``kiosk calibrate
liveness`` need no attack footage beyond the photos themselves.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

FRAME_SIZE = (640, 480)
"""(width, height) of the generated frames: a kiosk camera's usual VGA."""


def _card_corners(
    width: int,
    height: int,
    t: float,
    rng: np.random.Generator,
    phase: np.ndarray,
    size: tuple[int, int],
) -> np.ndarray:
    """Where the photo's corners land at time ``t`` (seconds) on a frame of ``size``."""
    frame_w, frame_h = size
    card_h = frame_h * (0.62 + 0.12 * math.sin(0.9 * t + phase[0]))
    card_w = card_h * width / height
    yaw = math.radians(22 * math.sin(1.3 * t + phase[1]))
    pitch = math.radians(16 * math.sin(1.1 * t + phase[2]))
    roll = math.radians(10 * math.sin(0.8 * t + phase[3]))
    cx = frame_w / 2 + frame_w * 0.08 * math.sin(0.7 * t + phase[4]) + rng.normal(0, 1.5)
    cy = frame_h / 2 + frame_h * 0.05 * math.sin(1.7 * t + phase[5]) + rng.normal(0, 1.5)
    corners = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], dtype=np.float64)
    corners[:, 0] *= card_w / 2
    corners[:, 1] *= card_h / 2
    rotation, _ = cv2.Rodrigues(np.array([pitch, yaw, roll]))
    points = corners @ rotation.T
    focal = frame_w * 1.1
    depth = focal + points[:, 2]
    projected = np.stack(
        [cx + focal * points[:, 0] / depth, cy + focal * points[:, 1] / depth], axis=1
    )
    return projected.astype(np.float32)


def hand_held_photo(
    photo_bgr: np.ndarray,
    n_frames: int = 45,
    fps: float = 15.0,
    seed: int = 0,
    size: tuple[int, int] = FRAME_SIZE,
) -> Iterator[np.ndarray]:
    """Frames of ``photo_bgr`` held up to the camera as a flat card moved by hand.

    The card sways, turns up to 22 degrees, tilts, rolls and changes distance; its light
    changes as it turns; the camera adds blur and sensor noise. Same seed, same frames.
    """
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * math.pi, 6)
    height, width = photo_bgr.shape[:2]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    frame_w, frame_h = size
    backdrop = np.full((frame_h, frame_w, 3), rng.integers(90, 170, 3), dtype=np.uint8)
    grain = rng.integers(0, 12, backdrop.shape, dtype=np.uint8)
    backdrop = np.asarray(cv2.add(backdrop, grain), dtype=np.uint8)
    for index in range(n_frames):
        t = index / fps
        corners = _card_corners(width, height, t, rng, phase, size)
        warp = cv2.getPerspectiveTransform(source, corners)
        gain = 1.0 + 0.25 * math.sin(1.3 * t + phase[1] + 0.5)
        lit = cv2.convertScaleAbs(photo_bgr, alpha=gain, beta=rng.normal(0, 3))
        frame = backdrop.copy()
        cv2.warpPerspective(lit, warp, size, frame, borderMode=cv2.BORDER_TRANSPARENT)
        blurred = cv2.GaussianBlur(frame, (3, 3), 0.6 + 0.4 * abs(math.sin(2.1 * t)))
        noise = rng.normal(0, 2.5, frame.shape)
        yield np.clip(blurred.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def still_photo(
    photo_bgr: np.ndarray, n_frames: int = 45, seed: int = 0, size: tuple[int, int] = FRAME_SIZE
) -> Iterator[np.ndarray]:
    """Frames of ``photo_bgr`` propped up in front of the camera, not moving: only noise."""
    rng = np.random.default_rng(seed)
    frame_w, frame_h = size
    height, width = photo_bgr.shape[:2]
    scale = min(frame_w / width, frame_h / height) * 0.8
    card = cv2.resize(photo_bgr, (int(width * scale), int(height * scale)))
    frame = np.full((frame_h, frame_w, 3), 128, dtype=np.uint8)
    y0, x0 = (frame_h - card.shape[0]) // 2, (frame_w - card.shape[1]) // 2
    frame[y0 : y0 + card.shape[0], x0 : x0 + card.shape[1]] = card
    for _ in range(n_frames):
        noise = rng.normal(0, 2.0, frame.shape)
        yield np.clip(frame.astype(np.float64) + noise, 0, 255).astype(np.uint8)
