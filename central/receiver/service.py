"""The reference central receiver: what an HR system does with the terminals' check-ins.

For every batch on ``{prefix}/+/events`` it (1) validates the batch and each event against the
JSON Schemas, (2) stores the valid events idempotently (one row per ``event_id``), records each
refused event in ``rejects`` (with its reason and its own JSON) and each conflicting one in
``conflicts``, and commits, (3) THEN publishes an :class:`~models.messages.AckMessage` on
``{prefix}/{terminal}/ack`` naming every event of the batch whose ``event_id`` could be read:
stored, duplicate, conflicting or refused (an event refused and recorded is acknowledged too,
so that the terminal stops sending it: it would be refused again forever, and its batch-mates
with it), and (4) only then acknowledges the MQTT message to the broker. It uses a persistent
session with a fixed client id, so batches queue at the broker while it is down (mind the
broker's ``max_queued_messages``). A crash at any point is safe: the terminal resends whatever
was not acknowledged, duplicates are only counted, and a reject or conflict is recorded once.

An event without a readable ``event_id`` cannot be acknowledged: the terminal (never one of
ours, which makes every id) sends it again, and each time it is recorded as a reject. A seq that
a terminal uses again under another ``event_id`` (its database was lost or replaced) is logged
at CRITICAL, a changed event at ERROR, once each.

A message is acknowledged to the broker only once it was handled or deliberately refused: a
database error leaves it unacknowledged and it is tried again (after 1 s, then 2, 4... up to
30 s, while the connection is kept alive); an unexpected error of its handling is recorded as a
reject ``internal error: ...`` (no event acknowledged: the terminal resends them) before the
message is acknowledged, and if even that record fails, it is tried again the same way.

Messages that arrived together (up to :data:`GROUP_MAX` queued) are stored in one transaction:
one commit for a burst from a fleet, not one per message; a database error leaves all of them
unacknowledged, and an unexpected error makes the receiver handle that group one message at a
time, so only the message causing it is refused.

Messages are handled on the thread that calls :meth:`Receiver.run`, never in paho callbacks.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from central.receiver.batch_check import BatchChecker, CheckedBatch
from central.receiver.store import (
    Batch,
    Conflict,
    ConflictKind,
    ReceiverStore,
    Reject,
    RejectRecord,
    StoreOutcome,
    TerminalSummary,
)
from common.errors import MessageError, StoreError
from common.mqtt.broker_url import BrokerAddress, TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import Disconnected, LinkOptions, Message, Subscribed
from models.messages import SCHEMA_VERSION, AckMessage, CheckInEvent, format_rfc3339

log = logging.getLogger(__name__)

__all__ = [
    "Conflict",
    "ConflictKind",
    "Receiver",
    "ReceiverStore",
    "Reject",
    "RejectRecord",
    "StoreOutcome",
    "TerminalSummary",
    "describe_event",
]

SESSION_EXPIRY_S = 7 * 24 * 3600
IDLE_POLL_S = 0.2
RETRY_S = 1.0
"""The first wait before a message that could not be handled or recorded is tried again."""
RETRY_MAX_S = 30.0
"""The longest such wait (doubling from :data:`RETRY_S`)."""
GROUP_MAX = 100
"""The most queued messages stored in one transaction (one commit, one fsync, for all)."""


def describe_event(event: CheckInEvent) -> str:
    """One line per check-in: ``2026-11-22T10:00:01.123Z kiosk-01 #42 E1001 face 0.38``."""
    line = (
        f"{format_rfc3339(event.captured_at)} {event.terminal_id} #{event.seq}"
        f" {event.person_id} {event.method.value}"
    )
    return line if event.distance is None else f"{line} {event.distance:.2f}"


def _log_conflict(conflict: Conflict) -> None:
    """One line for a conflict recorded for the first time: CRITICAL for a reused seq."""
    differences = ", ".join(conflict.differences)
    if conflict.kind is ConflictKind.SEQ:
        log.critical(
            "terminal %s used seq %d again: event %s, but %s is stored at that seq (they"
            " differ in %s); its database was lost or replaced? Both are kept, see conflicts",
            conflict.terminal_id, conflict.seq, conflict.event_id, conflict.stored_event_id,
            differences,
        )  # fmt: skip
    else:
        log.error(
            "terminal %s sent event %s (seq %d) again with other content (%s); the first is"
            " kept, the other recorded in conflicts",
            conflict.terminal_id, conflict.event_id, conflict.seq, differences,
        )  # fmt: skip


class Receiver:
    """Receives, stores once and acknowledges every terminal's check-ins."""

    def __init__(
        self,
        broker_url: str,
        db_path: str | Path,
        topic_prefix: str = "attendance/v1",
        group: str | None = None,
        client_id: str | None = None,
        on_event: Callable[[CheckInEvent], None] | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: TlsOptions | None = None,
    ) -> None:
        BrokerAddress.parse(broker_url)
        self.topics = Topics(topic_prefix)
        self.db_path = db_path
        self.on_event = on_event
        if client_id is None:
            client_id = "kiosk-receiver"
            if group is not None:
                client_id = f"kiosk-receiver-{group}-{socket.gethostname()}"
        self.options = LinkOptions(
            url=broker_url,
            client_id=client_id,
            username=username,
            password=password,
            clean_start=False,
            session_expiry_s=SESSION_EXPIRY_S,
            subscriptions=((self.topics.all_events(group), 1),),
            reconnect_min_s=0.5,
            reconnect_max_s=30.0,
            manual_ack=True,
            tls=tls,
        )
        self._checker = BatchChecker()
        self._queue: deque[Message] = deque()
        self._retry_s = RETRY_S
        self._retry_at = 0.0  # time.monotonic() before which the first message waits
        self._alone = 0  # how many of the next messages are handled one at a time
        self.ready = threading.Event()
        """Set while subscribed: batches published from now on reach this receiver."""

    def run(self, stop: threading.Event) -> None:
        """Receive until ``stop`` is set; a database that cannot be opened raises StoreError."""
        store = ReceiverStore(self.db_path)
        link = MqttLink(self.options, interrupt=stop)
        log.info("receiving %s into %s", self.options.subscriptions[0][0], store.name)
        try:
            while not stop.is_set():
                for event in link.poll(0.0 if self._due() else IDLE_POLL_S):
                    if isinstance(event, Message):
                        self._queue.append(event)
                    elif isinstance(event, Subscribed):
                        self.ready.set()
                    elif isinstance(event, Disconnected):
                        self.ready.clear()
                self._work(link, store, stop)
        finally:
            self.ready.clear()
            link.close()
            store.close()

    def _due(self) -> bool:
        """Whether a queued message may be handled now (none is waiting to be tried again)."""
        return bool(self._queue) and time.monotonic() >= self._retry_at

    def _work(self, link: MqttLink, store: ReceiverStore, stop: threading.Event) -> None:
        """Store the queued messages, up to :data:`GROUP_MAX` in one transaction, and
        acknowledge them. After an unexpected error the messages of that group are handled one
        at a time, so that only the one causing it is refused."""
        while self._due() and not stop.is_set():
            size = 1 if self._alone > 0 else GROUP_MAX
            group = list(itertools.islice(self._queue, size))
            try:
                self._handle(link, store, group)
            except StoreError as exc:
                self._retry_later(
                    f"{exc}; {len(group)} message(s) from {group[0].topic} on stay unacknowledged"
                )
                return
            except Exception as exc:
                if len(group) > 1:
                    self._alone = len(group)
                    continue
                log.exception("receiver: internal error on a message on %s", group[0].topic)
                if not self._refuse(link, store, group[0], exc):
                    return
            self._retry_s = RETRY_S
            for _ in group:
                self._queue.popleft()
            self._alone = max(0, self._alone - len(group))

    def _retry_later(self, why: str) -> None:
        """Leave the first queued message for the next try, after a wait that doubles each
        time (the link is polled meanwhile: the connection stays alive)."""
        log.error("receiver: %s; trying again in %.0f s", why, self._retry_s)
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)

    def _refuse(
        self, link: MqttLink, store: ReceiverStore, message: Message, error: Exception
    ) -> bool:
        """Record ``message``, whose handling failed with ``error``, as a reject and
        acknowledge it to the broker (no event of it is acknowledged: the terminal sends them
        again). False if even that failed: the message stays queued, unacknowledged."""
        reason = f"internal error: {type(error).__name__}: {error}"
        terminal_id = self.topics.terminal_of_events(message.topic)
        try:
            store.store([], [Reject(message.topic, reason, message.payload, terminal_id)])
            link.ack(message)
        except Exception as exc:
            self._retry_later(f"cannot record the message on {message.topic} either ({exc})")
            return False
        return True

    def _handle(self, link: MqttLink, store: ReceiverStore, group: Sequence[Message]) -> None:
        """Check each message of ``group``, store them all in one transaction, then
        acknowledge each (an ack to its terminal naming its events, and to the broker)."""
        checked: list[tuple[Message, str | None, CheckedBatch | None]] = []
        batches: list[Batch] = []
        for message in group:
            terminal_id = self.topics.terminal_of_events(message.topic)
            try:
                if terminal_id is None:
                    raise MessageError("not an events topic of a valid terminal id")
                batch = self._checker.check(terminal_id, message.payload)
            except MessageError as exc:
                log.warning("rejected a message on %s: %s", message.topic, exc)
                reject = Reject(message.topic, str(exc), message.payload, terminal_id)
                checked.append((message, terminal_id, None))
                batches.append(Batch([], [reject], message.topic))
                continue
            for rejected in batch.rejected:
                log.warning("rejected an event on %s: %s", message.topic, rejected.reason)
            rejects = [
                Reject(message.topic, r.reason, r.payload, terminal_id, r.event_id)
                for r in batch.rejected
            ]
            checked.append((message, terminal_id, batch))
            batches.append(Batch(batch.events, rejects, message.topic))
        outcomes = store.store_batches(batches)
        for (message, terminal_id, batch_checked), outcome in zip(checked, outcomes, strict=True):
            if batch_checked is not None and terminal_id is not None:
                self._acknowledge(link, terminal_id, batch_checked, outcome)
            link.ack(message)
            for refused in outcome.refused:
                log.error("rejected an event on %s: %s", message.topic, refused.reason)
            for conflict in outcome.conflicts:
                _log_conflict(conflict)
            for event in outcome.new:
                self._announce(event)

    def _acknowledge(
        self, link: MqttLink, terminal_id: str, batch: CheckedBatch, outcome: StoreOutcome
    ) -> None:
        """Tell the terminal which of its events are safe (stored now, before, or refused)."""
        ids = list(dict.fromkeys(batch.event_ids))  # each once, in batch order
        if ids:
            ack = AckMessage(schema_version=SCHEMA_VERSION, event_ids=ids)
            if link.publish(self.topics.ack(terminal_id), ack.model_dump_json().encode()) is None:
                log.debug("ack for %s not sent (not connected); it will resend", terminal_id)
        if outcome.duplicates:
            log.info(
                "%s: %d duplicate events acknowledged again", terminal_id, len(outcome.duplicates)
            )

    def _announce(self, event: CheckInEvent) -> None:
        if self.on_event is None:
            log.debug("new event %s", describe_event(event))
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("receiver: on_event failed for %s", event.event_id)
