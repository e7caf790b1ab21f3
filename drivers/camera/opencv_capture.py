"""A live camera through OpenCV: a device index, ``/dev/videoN``, an RTSP/HTTP stream or a file."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2

from drivers.camera.base import Camera, CameraUnavailable, Frame

log = logging.getLogger(__name__)


class OpenCVCamera(Camera):
    """Frames from ``cv2.VideoCapture``.

    ``source`` is a device index (``"0"``), a device path, a stream URL or a video file.
    ``width``/``height`` are requested from devices (the driver may pick the nearest mode).
    A failed read raises :class:`CameraUnavailable` (unplugged device, lost stream), except
    for a video file, whose end returns None.
    """

    def __init__(self, source: str, width: int | None = None, height: int | None = None) -> None:
        self.source = source
        self.width = width
        self.height = height
        self.description = f"camera {source}"
        self._capture: cv2.VideoCapture | None = None
        self._index = 0
        self._is_file = "://" not in source and Path(source).is_file()

    def open(self) -> None:
        """Open the device or stream; raise :class:`CameraUnavailable` if it cannot be."""
        self.close()
        target: int | str = int(self.source) if self.source.isdigit() else self.source
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailable(f"cannot open {self.description}")
        if self.width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if not self._is_file:
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog
        self._capture = capture
        log.info(
            "opened %s at %dx%d",
            self.description,
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def read(self) -> Frame | None:
        """The next frame; None at the end of a video file; raises when the device is gone."""
        if self._capture is None:
            raise CameraUnavailable(f"{self.description} is not open")
        ok, image = self._capture.read()
        if not ok or image is None:
            if self._is_file:
                return None
            raise CameraUnavailable(f"{self.description} stopped delivering frames")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        frame = Frame(image, self._index, time.monotonic(), datetime.now(UTC))
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the device. Safe to call more than once."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
