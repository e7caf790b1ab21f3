"""The kiosk page's state on the server: the current status and result, the Server-Sent Events
clients they are pushed to, the camera's frames and the latencies the page reports.

Everything here runs on the web server's event loop thread (:mod:`drivers.display.web` hands
values over with ``loop.call_soon_threadsafe``); only :meth:`Hub.latencies` is read from other
threads, under a lock, and :class:`FramePulse` is written by the capture thread, under a lock.

The camera's state is not taken on trust: the status says ``camera_ok`` as of the last time the
capture loop sent one, and a loop that has stopped sends nothing more. So once frames have been
reported (:meth:`FramePulse.beat`), ``camera_ok`` is shown false whenever none has come for
``camera_stale_s``, on the page and in ``GET /state``, whatever the last status said.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections import OrderedDict, deque
from typing import Any

from drivers.display.base import ResultView, StatusView

MAX_LATENCIES = 1000
"""The newest latencies kept (:meth:`Hub.latencies`)."""
MAX_SEQUENCES = 64
"""Recent results remembered for the page's ``/rendered`` reports."""
CLIENT_QUEUE = 32
"""Messages a slow SSE client may fall behind by before it is dropped (it reconnects and gets
the current state again)."""

CLOSE = None
"""Put in a client's queue: the server is closing, end the stream."""
CAMERA_STALE_S = 5.0
"""With no frame for this long the camera is shown as not working, whatever the status says."""


def html_lang(language: str) -> str:
    """The page's ``lang`` attribute for a kiosk language: ``zh`` → ``zh-Hans``, ``en`` → ``en``."""
    base = language.strip().lower().replace("_", "-")
    if base in ("zh", "zh-cn", "zh-sg", "zh-hans"):
        return "zh-Hans"
    if base in ("zh-tw", "zh-hk", "zh-hant"):
        return "zh-Hant"
    return base or "zh-Hans"


def status_message(view: StatusView) -> dict[str, Any]:
    """The ``status`` event: every :class:`StatusView` field, plus ``lang`` for the page."""
    return {"type": "status", **dataclasses.asdict(view), "lang": html_lang(view.language)}


def result_message(view: ResultView, age_s: float = 0.0, replay: bool = False) -> dict[str, Any]:
    """The ``result`` event: every :class:`ResultView` field; ``age_s`` is how long ago it was
    shown (for a client that joins late), ``replay`` says it is not new (no sound, no report)."""
    return {
        "type": "result",
        **dataclasses.asdict(view),
        "age_s": round(age_s, 3),
        "replay": replay,
    }


def sse_frame(message: dict[str, Any]) -> bytes:
    """One Server-Sent Events frame carrying ``message`` as JSON."""
    return b"data: " + json.dumps(message, ensure_ascii=False).encode() + b"\n\n"


class FramePulse:
    """How many camera frames the capture loop has reported, and when the last one came."""

    def __init__(self) -> None:
        """No frame yet."""
        self._lock = threading.Lock()
        self._frames = 0
        self._last_wall: float | None = None
        self._last_monotonic = 0.0

    def beat(self) -> None:
        """A frame has been read (any thread; never blocks for long)."""
        with self._lock:
            self._frames += 1
            self._last_wall = time.time()
            self._last_monotonic = time.monotonic()

    def read(self) -> tuple[int, float | None, float | None]:
        """(frames so far, wall-clock time of the last one, its age in seconds); the times are
        None before the first frame."""
        with self._lock:
            if self._last_wall is None:
                return self._frames, None, None
            return self._frames, self._last_wall, time.monotonic() - self._last_monotonic


class Hub:
    """The current status and result, and the SSE clients they are pushed to."""

    def __init__(
        self,
        config: dict[str, Any],
        pulse: FramePulse | None = None,
        camera_stale_s: float = CAMERA_STALE_S,
    ) -> None:
        """``config``: the page's settings (sounds, spoken prompts, preview), sent first;
        ``pulse``: the frames the capture loop reports; ``camera_stale_s``: how long without a
        frame before the camera is shown as not working."""
        self.config = {"type": "config", **config}
        self.language = "zh"
        """The kiosk's language, for the page served before any status (see :meth:`page_texts`)."""
        self.labels: dict[str, str] = {}
        """The idle texts in that language, likewise (``title``, ``idle``, ``notice``)."""
        self.pulse = pulse or FramePulse()
        self.camera_stale_s = camera_stale_s
        self._shown_camera_ok: bool | None = None
        self.status: StatusView | None = None
        self.result: ResultView | None = None
        self._result_at = 0.0
        self._clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._decided: OrderedDict[int, float] = OrderedDict()
        self._reported: set[int] = set()
        self._latencies: deque[float] = deque(maxlen=MAX_LATENCIES)
        self._lock = threading.Lock()
        self.closing = False

    @property
    def clients(self) -> int:
        """SSE clients connected now."""
        return len(self._clients)

    def set_status(self, view: StatusView) -> None:
        """A new status: remember it and push it (``camera_ok`` as :meth:`camera_ok` says)."""
        self.status = view
        self._push_status()

    def page_texts(self) -> tuple[str, dict[str, str]]:
        """The page's ``lang`` and idle texts for ``GET /``: the status's, else the configured
        ones, so the page is in the kiosk's language before it has connected."""
        if self.status is not None:
            return html_lang(self.status.language), self.status.labels
        return html_lang(self.language), self.labels

    def camera_ok(self) -> bool:
        """The status's ``camera_ok``, unless frames have been reported and none came for
        ``camera_stale_s`` (then False); False before any status."""
        if self.status is None or not self.status.camera_ok:
            return False
        _, _, age = self.pulse.read()
        return age is None or age < self.camera_stale_s

    @property
    def camera_shown_stalled(self) -> bool:
        """Whether the page was last told the camera does not work (read by any thread)."""
        return self._shown_camera_ok is False

    def check_camera(self) -> None:
        """Push the status again if the camera's state has changed since it was pushed (frames
        stopped or came back); called about once a second."""
        if self.status is not None and self.camera_ok() != self._shown_camera_ok:
            self._push_status()

    def _shown_status(self) -> StatusView | None:
        if self.status is None:
            return None
        camera_ok = self.camera_ok()
        if camera_ok == self.status.camera_ok:
            return self.status
        return dataclasses.replace(self.status, camera_ok=camera_ok)

    def _push_status(self) -> None:
        view = self._shown_status()
        if view is not None:
            self._shown_camera_ok = view.camera_ok
            self._push(status_message(view))

    def camera(self) -> dict[str, Any]:
        """``camera`` in ``GET /state``: whether it works, the frames reported, when the last
        came (epoch seconds) and how long ago (None before the first)."""
        frames, last_at, age = self.pulse.read()
        return {
            "ok": self.camera_ok(),
            "frames": frames,
            "last_frame_at": None if last_at is None else round(last_at, 3),
            "last_frame_age_s": None if age is None else round(age, 3),
            "stale_after_s": self.camera_stale_s,
        }

    def set_result(self, view: ResultView) -> None:
        """A new result: remember it (for late clients and ``/rendered``) and push it."""
        self.result = view
        self._result_at = time.monotonic()
        self._decided[view.sequence] = view.decided_at
        self._reported.discard(view.sequence)
        while len(self._decided) > MAX_SEQUENCES:
            old, _ = self._decided.popitem(last=False)
            self._reported.discard(old)
        self._push(result_message(view))

    def current_result(self) -> ResultView | None:
        """The result still within its ``hold_s``, else None."""
        if self.result is None or self._age() >= self.result.hold_s:
            return None
        return self.result

    def _age(self) -> float:
        return time.monotonic() - self._result_at

    def snapshot(self) -> list[dict[str, Any]]:
        """What a new client is sent at once: the config, the status, the held result."""
        messages = [self.config]
        status = self._shown_status()
        if status is not None:
            messages.append(status_message(status))
        result = self.current_result()
        if result is not None:
            messages.append(result_message(result, age_s=self._age(), replay=True))
        return messages

    def state(self) -> dict[str, Any]:
        """``GET /state``: the current status and held result (None when there is none), the
        camera's frames (:meth:`camera`)."""
        result = self.current_result()
        status = self._shown_status()
        return {
            "config": self.config,
            "status": None if status is None else status_message(status),
            "result": None if result is None else result_message(result, age_s=self._age()),
            "camera": self.camera(),
            "clients": self.clients,
        }

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A new SSE client's queue, filled with :meth:`snapshot` first."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)
        for message in self.snapshot():
            queue.put_nowait(message)
        self._clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """The client is gone."""
        self._clients.discard(queue)

    def close_clients(self) -> None:
        """End every stream (the server is closing)."""
        self.closing = True
        for queue in list(self._clients):
            self._drop(queue)

    def _push(self, message: dict[str, Any]) -> None:
        for queue in list(self._clients):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._drop(queue)

    def _drop(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Empty a client's queue and put :data:`CLOSE` in it: its stream ends."""
        self._clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(CLOSE)

    def rendered(self, sequence: int, shown_at_ms: float) -> bool:
        """The page painted result ``sequence`` at ``shown_at_ms`` (epoch milliseconds): record
        the latency once per result; False when it cannot be told (unknown, already reported,
        or the result had no ``decided_at``)."""
        decided_at = self._decided.get(sequence)
        if not decided_at or sequence in self._reported:
            return False
        self._reported.add(sequence)
        with self._lock:
            self._latencies.append(shown_at_ms / 1000.0 - decided_at)
        return True

    def latencies(self) -> list[float]:
        """Recorded latencies in seconds, oldest first (any thread)."""
        with self._lock:
            return list(self._latencies)
