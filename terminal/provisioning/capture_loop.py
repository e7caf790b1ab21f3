"""The capture loop of an unprovisioned kiosk: camera -> QR decoder -> provisioning scanner.

No outbox, sync or pipeline runs: the kiosk only reads QR codes (with the configured
``[qr] decoder``) and gives each text to :class:`~terminal.provisioning.scan.ProvisioningScanner`,
until a code provisions it or it is stopped. A lost camera is reopened every
``[camera] reconnect_s``, as in the normal capture loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from drivers.camera import Camera, Frame
from drivers.qr.base import QrDecoder
from terminal.camera_loop import CameraLoop
from terminal.checkin.engines import build_qr_decoder
from terminal.config import Config
from terminal.provisioning.scan import ProvisioningScanner, ScanOutcome
from terminal.system.systemd_notify import SystemdNotifier

log = logging.getLogger(__name__)


class ProvisioningLoop:
    """Reads frames until a provisioning code is applied (:meth:`run` returns True) or the
    stop event is set or a finite source ends (False)."""

    def __init__(
        self,
        config: Config,
        open_camera: Callable[[], Camera],
        scanner: ProvisioningScanner,
        notifier: SystemdNotifier,
        stop: threading.Event,
        *,
        exit_when_source_ends: bool = False,
        on_scan: Callable[[ScanOutcome], None] | None = None,
        decoder: QrDecoder | None = None,
    ) -> None:
        self.config = config
        self.open_camera = open_camera
        self.scanner = scanner
        self.notifier = notifier
        self.stop = stop
        self.exit_when_source_ends = exit_when_source_ends
        self.on_scan = on_scan
        self.decoder = decoder or build_qr_decoder(config)

    def run(self) -> bool:
        """Whether the kiosk was provisioned (the caller exits to be restarted)."""
        loop = CameraLoop(
            self.open_camera, self.notifier, self.stop, self.config.camera.reconnect_s
        )
        for frame in loop.frames():
            if self._scan(frame):
                return True
        if loop.ended:
            return self._source_ended()
        return False

    def _scan(self, frame: Frame) -> bool:
        try:
            texts = list(dict.fromkeys(self.decoder.decode(frame.image)))
        except Exception:
            # A bad frame must not stop the kiosk.
            log.exception("QR decoding failed; continuing")
            return False
        for text in texts:
            outcome = self.scanner.offer(text, frame.monotonic)
            if outcome.message is not None:
                self.notifier.status(outcome.message)
            if self.on_scan is not None:
                self.on_scan(outcome)
            if outcome.provisioned:
                return True
        return False

    def _source_ended(self) -> bool:
        log.info("not provisioned by the end of the camera source")
        if not self.exit_when_source_ends:
            self.stop.wait()
        return False
