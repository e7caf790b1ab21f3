"""The terminals' status for the HR API: their retained ``{prefix}/+/status`` messages.

:class:`StatusFollower` owns one MQTT connection in a thread of its own (paho's callbacks only
record; :class:`~common.mqtt.link.MqttLink` hands the messages to this thread) and keeps the
last valid status of each terminal, with when it came. The retained messages arrive at once on
subscribing, so the API knows every terminal's last state right after it starts; a status that
is not a valid :class:`~models.messages.TerminalStatus` is logged and ignored.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import Connected, Disconnected, LinkOptions, Message
from models.messages import TerminalStatus, format_rfc3339

log = logging.getLogger(__name__)

POLL_S = 0.2


@dataclass(frozen=True)
class SeenStatus:
    """A terminal's last status and when this service received it (RFC 3339)."""

    status: TerminalStatus
    received_at: str


class StatusFollower:
    """Follows every terminal's retained status until :meth:`stop`."""

    def __init__(self, options: LinkOptions, topics: Topics) -> None:
        self.topics = topics
        self.options = dataclasses.replace(options, subscriptions=((topics.all_statuses(), 1),))
        self._statuses: dict[str, SeenStatus] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        """Whether the broker connection is up (the statuses may be stale while it is not)."""

    def start(self) -> None:
        """Connect and follow, in a thread of its own."""
        self._thread = threading.Thread(target=self._run, name="api-statuses", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Disconnect and end the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def snapshot(self) -> dict[str, SeenStatus]:
        """Each terminal's last status, by terminal id."""
        with self._lock:
            return dict(self._statuses)

    def _run(self) -> None:
        link = MqttLink(self.options, interrupt=self._stop)
        try:
            while not self._stop.is_set():
                for event in link.poll(POLL_S):
                    if isinstance(event, Message):
                        self._record(event)
                    elif isinstance(event, Connected):
                        self.connected = True
                    elif isinstance(event, Disconnected):
                        self.connected = False
        finally:
            link.close()

    def _record(self, message: Message) -> None:
        terminal_id = self.topics.terminal_of_status(message.topic)
        if terminal_id is None or not message.payload:
            return
        try:
            status = TerminalStatus.model_validate_json(message.payload)
        except ValidationError:
            log.warning("ignored a status on %s that is not a terminal status", message.topic)
            return
        if status.terminal_id != terminal_id:
            log.warning("ignored a status of %s on %s", status.terminal_id, message.topic)
            return
        seen = SeenStatus(status, format_rfc3339(datetime.now(UTC)))
        with self._lock:
            self._statuses[terminal_id] = seen
