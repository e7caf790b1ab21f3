"""Cameras: an OpenCV capture (device, RTSP, file), a Pi camera module (picamera2) and a replay."""

from __future__ import annotations

from pathlib import Path

from drivers.camera.base import Camera, CameraUnavailable, Frame
from drivers.camera.opencv_capture import OpenCVCamera
from drivers.camera.picamera2_capture import Picamera2Camera, Picamera2Missing, parse_source
from drivers.camera.replay import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ReplayCamera

__all__ = [
    "Camera",
    "CameraUnavailable",
    "Frame",
    "OpenCVCamera",
    "Picamera2Camera",
    "Picamera2Missing",
    "ReplayCamera",
    "is_picamera2_source",
    "open_camera",
]


def open_camera(
    source: str,
    fps: float,
    loop: bool,
    width: int | None = None,
    height: int | None = None,
    realtime: bool = True,
) -> Camera:
    """The camera for a configured ``source`` (not yet opened).

    A folder, or a file named like a video or an image, is replayed at ``fps`` (``loop``,
    ``realtime`` apply); ``picamera2``, ``picamera2:N``, ``csi`` or ``csi:N`` is a Pi camera
    module through picamera2 (camera number N, 0 by default; ``width``/``height``/``fps``
    apply); anything else (``0``, ``/dev/video0``, ``rtsp://...``) is a live OpenCV capture
    (``width``/``height`` apply).
    """
    camera_num = parse_source(source)
    if camera_num is not None:
        return Picamera2Camera(camera_num, width=width, height=height, fps=fps)
    if "://" not in source:
        path = Path(source)
        if path.is_dir() or path.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS:
            return ReplayCamera(path, fps=fps, loop=loop, realtime=realtime)
    return OpenCVCamera(source, width=width, height=height)


def is_picamera2_source(source: str) -> bool:
    """Whether ``source`` names a Pi camera module (``picamera2``, ``csi:1``...)."""
    return parse_source(source) is not None
