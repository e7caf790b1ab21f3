"""The kiosk screen as a web page, served to Chromium in kiosk mode.

:class:`WebDisplay` runs an aiohttp server on its own thread with its own asyncio loop. The
capture loop calls :meth:`WebDisplay.show`, :meth:`~WebDisplay.status` and
:meth:`~WebDisplay.preview` from its thread; they hand the value over with
``loop.call_soon_threadsafe`` (previews go through a one-frame slot) and return at once.

The page (``web_static/``) listens to ``GET /events`` (Server-Sent Events: ``config``,
``status`` and ``result`` messages, see :mod:`drivers.display.web_hub`), shows
``/preview.mjpg`` and reports each painted result to ``POST /rendered``.

No client can make the server hold more than ``max_connections`` connections (the server runs
behind a :class:`~drivers.display.web_limits.ConnectionGuard`), ``max_stream_clients`` streams,
or a connection that sends no request head for :data:`HEAD_TIMEOUT_S` or stays idle between
requests for :data:`IDLE_TIMEOUT_S`; the loop's own errors (a failing ``accept()``) are logged
once a minute at most. So a flood of screen clients costs the process ``max_connections`` file
descriptors (and, for an instant, the few it is refusing), and the daemon's broker connection,
database and camera keep theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from aiohttp import web

from drivers.display.base import (
    Box,
    BoxState,
    Display,
    DisplayUnavailable,
    ResultView,
    StatusView,
)
from drivers.display.web_hub import CAMERA_STALE_S, FramePulse, Hub
from drivers.display.web_limits import (
    ConnectionGuard,
    StreamSlots,
    ThrottledLog,
    loop_error_handler,
)
from drivers.display.web_preview import FrameSlot, PreviewEncoder
from drivers.display.web_routes import KEEPALIVE_S, build_app

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
MAX_STREAM_CLIENTS = 16
"""Default of ``max_stream_clients`` (``[ui] max_stream_clients``)."""
MAX_CONNECTIONS = 64
"""Default of ``max_connections`` (``[ui] max_connections``)."""
HEAD_TIMEOUT_S = 10.0
"""A new connection must have sent its first request head within this."""
IDLE_TIMEOUT_S = 15.0
"""A connection idle this long between requests is closed (aiohttp's keep-alive timeout)."""
LISTEN_BACKLOG = 16
"""The listen queue, and so how many connections asyncio accepts in one pass: each one holds a
descriptor until the guard has refused it, so a flood briefly costs up to a few times this on
top of ``max_connections``. A screen opens half a dozen connections at most."""
CAMERA_CHECK_S = 1.0
"""How often the page is told when frames stop coming (or come back)."""


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as (host, port); ValueError when malformed."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"listen address must be host:port, not {listen!r}")
    return host, int(port)


class WebDisplay(Display):
    """The kiosk page, its events and its live view, served on ``listen``.

    ``preview_fps`` caps the JPEG encodings of the live view, ``preview_width`` is the width
    frames are scaled to; ``sounds`` and ``spoken_prompts`` are passed to the page (tones from
    Web Audio, sentences from ``speechSynthesis``); ``preview=False`` or ``preview_fps=0``
    turns the live view off (the page hides it, ``/preview.mjpg`` answers 404).

    ``language`` and ``labels`` (the idle texts: ``title``, ``idle``, ``notice``) are the
    page's until the first :meth:`status`: the page is served in the kiosk's language, with
    its face-recognition notice, even before it connects.

    ``max_stream_clients`` bounds the ``/events`` and ``/preview.mjpg`` streams served at once
    (a screen uses two), ``max_connections`` every connection (more are answered 503 and
    closed); ``camera_stale_s`` is how long without a frame (:meth:`frame_arrived`) before the
    camera is shown as not working.
    """

    def __init__(
        self,
        listen: str = "127.0.0.1:8080",
        preview_fps: float = 8.0,
        preview_width: int = 480,
        sounds: bool = True,
        spoken_prompts: bool = False,
        *,
        preview: bool = True,
        language: str = "zh",
        labels: dict[str, str] | None = None,
        keepalive_s: float = KEEPALIVE_S,
        max_stream_clients: int = MAX_STREAM_CLIENTS,
        max_connections: int = MAX_CONNECTIONS,
        head_timeout_s: float = HEAD_TIMEOUT_S,
        camera_stale_s: float = CAMERA_STALE_S,
    ) -> None:
        """Nothing is served before :meth:`start`."""
        if preview_width <= 0:
            raise ValueError("preview_width must be positive")
        if not 1 <= max_stream_clients < max_connections:
            raise ValueError("need 1 <= max_stream_clients < max_connections")
        preview = preview and preview_fps > 0
        self.listen = listen
        self.preview_fps = preview_fps if preview else 1.0
        self.preview_width = preview_width
        self.config: dict[str, Any] = {
            "sounds": sounds,
            "spoken_prompts": spoken_prompts,
            "preview": preview,
        }
        self._keepalive_s = keepalive_s
        self._slot = FrameSlot()
        self._pulse = FramePulse()
        self._hub = Hub(self.config, self._pulse, camera_stale_s)
        self._hub.language = language
        self._hub.labels = dict(labels or {})
        self._warnings = ThrottledLog(log)
        self._streams = StreamSlots(max_stream_clients, self._warnings)
        self._guard = ConnectionGuard(
            self._serve_connection, max_connections, head_timeout_s, self._warnings
        )
        self._encoder: PreviewEncoder | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._camera_check: asyncio.Task[None] | None = None
        self._port = 0
        self._closed = False

    @property
    def port(self) -> int:
        """The port served on (the chosen one when ``listen`` ends in ``:0``); 0 before start."""
        return self._port

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8080/``."""
        host, _ = parse_listen(self.listen)
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}/"

    def start(self) -> None:
        """Serve the page; returns once listening, else raises :class:`DisplayUnavailable`."""
        if self._thread is not None:
            raise RuntimeError("WebDisplay already started")
        try:
            host, port = parse_listen(self.listen)
        except ValueError as err:
            raise DisplayUnavailable(str(err)) from None
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, args=(host, port, ready, failure), name="web-display", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise DisplayUnavailable(f"kiosk page server did not start within {START_TIMEOUT_S} s")
        if failure:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None
            error = failure[0]
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise DisplayUnavailable(f"cannot serve the kiosk page on {self.listen}: {reason}")

    def _serve(
        self, host: str, port: int, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(loop_error_handler(self._warnings))
        try:
            loop.run_until_complete(self._open(host, port))
        except Exception as err:  # reported by start() as DisplayUnavailable
            failure.append(err)
            with contextlib.suppress(Exception):
                loop.run_until_complete(self._shutdown())
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _open(self, host: str, port: int) -> None:
        self._encoder = PreviewEncoder(self._slot, self.preview_fps, self.preview_width)
        app = build_app(self._hub, self._encoder, self._streams, self._guard, self._keepalive_s)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=2.0,
            access_log=None,
            keepalive_timeout=IDLE_TIMEOUT_S,
        )
        await self._runner.setup()
        # Served without an aiohttp site, so that every connection goes through the guard.
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._guard, host, port, backlog=LISTEN_BACKLOG, reuse_address=True
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._camera_check = loop.create_task(self._check_camera())

    def _serve_connection(self) -> asyncio.Protocol:
        """aiohttp's protocol for one admitted connection."""
        server = self._runner.server if self._runner is not None else None
        assert server is not None
        return server()

    async def _check_camera(self) -> None:
        every = min(CAMERA_CHECK_S, self._hub.camera_stale_s / 2)
        while True:
            await asyncio.sleep(every)
            self._hub.check_camera()

    async def _shutdown(self) -> None:
        if self._camera_check is not None:
            self._camera_check.cancel()
        if self._server is not None:
            self._server.close()  # no new connections
        self._hub.close_clients()
        if self._encoder is not None:
            await self._encoder.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), STOP_TIMEOUT_S / 2)
            self._server = None

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` on the server's loop; before start, here and now."""
        loop = self._loop
        if loop is None:
            callback(*args)
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: dropped
            loop.call_soon_threadsafe(callback, *args)

    def show(self, view: ResultView) -> None:
        """Push a result to every page (returns at once)."""
        if not self._closed:
            self._call(self._hub.set_result, view)

    def status(self, view: StatusView) -> None:
        """Push the status line and idle texts to every page (returns at once)."""
        if not self._closed:
            self._call(self._hub.set_status, view)

    def preview(
        self, image: np.ndarray, faces: list[Box], states: list[BoxState] | None = None
    ) -> None:
        """Keep the newest frame for the live view (boxes coloured by ``states``); dropped
        when nobody watches."""
        if self.wants_preview():
            self._slot.offer(image, faces, states)

    def frame_arrived(self) -> None:
        """Count a camera frame (any thread): ``/state`` and the page show the camera as not
        working once none has come for ``camera_stale_s``."""
        self._pulse.beat()
        if self._hub.camera_shown_stalled and not self._closed:
            self._call(self._hub.check_camera)  # frames are back: tell the page now

    def wants_preview(self) -> bool:
        """True while at least one ``/preview.mjpg`` client is connected."""
        encoder = self._encoder
        return encoder is not None and not self._closed and encoder.viewers > 0

    def latencies(self) -> list[float]:
        """Seconds from ``decided_at`` to painted, as the pages reported them, oldest first."""
        return self._hub.latencies()

    def close(self) -> None:
        """End the streams, stop the server, join its thread (the port is free afterwards)."""
        if self._closed:
            return
        self._closed = True
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            future.result(STOP_TIMEOUT_S)
        except Exception as err:  # closing must not raise
            log.warning("kiosk page server did not stop cleanly: %s", err)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT_S)
        self._thread = None

    def __enter__(self) -> WebDisplay:
        """Start; :meth:`close` on leaving."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()
