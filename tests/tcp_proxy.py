"""A TCP forwarder the tests put between the kiosk and the broker, and break on purpose.

- :meth:`TcpProxy.blackhole`: bytes are read and thrown away in both directions; both ends
  keep an open, healthy-looking TCP connection that carries nothing (a half-open link, a
  partition). New connections are accepted and black-holed too.
- :meth:`TcpProxy.stall`: bytes are left unread; they wait in the kernel's buffers and flow
  again on :meth:`TcpProxy.heal` (a link that freezes, then recovers).
- :meth:`TcpProxy.reset`: every connection is closed at once with a TCP reset.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from typing import Literal

Mode = Literal["forward", "blackhole", "stall"]
CHUNK = 65536


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port`` on one background thread."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self.mode: Mode = "forward"
        self.connections = 0
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._closed = threading.Event()
        self._resets: list[threading.Event] = []
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The broker URL a client should use to go through the proxy."""
        return f"mqtt://127.0.0.1:{self.port}"

    def blackhole(self) -> None:
        """Swallow every byte from now on, keeping the connections open."""
        self.mode = "blackhole"

    def stall(self) -> None:
        """Stop reading; bytes wait in the socket buffers until :meth:`heal`."""
        self.mode = "stall"

    def heal(self) -> None:
        """Forward again."""
        self.mode = "forward"

    def reset(self) -> None:
        """Close every current connection with a TCP reset (RST), at both ends; returns once
        done (the proxy's own thread does it, between two reads)."""
        done = threading.Event()
        self._resets.append(done)
        assert done.wait(5), "the proxy thread did not reset"

    def close(self) -> None:
        """Stop the proxy and close everything."""
        self._closed.set()
        self._thread.join(timeout=5)
        self._reset_all()
        self._listener.close()
        self._selector.close()

    def _reset_all(self) -> None:
        with self._lock:
            sockets = list(self._pairs)
            self._pairs.clear()
        for sock in sockets:
            self._drop(sock, hard=True)

    def _run(self) -> None:
        while not self._closed.is_set():
            while self._resets:
                self._reset_all()
                self._resets.pop().set()
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                elif self.mode != "stall":
                    self._pump(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            return
        self.connections += 1
        for sock in (client, upstream):
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ)
        with self._lock:
            self._pairs[client], self._pairs[upstream] = upstream, client

    def _pump(self, sock: socket.socket) -> None:
        with self._lock:
            peer = self._pairs.get(sock)
        if peer is None:
            return
        try:
            data = sock.recv(CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pair(sock, peer)
            return
        if self.mode == "blackhole":
            return
        try:
            peer.setblocking(True)
            peer.sendall(data)
            peer.setblocking(False)
        except OSError:
            self._close_pair(sock, peer)

    def _close_pair(self, sock: socket.socket, peer: socket.socket) -> None:
        with self._lock:
            self._pairs.pop(sock, None)
            self._pairs.pop(peer, None)
        self._drop(sock, hard=False)
        self._drop(peer, hard=False)

    def _drop(self, sock: socket.socket, hard: bool) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        try:
            if hard:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
