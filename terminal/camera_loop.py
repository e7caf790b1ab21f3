"""Frames from the kiosk's camera for as long as the kiosk runs: the one capture loop.

The daemon's check-in loop and the unprovisioned kiosk's provisioning loop read frames the same
way: the camera is opened, every frame pings the systemd watchdog, a camera that is lost or
missing is reopened after ``[camera] reconnect_s`` (its state logged when it changes and shown
in the systemd status), and a finite source (a file, a folder) ends the frames.

Nothing that goes wrong while opening or reading the camera ends the loop: an unexpected error
(``OSError: Too many open files`` while the process is short of descriptors, an OpenCV error)
is handled like a lost camera, and so is the end of a source that is set to loop (``[camera]
loop``: a replayed folder whose images could not be opened for a moment looks finished). Only
``stop`` or the real end of a finite source end the frames. The camera counts as working
(``on_state(True)``) from its first frame, not from its opening.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

from drivers.camera import Camera, CameraUnavailable, Frame
from terminal.system.systemd_notify import SystemdNotifier

log = logging.getLogger(__name__)


class CameraLoop:
    """Yields frames until ``stop`` is set or a finite source ends (then :attr:`ended`).

    With ``loops`` (the source is set to start again at its end) the source never ends: a
    read that says it has is a failure, and the camera is reopened.
    """

    def __init__(
        self,
        open_camera: Callable[[], Camera],
        notifier: SystemdNotifier,
        stop: threading.Event,
        reconnect_s: float,
        on_state: Callable[[bool], None] | None = None,
        *,
        loops: bool = False,
    ) -> None:
        self.open_camera = open_camera
        self.notifier = notifier
        self.stop = stop
        self.reconnect_s = reconnect_s
        self.on_state = on_state
        self.loops = loops
        self.camera_ok: bool | None = None
        self.ended = False
        """The source ran out of frames (a file or folder), as opposed to being stopped."""
        self._last_error: str | None = None

    def frames(self) -> Iterator[Frame]:
        """Every frame, the camera reopened when it fails; closed when the caller stops."""
        while not self.stop.is_set():
            camera: Camera | None = None
            try:
                camera = self.open_camera()
                camera.open()
                delivering = False
                while not self.stop.is_set():
                    self.notifier.watchdog()
                    frame = camera.read()
                    if frame is None:
                        if self.loops:
                            raise CameraUnavailable("the source ended, yet [camera] loop is set")
                        log.info("camera source ended")
                        self.ended = True
                        return
                    if not delivering:
                        delivering = True
                        self._last_error = None
                        self._state(True, f"camera {camera.description} open")
                    yield frame
            except CameraUnavailable as exc:
                self._failed(f"camera unavailable: {exc}; retrying")
            except Exception as exc:
                # Out of file descriptors, an OpenCV error...: the camera is reopened like a
                # lost one; an error here must never end the frames for good.
                self._failed(f"camera failed: {exc!r}; retrying", exc)
            finally:
                if camera is not None:
                    with contextlib.suppress(Exception):
                        camera.close()

    def _failed(self, text: str, error: Exception | None = None) -> None:
        """Report the failure (an unexpected error with its traceback, once), wait, reopen."""
        first = error is not None and text != self._last_error
        if first:
            log.error("%s", text, exc_info=error)
        self._last_error = text
        self._state(False, text, logged=first)
        self.notifier.watchdog()
        self.stop.wait(self.reconnect_s)

    def _state(self, ok: bool, text: str, *, logged: bool = False) -> None:
        if not logged and (ok != self.camera_ok or not ok):
            (log.info if ok else log.warning)("%s", text)
        self.camera_ok = ok
        self.notifier.status(text)
        if self.on_state is None:
            return
        try:
            self.on_state(ok)
        except Exception:
            # Showing the camera's state must not stop the camera.
            log.exception("reporting the camera's state failed; continuing")
