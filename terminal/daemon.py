"""The kiosk daemon: start-up as one ordered method, one shared stop event.

Data flows one way: camera -> pipeline -> outbox (SQLite) -> sync -> broker. The capture loop
(camera and pipeline) runs on the main thread; the sync runs on its own thread with its own
database connection. The outbox is their only hand-off, so either can stop or crash without
the other losing anything.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

from common.errors import StoreError
from drivers.camera import Camera, Frame, open_camera
from drivers.display.base import Display
from terminal import __version__
from terminal.camera_loop import CameraLoop
from terminal.checkin.pipeline import Decision, Pipeline, build_pipeline
from terminal.config import Config, check_runnable
from terminal.doctor import diagnostics
from terminal.output.announcements import announce
from terminal.output.kiosk_output import KioskOutput
from terminal.provisioning.capture_loop import ProvisioningLoop
from terminal.provisioning.scan import ProvisioningScanner, ScanOutcome
from terminal.provisioning.state import needs_provisioning
from terminal.store.data_dir_lock import DataDirLock
from terminal.store.database import open_or_quarantine
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from terminal.system.clock import ClockState
from terminal.system.systemd_notify import SystemdNotifier
from terminal.system.threads import set_cv_threads

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.2
RESTART_EXIT = 75
"""Exit status after a central ``set_setting`` or a scanned provisioning code: stopped cleanly
to be started again (systemd's ``Restart=always`` does; the new settings are read at start)."""


@dataclass
class RunOptions:
    """How ``kiosk run`` behaves beyond the config (tests and the demo use these)."""

    realtime: bool = True
    """Pace file and folder sources at the configured fps (False: as fast as processed)."""
    exit_when_source_ends: bool = False
    """Stop when a finite source ends (after delivering the backlog when MQTT is configured)."""
    drain_timeout_s: float = 60.0
    """With ``exit_when_source_ends``: how long to wait for the backlog to be acknowledged."""
    clock: Callable[[], bool] | None = None
    """Clock-synchronisation check; default: the kernel's (adjtimex)."""
    on_decision: Callable[[Decision], None] | None = None
    """Called with every decision (the demo's narration, tests)."""
    display: Display | None = None
    """The screen; default: as ``[ui]`` says
    (:func:`terminal.output.kiosk_output.build_display`)."""
    on_scan: Callable[[ScanOutcome], None] | None = None
    """Unprovisioned kiosk: called with the outcome of every QR text read (the display)."""


class Daemon:
    """One kiosk: owns the stop event, the threads and the order of start-up and shutdown."""

    def __init__(self, config: Config, options: RunOptions | None = None) -> None:
        self.config = config
        self.options = options or RunOptions()
        self.stop = threading.Event()
        self.notifier = SystemdNotifier()
        self.clock = self.options.clock or ClockState()
        self.outbox: Outbox | None = None
        self.pipeline: Pipeline | None = None
        self.sync: SyncWorker | None = None
        self.sync_thread: threading.Thread | None = None
        self.camera_ok = False
        self.output: KioskOutput | None = None

    def run(self) -> int:
        """Start everything in order, run the capture loop until stopped, shut down; exit code
        (0, or :data:`RESTART_EXIT` when a setting changed by the central system needs it).
        An unprovisioned kiosk only waits for a provisioning code (:data:`RESTART_EXIT` once
        applied). The data directory's lock is held throughout: one kiosk per data directory."""
        self._install_signal_handlers()
        with DataDirLock(self.config.storage.data_dir):
            set_cv_threads(self.config.recognition.cv_threads)
            if needs_provisioning(self.config):
                return self._run_unprovisioned()
            return self._run_provisioned()

    def _run_provisioned(self) -> int:
        check_runnable(self.config)
        try:
            # Whatever a step started is stopped by _shutdown if a later step fails.
            self._open_store()
            self._start_sync()
            self._build_pipeline()
            self._start_output()
            self.notifier.ready()
            log.info("kiosk %s started (terminal %s)", __version__, self.config.terminal.id)
            self._capture_loop()
            if self.options.exit_when_source_ends:
                self._wait_for_drain()
            else:
                # A finite source has ended: keep delivering the backlog until told to stop.
                self.stop.wait()
        finally:
            self._shutdown()
        if self.sync is not None and self.sync.state.restart_requested:
            log.info("exiting with status %d to be restarted with the new settings", RESTART_EXIT)
            return RESTART_EXIT
        return 0

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    def _run_unprovisioned(self) -> int:
        """No outbox, sync or pipeline: read QR codes until a provisioning code is applied,
        then exit with :data:`RESTART_EXIT` to be started again provisioned."""
        scanner = ProvisioningScanner(
            self.config, self.clock, self.stop, on_wait=self.notifier.watchdog
        )
        loop = ProvisioningLoop(
            self.config,
            self._open_camera,
            scanner,
            self.notifier,
            self.stop,
            exit_when_source_ends=self.options.exit_when_source_ends,
            on_scan=self.options.on_scan,
        )
        keys = f"{self.config.provisioning.org_keys_dir}: {', '.join(scanner.key_ids) or 'none'}"
        log.info("not provisioned: show a provisioning code (org keys: %s)", keys)
        log.info("%s", announce("show_provisioning_code", self.config.terminal.language))
        self.notifier.ready()
        self.notifier.status("not provisioned: show a provisioning code")
        try:
            provisioned = loop.run()
        finally:
            self.notifier.stopping()
            self.stop.set()
        if not provisioned:
            return 0
        log.info("provisioned: exiting with status %d to be restarted", RESTART_EXIT)
        return RESTART_EXIT

    def _open_store(self) -> None:
        storage = self.config.storage
        db, quarantined = open_or_quarantine(self.config.database_path, storage.max_size_mb)
        if quarantined is not None:
            self.notifier.status(f"ALERT: damaged database quarantined at {quarantined}")
        self.outbox = Outbox(
            db, self.config.terminal.id, self.config.terminal.site, storage.reserve_mb
        )
        if not self.outbox.room.restore_ballast():
            log.warning("disk nearly full: no room for the ballast; check-ins may be refused")
        counts = self.outbox.counts()
        log.info("outbox %s: %s", self.config.database_path, counts)

    def _start_sync(self) -> None:
        if self.config.mqtt is None:
            log.warning("no [mqtt] section: offline-only, every check-in is kept locally")
            return
        self.sync = SyncWorker(self.config, self.stop, __version__, diagnose=diagnostics)
        self.sync_thread = threading.Thread(target=self.sync.run, name="sync", daemon=True)
        self.sync_thread.start()

    def _build_pipeline(self) -> None:
        assert self.outbox is not None
        self.pipeline = build_pipeline(self.config, self.outbox, self.clock)

    def _start_output(self) -> None:
        self.output = KioskOutput(self.config, self.options.display, self.options.on_decision)
        self.output.start()

    def _open_camera(self) -> Camera:
        camera = self.config.camera
        return open_camera(
            camera.source,
            camera.fps,
            camera.loop,
            camera.width,
            camera.height,
            realtime=self.options.realtime,
        )

    def _capture_loop(self) -> None:
        """Read frames and run the pipeline until stopped or a finite source ends."""
        loop = CameraLoop(
            self._open_camera,
            self.notifier,
            self.stop,
            self.config.camera.reconnect_s,
            on_state=self._camera_state,
            loops=self.config.camera.loop,
        )
        for frame in loop.frames():
            assert self.output is not None
            self.output.decided(self._process(frame), frame.image)
            if self.output.status_due():
                self._show_status()

    def _process(self, frame: Frame) -> list[Decision]:
        assert self.pipeline is not None
        try:
            return self.pipeline.process(frame)
        except StoreError as exc:
            log.error("store error: %s", exc)
            return []
        except Exception:
            # A bad frame or a bug in one frame's processing must not stop the kiosk.
            log.exception("frame processing failed; continuing")
            return []

    def _camera_state(self, ok: bool) -> None:
        self.camera_ok = ok
        self._show_status()

    def _show_status(self) -> None:
        """Online or not, the backlog, the clock and the camera, on the screen."""
        if self.output is None or self.outbox is None:
            return
        if self.sync is None:  # offline-only: nothing is waiting to be sent
            online, backlog = None, 0
        else:
            online = self.sync.state.connected
            try:
                backlog = self.outbox.backlog()
            except StoreError as exc:
                log.error("store error: %s", exc)
                backlog = 0
        self.output.tick(online, backlog, self.clock(), self.camera_ok)

    def _wait_for_drain(self) -> None:
        if self.sync is None or self.outbox is None:
            return
        deadline = time.monotonic() + self.options.drain_timeout_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            if self.outbox.backlog() == 0:
                log.info("backlog delivered and acknowledged")
                return
            self.stop.wait(DRAIN_POLL_S)
        log.warning("stopping with %d events not yet acknowledged", self.outbox.backlog())

    def _shutdown(self) -> None:
        self.notifier.stopping()
        self.stop.set()
        if self.sync_thread is not None:
            self.sync_thread.join(timeout=10)
        if self.output is not None:
            self.output.close()
        if self.outbox is not None:
            log.info("outbox at exit: %s", self.outbox.counts())
            self.outbox.close()
