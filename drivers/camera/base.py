"""The camera interface: something that yields frames until it is closed."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

import numpy as np


class CameraUnavailable(Exception):
    """The camera cannot be opened or stopped delivering frames (unplugged, stream gone)."""


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    ``image`` is BGR ``uint8`` (OpenCV's order), ``index`` counts frames from this camera,
    ``monotonic`` is :func:`time.monotonic` at capture and ``wall`` the UTC wall-clock time.
    """

    image: np.ndarray
    index: int
    monotonic: float
    wall: datetime


class Camera(ABC):
    """A source of frames. ``read`` returns None at the end of a finite source."""

    description: str = "camera"

    @abstractmethod
    def open(self) -> None:
        """Open the device or file; raise :class:`CameraUnavailable` if it cannot be."""

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame (blocking at most about one frame period).

        Returns None when a finite source (file, folder) has ended and does not loop.
        Raises :class:`CameraUnavailable` when the device is gone.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the device. Safe to call more than once."""

    def __enter__(self) -> Camera:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
