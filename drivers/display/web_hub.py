"""The kiosk page's state on the server: the current status and result, the Server-Sent Events
clients they are pushed to, and the latencies the page reports.

Everything here runs on the web server's event loop thread (:mod:`drivers.display.web` hands
values over with ``loop.call_soon_threadsafe``); only :meth:`Hub.latencies` is read from other
threads, under a lock.
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


class Hub:
    """The current status and result, and the SSE clients they are pushed to."""

    def __init__(self, config: dict[str, Any]) -> None:
        """``config``: the page's settings (sounds, spoken prompts, preview), sent first."""
        self.config = {"type": "config", **config}
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
        """A new status: remember it and push it."""
        self.status = view
        self._push(status_message(view))

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
        if self.status is not None:
            messages.append(status_message(self.status))
        result = self.current_result()
        if result is not None:
            messages.append(result_message(result, age_s=self._age(), replay=True))
        return messages

    def state(self) -> dict[str, Any]:
        """``GET /state``: the current status and held result (None when there is none)."""
        result = self.current_result()
        return {
            "config": self.config,
            "status": None if self.status is None else status_message(self.status),
            "result": None if result is None else result_message(result, age_s=self._age()),
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
