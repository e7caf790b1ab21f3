"""The systemd notification protocol (``sd_notify``): readiness, watchdog pings, status text.

A no-op when the daemon is not run by systemd (``NOTIFY_SOCKET`` unset).
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends ``READY=1``, ``WATCHDOG=1``, ``STATUS=...`` and ``STOPPING=1`` to systemd."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address
        self._socket: socket.socket | None = None
        if address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return self._socket is not None

    def _send(self, message: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(message.encode("utf-8"), self.address)
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)

    def ready(self) -> None:
        """Tell systemd start-up is complete."""
        self._send("READY=1")

    def watchdog(self) -> None:
        """Ping the watchdog (``WatchdogSec=`` in the unit)."""
        self._send("WATCHDOG=1")

    def status(self, text: str) -> None:
        """Set the one-line status shown by ``systemctl status``."""
        self._send(f"STATUS={text}")

    def stopping(self) -> None:
        """Tell systemd the daemon is shutting down."""
        self._send("STOPPING=1")
