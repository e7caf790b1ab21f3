"""Frames from the kiosk's camera for as long as the kiosk runs: the one capture loop.

The daemon's check-in loop and the unprovisioned kiosk's provisioning loop read frames the same
way: the camera is opened, every frame pings the systemd watchdog, a camera that is lost or
missing is reopened after ``[camera] reconnect_s`` (its state logged when it changes and shown
in the systemd status), and a finite source (a file, a folder) ends the frames.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from drivers.camera import Camera, CameraUnavailable, Frame
from terminal.system.systemd_notify import SystemdNotifier

log = logging.getLogger(__name__)


class CameraLoop:
    """Yields frames until ``stop`` is set or a finite source ends (then :attr:`ended`)."""

    def __init__(
        self,
        open_camera: Callable[[], Camera],
        notifier: SystemdNotifier,
        stop: threading.Event,
        reconnect_s: float,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.open_camera = open_camera
        self.notifier = notifier
        self.stop = stop
        self.reconnect_s = reconnect_s
        self.on_state = on_state
        self.camera_ok: bool | None = None
        self.ended = False
        """The source ran out of frames (a file or folder), as opposed to being stopped."""

    def frames(self) -> Iterator[Frame]:
        """Every frame, the camera reopened when it fails; closed when the caller stops."""
        while not self.stop.is_set():
            camera = self.open_camera()
            try:
                camera.open()
                self._state(True, f"camera {camera.description} open")
                while not self.stop.is_set():
                    self.notifier.watchdog()
                    frame = camera.read()
                    if frame is None:
                        log.info("camera source ended")
                        self.ended = True
                        return
                    yield frame
            except CameraUnavailable as exc:
                self._state(False, f"camera unavailable: {exc}; retrying")
                self.notifier.watchdog()
                self.stop.wait(self.reconnect_s)
            finally:
                camera.close()

    def _state(self, ok: bool, text: str) -> None:
        if ok != self.camera_ok or not ok:
            (log.info if ok else log.warning)("%s", text)
        self.camera_ok = ok
        self.notifier.status(text)
        if self.on_state is not None:
            self.on_state(ok)
