"""The central side of rosters: publish signed chunks to terminals and see them applied.

:func:`publish_rosters` publishes every terminal's messages (from
:func:`models.roster_codec.build_roster_messages`) on ``{prefix}/{terminal}/roster`` at QoS 1,
at most :data:`WINDOW` awaiting the broker's PUBACK at once, and publishes again whatever was
in flight when the connection dropped (terminals ignore a chunk they already have). A refused
publish (e.g. PUBACK 0x87 "Not authorized": the ACL lets only the central user write rosters)
stops it with an error. With ``wait_s`` it then watches the terminals' retained status until
each reports the new ``roster_version`` (or the reason it refused the roster).

Rosters are not retained: a terminal that is away gets them from its persistent session (for
up to its ``session_expiry_s``), and the central side publishes again to any terminal whose
``online`` status shows an older ``roster_version``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from common.errors import BrokerError, RosterError
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import Disconnected, LinkEvent, LinkOptions, Message, PublishResult
from models.messages import TerminalState, TerminalStatus

log = logging.getLogger(__name__)

WINDOW = 10
"""Roster messages awaiting the broker's PUBACK at once."""
NOT_APPLIED = "not_applied"


@dataclass(frozen=True)
class _Outgoing:
    terminal_id: str
    index: int
    payload: bytes


class RosterPublisher:
    """One MQTT connection, owned by the calling thread, that publishes rosters.

    It follows the status of ``terminal_ids``, or of every terminal with ``every_terminal``;
    ``on_status`` (if set) sees each status as it arrives, in the owner's thread. Setting
    ``interrupt`` stops :meth:`publish` with a :class:`BrokerError`.
    """

    def __init__(
        self,
        options: LinkOptions,
        topics: Topics,
        terminal_ids: list[str],
        every_terminal: bool = False,
        interrupt: threading.Event | None = None,
    ) -> None:
        status_topics = tuple((topics.status(t), 1) for t in terminal_ids)
        if every_terminal:
            status_topics = ((topics.all_statuses(), 1),)
        self.topics = topics
        self.interrupt = interrupt or threading.Event()
        self.link = MqttLink(dataclasses.replace(options, subscriptions=status_topics), interrupt)
        self.statuses: dict[str, TerminalStatus | None] = dict.fromkeys(terminal_ids)
        self.on_status: Callable[[str, TerminalStatus], None] | None = None
        self._every_terminal = every_terminal

    def close(self) -> None:
        """Disconnect."""
        self.link.close()

    def publish(
        self,
        rosters: Mapping[str, list[bytes]],
        timeout_s: float,
        acknowledged: Callable[[int, int], None] | None = None,
    ) -> int:
        """Publish every message until the broker has acknowledged all; return how many.
        ``acknowledged(done, total)`` is called as the broker acknowledges them."""
        queue = deque(_Outgoing(t, i, p) for t, ms in rosters.items() for i, p in enumerate(ms))
        total = len(queue)
        inflight: dict[int, _Outgoing] = {}
        deadline = time.monotonic() + timeout_s
        while queue or inflight:
            if self.interrupt.is_set():
                raise BrokerError("stopped before the broker acknowledged every roster message")
            if time.monotonic() > deadline:
                done = total - len(queue) - len(inflight)
                raise BrokerError(
                    f"timed out: the broker acknowledged {done} of {total} roster messages"
                    f" ({self.link.last_error or 'no error reported'})"
                )
            while self.link.connected and queue and len(inflight) < WINDOW:
                item = queue[0]
                mid = self.link.publish(self.topics.roster(item.terminal_id), item.payload)
                if mid is None:
                    break
                inflight[mid] = queue.popleft()
            for event in self.link.poll(0.05):
                if isinstance(event, PublishResult) and event.mid in inflight:
                    item = inflight.pop(event.mid)
                    if not event.ok:
                        raise BrokerError(
                            f"the broker refused roster chunk {item.index} for"
                            f" {item.terminal_id} ({event.reason})"
                        )
                    if acknowledged is not None:
                        acknowledged(total - len(queue) - len(inflight), total)
                elif isinstance(event, Disconnected):
                    queue.extendleft(sorted(inflight.values(), key=_order, reverse=True))
                    inflight.clear()
                elif isinstance(event, Message):
                    self._record(event)
        return total

    def wait_applied(self, version: int, timeout_s: float) -> dict[str, TerminalStatus | None]:
        """Wait until every terminal's status shows ``version``; :class:`RosterError` if not."""
        deadline = time.monotonic() + timeout_s
        while not all(_has(s, version) for s in self.statuses.values()):
            if time.monotonic() > deadline:
                late = [t for t, s in self.statuses.items() if not _has(s, version)]
                raise RosterError(NOT_APPLIED, "; ".join(self._describe(t) for t in late))
            self.poll(0.05)
        return dict(self.statuses)

    def poll(self, timeout_s: float) -> list[LinkEvent]:
        """Run the connection for up to ``timeout_s``, recording statuses; return its events."""
        events = self.link.poll(timeout_s)
        for event in events:
            if isinstance(event, Message):
                self._record(event)
        return events

    def _record(self, message: Message) -> None:
        terminal_id = self.topics.terminal_of_status(message.topic)
        if terminal_id is None or not (self._every_terminal or terminal_id in self.statuses):
            return
        try:
            status = TerminalStatus.model_validate_json(message.payload)
        except ValidationError:
            log.warning("ignored a status on %s that is not a valid status", message.topic)
            return
        self.statuses[terminal_id] = status
        if self.on_status is not None:
            self.on_status(terminal_id, status)

    def _describe(self, terminal_id: str) -> str:
        status = self.statuses[terminal_id]
        if status is None:
            return f"{terminal_id}: no status seen"
        text = f"{terminal_id} ({status.state.value}) has roster version {status.roster_version}"
        return text + (f", last refusal: {status.roster_error}" if status.roster_error else "")


def _order(item: _Outgoing) -> tuple[str, int]:
    return (item.terminal_id, item.index)


def _has(status: TerminalStatus | None, version: int) -> bool:
    return (
        status is not None
        and status.state is TerminalState.ONLINE
        and (status.roster_version or 0) >= version
    )
