"""A Raspberry Pi camera module (the ribbon-cable CSI cameras) through picamera2 and libcamera.

``[camera] source = "picamera2"`` (the first camera) or ``"picamera2:1"`` (camera number 1, the
order of ``rpicam-hello --list-cameras``); ``"csi"`` and ``"csi:1"`` mean the same. These
cameras have no ``/dev/videoN`` that OpenCV can read frames from: libcamera drives the sensor
and the ISP, and picamera2 is its Python interface.

picamera2 and libcamera's Python bindings come from apt (``sudo apt install python3-picamera2``
on Raspberry Pi OS); pip cannot install the bindings, which are built with the system's
libcamera. The kiosk's venv must therefore see the system's packages (``python3 -m venv
--system-site-packages``). picamera2 is imported in :meth:`Picamera2Camera.open`, never with
this module, so everything imports on a machine without it.

Frames: the main stream of a video configuration in libcamera's ``RGB888`` format, which the
Picamera2 manual describes as "24 bits per pixel, ordered [B, G, R]": OpenCV's BGR byte order,
with no conversion. The frame rate is fixed with ``FrameDurationLimits`` (both limits one frame
period, in microseconds), and each read waits for a frame captured after it was asked for
(``queue=False``), so the pipeline never works on a stale frame.

Tested here only against a stand-in ``picamera2`` module (``tests/unit/test_picamera2_camera.py``):
no Pi camera was attached to the machines that built this. The calls are the ones picamera2's
manual and source describe; a real camera may pick a nearby size (libcamera aligns it), which
the log line at open reports.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np

from drivers.camera.base import Camera, CameraUnavailable, Frame

log = logging.getLogger(__name__)

SOURCE_PATTERN = re.compile(r"(?:picamera2|csi)(?::(\d{1,2}))?", re.IGNORECASE)
"""``picamera2``, ``picamera2:N``, ``csi`` or ``csi:N`` (N: the camera number, 0 by default)."""

DEFAULT_SIZE = (640, 480)
FORMAT = "RGB888"
"""libcamera's name for 24-bit pixels stored B, G, R in memory (OpenCV's BGR)."""

READ_TIMEOUT_MIN_S = 2.0
"""A read waits at least this long (and at least four frame periods) before the camera counts as
stalled; picamera2 releases that read with a TimeoutError, which becomes CameraUnavailable."""

MISSING = (
    "picamera2 is not installed for this Python: on Raspberry Pi OS run `sudo apt install"
    " python3-picamera2` (pip cannot install libcamera's Python bindings), and the kiosk's venv"
    " must see system packages (`python3 -m venv --system-site-packages`)"
)


class Picamera2Missing(CameraUnavailable):
    """picamera2 cannot be imported here (not installed, or built for another numpy)."""


def parse_source(source: str) -> int | None:
    """The camera number of a picamera2 source (``picamera2``, ``csi:1``), None for any other."""
    match = SOURCE_PATTERN.fullmatch(source.strip())
    if match is None:
        return None
    return int(match.group(1) or 0)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _import_picamera2() -> Any:
    """The ``Picamera2`` class; :class:`Picamera2Missing` (one line) when it cannot be had."""
    try:
        module = importlib.import_module("picamera2")
    except ImportError as exc:
        if exc.name in (None, "picamera2", "libcamera"):
            raise Picamera2Missing(MISSING) from exc
        raise Picamera2Missing(f"picamera2 cannot be imported: {_one_line(exc)}") from exc
    except Exception as exc:  # a binary extension built for another numpy, a broken install
        detail = _one_line(exc)
        if "numpy" in detail.lower() or "binary incompatibility" in detail:
            detail += (
                " (apt's python3-simplejpeg is built for Debian's numpy and this venv has"
                " another: install simplejpeg from PyPI into the venv)"
            )
        raise Picamera2Missing(f"picamera2 cannot be imported: {detail}") from exc
    return module.Picamera2


class Picamera2Camera(Camera):
    """Frames from a Pi camera module through ``picamera2.Picamera2``.

    ``camera_num`` is picamera2's camera number (0: the first camera). ``width`` and ``height``
    default to 640x480 (rounded down to even numbers, as libcamera needs); ``fps`` sets the
    frame rate. Raises :class:`CameraUnavailable` when picamera2 is missing, no such camera is
    attached, it is busy (another process holds it) or it stops delivering frames.
    """

    def __init__(
        self,
        camera_num: int = 0,
        width: int | None = None,
        height: int | None = None,
        fps: float = 15.0,
    ) -> None:
        if camera_num < 0:
            raise ValueError("camera_num must not be negative")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.camera_num = camera_num
        self.size = (
            max(2, (width or DEFAULT_SIZE[0]) // 2 * 2),
            max(2, (height or DEFAULT_SIZE[1]) // 2 * 2),
        )
        self.fps = fps
        self.frame_us = max(1, round(1_000_000 / fps))
        self.read_timeout_s = max(READ_TIMEOUT_MIN_S, 4.0 / fps)
        self.description = f"Pi camera {camera_num} (picamera2)"
        self._camera: Any = None
        self._index = 0

    def open(self) -> None:
        """Open, configure and start the camera; :class:`CameraUnavailable` if it cannot be."""
        self.close()
        picamera2 = _import_picamera2()
        try:
            cameras = list(picamera2.global_camera_info())
        except Exception as exc:
            raise CameraUnavailable(f"libcamera cannot list the cameras: {_one_line(exc)}") from exc
        if self.camera_num >= len(cameras):
            found = ", ".join(
                f"{number}: {info.get('Model', '?')}" for number, info in enumerate(cameras)
            )
            raise CameraUnavailable(
                f"no Pi camera number {self.camera_num}: libcamera found "
                + (found if found else "no camera (is the ribbon cable seated?)")
            )
        model = cameras[self.camera_num].get("Model", "?")
        self.description = f"Pi camera {self.camera_num} ({model}, picamera2)"
        camera: Any = None
        try:
            camera = picamera2(self.camera_num)
            config = camera.create_video_configuration(
                main={"size": self.size, "format": FORMAT},
                controls={"FrameDurationLimits": (self.frame_us, self.frame_us)},
                queue=False,
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:
            if camera is not None:
                _release(camera)
            text = _one_line(exc)
            raise CameraUnavailable(
                f"cannot start {self.description}: {text} (is another process using it?)"
            ) from exc
        self._camera = camera
        self._index = 0
        log.info(
            "opened %s at %s, %s, %g fps", self.description, _actual_size(camera, self.size),
            FORMAT, self.fps,
        )  # fmt: skip

    def read(self) -> Frame | None:
        """The next frame (BGR); :class:`CameraUnavailable` when the camera stalls or fails."""
        camera = self._camera
        if camera is None:
            raise CameraUnavailable(f"{self.description} is not open")
        try:
            image = camera.capture_array("main", wait=self.read_timeout_s)
        except TimeoutError as exc:
            raise CameraUnavailable(
                f"{self.description}: no frame for {self.read_timeout_s:g} s"
            ) from exc
        except Exception as exc:
            raise CameraUnavailable(f"{self.description} failed: {_one_line(exc)}") from exc
        image = _bgr(image)
        if image is None:
            raise CameraUnavailable(f"{self.description} returned an image that is not 24-bit")
        frame = Frame(image, self._index, time.monotonic(), datetime.now(UTC))
        self._index += 1
        return frame

    def close(self) -> None:
        """Stop and release the camera. Safe to call more than once."""
        camera, self._camera = self._camera, None
        if camera is not None:
            _release(camera)


def _bgr(image: Any) -> np.ndarray | None:
    """The frame as a contiguous BGR ``uint8`` array (RGB888 already is), None if it is not."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]  # an XRGB8888 buffer: B, G, R and padding
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        return None
    return np.ascontiguousarray(array)


def _actual_size(camera: Any, requested: tuple[int, int]) -> str:
    try:
        width, height = camera.camera_configuration()["main"]["size"]
    except Exception:
        width, height = requested
    return f"{width}x{height}"


def _release(camera: Any) -> None:
    for step in ("stop", "close"):
        try:
            getattr(camera, step)()
        except Exception as exc:
            log.warning("could not %s the Pi camera: %s", step, _one_line(exc))
