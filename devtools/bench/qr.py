"""``kiosk bench qr``: pyzbar (ZBar) against zxing-cpp on the same generated frames.

Badges are rendered at test time into 640x480 camera-like frames under the conditions a kiosk
sees: small codes far from the camera, focus and motion blur, a tilted phone, low contrast,
JPEG artefacts, and empty frames (QR decoding runs on every frame, so its idle cost matters).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import segno

from drivers.qr.base import QrDecoder
from terminal.checkin.badges import badge_payload

FRAME_W, FRAME_H = 640, 480
Condition = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _code_image(text: str, module_px: int) -> np.ndarray:
    qr = segno.make_qr(text, error="m")
    matrix = np.array(list(qr.matrix_iter(scale=1, border=4)), dtype=np.uint8)
    image = np.where(matrix == 1, 0, 255).astype(np.uint8)
    return cv2.resize(image, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)


def _frame(code: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    frame = np.clip(rng.normal(150, 6, (FRAME_H, FRAME_W)), 0, 255).astype(np.uint8)
    h, w = code.shape
    top = int(rng.integers(0, max(1, FRAME_H - h)))
    left = int(rng.integers(0, max(1, FRAME_W - w)))
    frame[top : top + h, left : left + w] = code[: FRAME_H - top, : FRAME_W - left]
    return frame


def _tilt(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    jitter = rng.uniform(40, 90, size=(4, 2)).astype(np.float32)
    src = np.array([[0, 0], [FRAME_W, 0], [FRAME_W, FRAME_H], [0, FRAME_H]], dtype=np.float32)
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float32)
    dst = src + jitter * signs
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(frame, matrix, (FRAME_W, FRAME_H), borderValue=150)


def _motion(frame: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    kernel = np.zeros((9, 9), np.float32)
    kernel[4, :] = 1 / 9
    return cv2.filter2D(frame, -1, kernel)


def _jpeg(frame: np.ndarray, _rng: np.random.Generator) -> np.ndarray:
    _, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 25])
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE))


CONDITIONS: dict[str, tuple[int, Condition]] = {
    "clean_6px_modules": (6, lambda f, _r: f),
    "small_3px_modules": (3, lambda f, _r: f),
    "tiny_2px_modules": (2, lambda f, _r: f),
    "focus_blur_sigma2": (5, lambda f, _r: cv2.GaussianBlur(f, (0, 0), 2.0)),
    "motion_blur_9px": (5, _motion),
    "tilted_phone": (5, _tilt),
    "low_contrast": (5, lambda f, _r: (f.astype(np.float32) * 0.25 + 110).astype(np.uint8)),
    "jpeg_q25": (4, _jpeg),
}


def _scenes(samples: int) -> dict[str, list[tuple[np.ndarray, str]]]:
    rng = np.random.default_rng(7)
    scenes: dict[str, list[tuple[np.ndarray, str]]] = {}
    for name, (module_px, condition) in CONDITIONS.items():
        scenes[name] = []
        for index in range(samples):
            text = badge_payload(f"E{1000 + index}")
            frame = condition(_frame(_code_image(text, module_px), rng), rng)
            scenes[name].append((frame, text))
    return scenes


def _measure(decoder: QrDecoder, scenes: dict[str, list[tuple[np.ndarray, str]]]) -> Any:
    result: dict[str, Any] = {}
    decoded_total = frames_total = 0
    for name, frames in scenes.items():
        started = time.perf_counter()
        decoded = sum(1 for frame, text in frames if text in decoder.decode(frame))
        elapsed = time.perf_counter() - started
        result[name] = {
            "decoded": decoded,
            "frames": len(frames),
            "ms_per_frame": round(1000 * elapsed / len(frames), 2),
        }
        decoded_total += decoded
        frames_total += len(frames)
    rng = np.random.default_rng(11)
    empty = [np.clip(rng.normal(150, 6, (FRAME_H, FRAME_W)), 0, 255).astype(np.uint8)] * 30
    started = time.perf_counter()
    for frame in empty:
        decoder.decode(frame)
    result["empty_frame_ms"] = round(1000 * (time.perf_counter() - started) / len(empty), 2)
    result["decode_rate"] = round(decoded_total / frames_total, 3)
    return result


def bench_qr(decoders: dict[str, QrDecoder], samples: int) -> dict[str, Any]:
    """Decode rate per condition and milliseconds per frame for every decoder, same frames."""
    scenes = _scenes(samples)
    return {
        "method": "QR badges rendered with segno into 640x480 noisy grey frames at random"
        " positions, one code per frame; conditions as named; the same frames for every"
        " decoder",
        "samples_per_condition": samples,
        "decoders": {name: _measure(decoder, scenes) for name, decoder in decoders.items()},
    }
