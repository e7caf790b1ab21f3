"""The live camera view: the newest offered frame, scaled, with its face boxes, as JPEG.

The capture thread drops frames into a :class:`FrameSlot` (one reference assignment, never
blocks). On the web server's loop, a :class:`PreviewEncoder` runs only while at least one
``/preview.mjpg`` client is connected: at most ``fps`` times a second it takes the newest
frame, draws and encodes it in a worker thread, and wakes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

import cv2
import numpy as np

from drivers.display.base import Box, BoxState

BOX_COLOURS: dict[BoxState, tuple[int, int, int]] = {
    "tracking": (255, 200, 150),  # light blue (#96c8ff): seen, nothing decided yet
    "checking": (0, 190, 255),  # amber (#ffbe00): recognised, being confirmed or asked to turn
    "ok": (80, 220, 80),  # green (#50dc50): checked in, or already
    "refused": (60, 60, 240),  # red (#f03c3c): refused (a photo or video, a bad code...)
}
"""Face boxes by what the kiosk makes of the face, in BGR."""
BOX_COLOUR = BOX_COLOURS["ok"]
"""A box whose state the caller did not give (``states`` None or short): green, as all boxes
were before they had states."""
JPEG_QUALITY = 75

log = logging.getLogger(__name__)


def render_jpeg(
    image: np.ndarray, faces: list[Box], width: int, states: list[BoxState] | None = None
) -> bytes:
    """``image`` (BGR) scaled to ``width`` (never up), ``faces`` (top, right, bottom, left in
    the original's pixels) drawn as rectangles coloured by ``states`` (:data:`BOX_COLOURS`;
    a face without a state in :data:`BOX_COLOUR`), JPEG-encoded."""
    height, original = image.shape[:2]
    scale = min(1.0, width / original) if original else 1.0
    if scale < 1.0:
        size = (max(1, round(original * scale)), max(1, round(height * scale)))
        frame = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    else:
        frame = image.copy()
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    thickness = max(3, round(frame.shape[1] / 160))
    states = list(states or [])
    for index, (top, right, bottom, left) in enumerate(faces):
        colour = BOX_COLOURS.get(states[index], BOX_COLOUR) if index < len(states) else BOX_COLOUR
        cv2.rectangle(
            frame,
            (round(left * scale), round(top * scale)),
            (round(right * scale), round(bottom * scale)),
            colour,
            thickness,
        )
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("cv2.imencode could not encode the preview frame")
    return data.tobytes()


class FrameSlot:
    """The newest frame offered, replaced by every offer (any thread, never blocks)."""

    def __init__(self) -> None:
        """Empty."""
        self._frame: tuple[int, np.ndarray, list[Box], list[BoxState]] | None = None
        self._count = 0
        self._lock = threading.Lock()

    def offer(
        self, image: np.ndarray, faces: list[Box], states: list[BoxState] | None = None
    ) -> None:
        """Keep ``image`` (copied: the caller may reuse its buffer), its boxes and their
        states."""
        frame = image.copy()
        with self._lock:
            self._count += 1
            self._frame = (self._count, frame, list(faces), list(states or []))

    def take(self) -> tuple[int, np.ndarray, list[Box], list[BoxState]] | None:
        """The newest frame with its number, or None before the first."""
        with self._lock:
            return self._frame


class PreviewEncoder:
    """Encodes the newest frame for the connected MJPEG clients; lives on the server's loop."""

    def __init__(self, slot: FrameSlot, fps: float, width: int) -> None:
        """``fps``: most encodings a second; ``width``: the width frames are scaled to."""
        self.slot = slot
        self.period = 1.0 / fps
        self.width = width
        self.jpeg: bytes | None = None
        self.version = 0
        self.viewers = 0
        self.closing = False
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def join(self) -> None:
        """A client connected: start encoding if it is the first."""
        self.viewers += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def leave(self) -> None:
        """A client left: stop encoding after the last."""
        self.viewers = max(0, self.viewers - 1)
        if self.viewers == 0 and self._task is not None:
            self._task.cancel()
            self._task = None

    async def next_jpeg(self, seen: int) -> tuple[int, bytes] | None:
        """Wait for a frame newer than version ``seen``; None when the server closes."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: self.closing or (self.version > seen and self.jpeg is not None)
            )
            if self.closing or self.jpeg is None:
                return None
            return self.version, self.jpeg

    async def close(self) -> None:
        """Wake every client with None and stop encoding."""
        self.closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._changed:
            self._changed.notify_all()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        encoded = 0
        while not self.closing:
            started = loop.time()
            frame = self.slot.take()
            if frame is not None and frame[0] != encoded:
                number, image, faces, states = frame
                encoded = number
                try:
                    jpeg = await loop.run_in_executor(
                        None, render_jpeg, image, faces, self.width, states
                    )
                except (ValueError, cv2.error) as err:
                    log.warning("preview frame dropped: %s", err)
                    continue
                async with self._changed:
                    self.jpeg = jpeg
                    self.version += 1
                    self._changed.notify_all()
            await asyncio.sleep(max(0.0, self.period - (loop.time() - started)))
