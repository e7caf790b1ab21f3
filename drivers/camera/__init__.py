"""Cameras: an OpenCV capture (device, RTSP, file) and a replay of a file or image folder."""

from __future__ import annotations

from pathlib import Path

from drivers.camera.base import Camera, CameraUnavailable, Frame
from drivers.camera.opencv_capture import OpenCVCamera
from drivers.camera.replay import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ReplayCamera

__all__ = ["Camera", "CameraUnavailable", "Frame", "OpenCVCamera", "ReplayCamera", "open_camera"]


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
    ``realtime`` apply); anything else (``0``, ``/dev/video0``, ``rtsp://...``) is a live
    OpenCV capture (``width``/``height`` apply).
    """
    if "://" not in source:
        path = Path(source)
        if path.is_dir() or path.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS:
            return ReplayCamera(path, fps=fps, loop=loop, realtime=realtime)
    return OpenCVCamera(source, width=width, height=height)
