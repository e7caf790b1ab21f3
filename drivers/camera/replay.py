"""A camera that replays a video file, one image, or a folder of images (demos and tests).

Every frame is returned in order (none skipped), paced at ``fps``: a 30 fps video replayed at
15 fps runs at half speed. With ``realtime`` the camera sleeps to keep that pace and stamps
frames with the real clocks; without it frames come back immediately and carry the media time
(start + index / fps), so time-based rules (confirmation, repeat window) behave the same
however fast the machine processes them.

A folder is played sorted by file name; files that cannot be decoded are skipped with a
warning (once), never a crash.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from drivers.camera.base import Camera, CameraUnavailable, Frame

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


class ReplayCamera(Camera):
    """Plays ``source`` (video file, image file or folder of images) at ``fps``."""

    def __init__(self, source: Path, fps: float, loop: bool = False, realtime: bool = True) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.source = Path(source)
        self.fps = fps
        self.loop = loop
        self.realtime = realtime
        self.description = f"replay of {self.source}"
        self._images: list[Path] = []
        self._video: cv2.VideoCapture | None = None
        self._position = 0
        self._frames_this_pass = 0
        self._unreadable: set[Path] = set()
        self._index = 0
        self._start = 0.0
        self._start_wall = datetime.now(UTC)
        self._opened = False

    @property
    def skipped(self) -> list[Path]:
        """Image files skipped so far because they could not be decoded, by name."""
        return sorted(self._unreadable)

    def open(self) -> None:
        """Find the images or open the video; raise :class:`CameraUnavailable` if impossible."""
        self.close()
        if self.source.is_dir():
            self._images = sorted(
                (p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
                key=lambda p: p.name,
            )
            if not self._images:
                raise CameraUnavailable(f"{self.source}: no image files in this folder")
        elif self.source.is_file() and self.source.suffix.lower() in IMAGE_EXTENSIONS:
            self._images = [self.source]
        elif self.source.is_file():
            self._video = self._open_video()
        else:
            raise CameraUnavailable(f"{self.source}: no such file or folder")
        self._position = 0
        self._frames_this_pass = 0
        self._index = 0
        self._start = time.monotonic()
        self._start_wall = datetime.now(UTC)
        self._opened = True

    def read(self) -> Frame | None:
        """The next frame, paced at ``fps``; None at the end (unless looping)."""
        if not self._opened:
            raise CameraUnavailable(f"{self.description} is not open")
        image = self._next_image()
        if image is None:
            return None
        offset = self._index / self.fps
        if self.realtime:
            delay = self._start + offset - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            frame = Frame(image, self._index, time.monotonic(), datetime.now(UTC))
        else:
            wall = self._start_wall + timedelta(seconds=offset)
            frame = Frame(image, self._index, self._start + offset, wall)
        self._index += 1
        return frame

    def close(self) -> None:
        """Release the video file. Safe to call more than once."""
        if self._video is not None:
            self._video.release()
            self._video = None
        self._opened = False

    def _open_video(self) -> cv2.VideoCapture:
        video = cv2.VideoCapture(str(self.source))
        if not video.isOpened():
            video.release()
            raise CameraUnavailable(f"{self.source}: cannot open as a video")
        return video

    def _next_image(self) -> np.ndarray | None:
        while True:
            image = self._next_video_frame() if self._video is not None else self._next_file()
            if image is not None:
                self._frames_this_pass += 1
                return image
            if not self.loop or self._frames_this_pass == 0:
                return None  # finished, or a whole pass without one readable frame
            self._frames_this_pass = 0
            self._position = 0
            if self._video is not None:
                self._video.release()
                self._video = self._open_video()

    def _next_video_frame(self) -> np.ndarray | None:
        assert self._video is not None
        ok, image = self._video.read()
        return image if ok and image is not None else None

    def _next_file(self) -> np.ndarray | None:
        while self._position < len(self._images):
            path = self._images[self._position]
            self._position += 1
            if path in self._unreadable:
                continue
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            self._unreadable.add(path)
            log.warning("%s: cannot decode this image, skipped", path)
        return None
