"""Bounds on what clients of the kiosk page can hold: connections, streams, time, log lines.

Anyone who can reach the page's port could otherwise open connections until the daemon runs out
of file descriptors, and then its broker connection, its database and its camera fail with it.
So on the web server's loop:

- :class:`ConnectionGuard` wraps the server's protocol factory: at most ``limit`` connections
  are served at once; one more is answered ``503`` and closed at once (its descriptor is free
  again a loop pass or two later), and a connection whose first request head has not arrived
  within ``head_timeout_s`` is dropped (an idle or trickling client holds nothing for long).
- :class:`StreamSlots` counts the long-lived responses (``/events``, ``/preview.mjpg``);
  beyond its limit they are refused with ``503``, ``Retry-After`` and a one-line reason.
- :class:`ThrottledLog` keeps a repeated warning (refusals, the loop's own errors such as
  ``accept()`` failing with "Too many open files") to one line per interval with a count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0
"""A repeated warning is logged at most this often (with how many were left out)."""
RETRY_AFTER_S = 5
"""What a refused client is told to wait before trying again (the page retries by itself)."""


class ThrottledLog:
    """Logs each kind of repeated event at most once per ``every_s``, with the count since."""

    MAX_KINDS = 256
    """Kinds remembered; beyond, those not seen for ``every_s`` are forgotten."""

    def __init__(self, logger: logging.Logger, every_s: float = LOG_EVERY_S) -> None:
        """Nothing logged yet."""
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def log(
        self,
        kind: str,
        message: str,
        *,
        level: int = logging.WARNING,
        exc_info: BaseException | None = None,
    ) -> None:
        """Log ``message`` unless ``kind`` was logged less than ``every_s`` ago (then count it)."""
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.every_s:
            self._left_out[kind] = self._left_out.get(kind, 0) + 1
            return
        if last is None and len(self._last) >= self.MAX_KINDS:
            self._forget(now)
        self._last[kind] = now
        left_out = self._left_out.pop(kind, 0)
        if left_out and last is not None:
            message += f" ({left_out} more like this in the last {now - last:.0f} s)"
        self.logger.log(level, "%s", message, exc_info=exc_info)

    def _forget(self, now: float) -> None:
        for kind, last in list(self._last.items()):
            if now - last >= self.every_s:
                del self._last[kind]
                self._left_out.pop(kind, None)


def refusal_response(reason: str) -> bytes:
    """A complete ``503`` response that closes the connection, for a connection not served."""
    body = (reason + "\n").encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionGuard:
    """A protocol factory for ``loop.create_server``: ``serve()``'s protocols, at most ``limit``
    connections at once, each with ``head_timeout_s`` to send its first request head.

    Only the loop's thread uses it.
    """

    def __init__(
        self,
        serve: Callable[[], asyncio.Protocol],
        limit: int,
        head_timeout_s: float,
        warnings: ThrottledLog | None = None,
    ) -> None:
        """``serve`` makes the protocol of an admitted connection (an aiohttp ``web.Server``)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.serve = serve
        self.limit = limit
        self.head_timeout_s = head_timeout_s
        self.warnings = warnings or ThrottledLog(log)
        self.open = 0
        """Connections served now."""
        self.refused = 0
        """Connections refused because ``limit`` were open, since start."""
        self.timed_out = 0
        """Connections dropped for not sending a request head in time, since start."""

    def __call__(self) -> asyncio.Protocol:
        """The protocol of one accepted connection (admitted or refused in connection_made)."""
        return _GuardedConnection(self)

    def admit(self) -> bool:
        """Count one more connection; False (and it is refused) when ``limit`` are open."""
        if self.open >= self.limit:
            self.refused += 1
            self.warnings.log(
                "connections",
                f"kiosk page: a connection refused, {self.open} are open"
                f" ([ui] max_connections = {self.limit})",
            )
            return False
        self.open += 1
        return True

    def release(self) -> None:
        """An admitted connection is closed."""
        self.open -= 1

    def too_slow(self) -> None:
        """Count and report a connection dropped for not sending its request head in time."""
        self.timed_out += 1
        self.warnings.log(
            "slow",
            "kiosk page: a connection dropped, no request within"
            f" {self.head_timeout_s:g} s of connecting",
        )


HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class _GuardedConnection(asyncio.Protocol):
    """One accepted connection: refused at once, or handed to the server's own protocol and
    watched until its first request head is complete."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # Counted here, not when the factory is called: asyncio may call the factory for a
        # burst of accepted sockets before any of them is connected.
        if not self._guard.admit():
            transport.write(refusal_response("kiosk page: too many connections, try again later"))
            transport.close()
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.head_timeout_s, self._too_slow)
        self._inner = self._guard.serve()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._deadline is not None:
            seen = self._tail + data
            if any(end in seen for end in HEAD_ENDS):
                self._deadline.cancel()
                self._deadline = None
                self._tail = b""
            else:
                self._tail = seen[-3:]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self._inner is None else self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._inner is None:
            return
        self._guard.release()
        inner, self._inner = self._inner, None
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._transport is not None and not self._transport.is_closing():
            self._guard.too_slow()
            self._transport.abort()


class StreamSlots:
    """The long-lived responses (``/events``, ``/preview.mjpg``) served at once, at most
    ``limit``; only the loop's thread uses it."""

    def __init__(self, limit: int, warnings: ThrottledLog | None = None) -> None:
        """No stream yet."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.warnings = warnings or ThrottledLog(log)
        self.active = 0
        self.refused = 0
        """Streams refused because ``limit`` were open, since start."""

    def take(self) -> bool:
        """One more stream; False (counted and logged, throttled) when ``limit`` are open."""
        if self.active >= self.limit:
            self.refused += 1
            self.warnings.log("streams", f"kiosk page: {self.refusal()}")
            return False
        self.active += 1
        return True

    def give_back(self) -> None:
        """A stream has ended."""
        self.active -= 1

    def refusal(self) -> str:
        """The one-line reason a refused client is given."""
        return (
            f"too many screens: {self.active} streams are open, the limit is {self.limit}"
            f" ([ui] max_stream_clients); try again in {RETRY_AFTER_S} s"
        )


def loop_error_handler(
    warnings: ThrottledLog,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    """An event loop exception handler that logs each kind of error at most once a minute.

    asyncio logs every failed ``accept()`` ("Too many open files") with a traceback, and on
    Python 3.11 as many times per ready event as the listen backlog: 48 MB of log in 30 s.
    """

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message") or "event loop error")
        error = context.get("exception")
        if isinstance(error, BaseException):
            text = f"kiosk page server: {message}: {error}"
        else:
            text = f"kiosk page server: {message}"
        exc_info = error if isinstance(error, Exception) else None
        warnings.log(message, text, level=logging.ERROR, exc_info=exc_info)

    return handle
