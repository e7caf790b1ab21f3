"""The reference central receiver: what an HR system does with the terminals' check-ins.

For every batch on ``{prefix}/+/events`` it (1) validates the batch and each event against the
JSON Schemas, (2) stores the valid events idempotently (one row per ``event_id``) and commits,
(3) THEN publishes an :class:`~models.messages.AckMessage` naming all of them, duplicates
included, on ``{prefix}/{terminal}/ack``, and (4) only then acknowledges the MQTT message to the
broker. It uses a persistent session with a fixed client id, so batches queue at the broker
while it is down (mind the broker's ``max_queued_messages``). A crash at any point is safe: the
terminal resends whatever was not acknowledged, and duplicates are only counted.

Messages are handled on the thread that calls :meth:`Receiver.run`, never in paho callbacks.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from central.receiver.batch_check import BatchChecker
from central.receiver.store import ReceiverStore, Reject, StoreOutcome, TerminalSummary
from common.errors import MessageError, StoreError
from common.mqtt.broker_url import BrokerAddress, TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import Disconnected, LinkOptions, Message, Subscribed
from models.messages import SCHEMA_VERSION, AckMessage, CheckInEvent, format_rfc3339

log = logging.getLogger(__name__)

__all__ = [
    "Receiver",
    "ReceiverStore",
    "Reject",
    "StoreOutcome",
    "TerminalSummary",
    "describe_event",
]

SESSION_EXPIRY_S = 7 * 24 * 3600
IDLE_POLL_S = 0.2
RETRY_S = 1.0


def describe_event(event: CheckInEvent) -> str:
    """One line per check-in: ``2026-11-22T10:00:01.123Z kiosk-01 #42 E1001 face 0.38``."""
    line = (
        f"{format_rfc3339(event.captured_at)} {event.terminal_id} #{event.seq}"
        f" {event.person_id} {event.method.value}"
    )
    return line if event.distance is None else f"{line} {event.distance:.2f}"


class Receiver:
    """Receives, stores once and acknowledges every terminal's check-ins."""

    def __init__(
        self,
        broker_url: str,
        db_path: Path,
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
        self.ready = threading.Event()
        """Set while subscribed: batches published from now on reach this receiver."""

    def run(self, stop: threading.Event) -> None:
        """Receive until ``stop`` is set; a database that cannot be opened raises StoreError."""
        store = ReceiverStore(self.db_path)
        link = MqttLink(self.options, interrupt=stop)
        log.info("receiving %s into %s", self.options.subscriptions[0][0], self.db_path)
        try:
            while not stop.is_set():
                for event in link.poll(0.0 if self._queue else IDLE_POLL_S):
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

    def _work(self, link: MqttLink, store: ReceiverStore, stop: threading.Event) -> None:
        while self._queue and not stop.is_set():
            message = self._queue[0]
            try:
                self._handle(link, store, message)
            except StoreError as exc:
                log.error("receiver: %s; retrying in %.0f s", exc, RETRY_S)
                stop.wait(RETRY_S)
                return
            except Exception:
                log.exception("receiver: dropped a message on %s", message.topic)
            self._queue.popleft()

    def _handle(self, link: MqttLink, store: ReceiverStore, message: Message) -> None:
        terminal_id = self.topics.terminal_of_events(message.topic)
        try:
            if terminal_id is None:
                raise MessageError("not an events topic of a valid terminal id")
            batch = self._checker.check(terminal_id, message.payload)
        except MessageError as exc:
            log.warning("rejected a message on %s: %s", message.topic, exc)
            store.store([], [Reject(message.topic, str(exc), message.payload)])
            link.ack(message)
            return
        for reason in batch.rejected:
            log.warning("rejected an event on %s: %s", message.topic, reason)
        rejects = [Reject(message.topic, reason, message.payload) for reason in batch.rejected]
        outcome = store.store(batch.events, rejects)
        if batch.events:
            ids = [event.event_id for event in batch.events]
            ack = AckMessage(schema_version=SCHEMA_VERSION, event_ids=ids)
            if link.publish(self.topics.ack(terminal_id), ack.model_dump_json().encode()) is None:
                log.debug("ack for %s not sent (not connected); it will resend", terminal_id)
        link.ack(message)
        if outcome.duplicates:
            log.info(
                "%s: %d duplicate events acknowledged again", terminal_id, len(outcome.duplicates)
            )
        for event in outcome.new:
            self._announce(event)

    def _announce(self, event: CheckInEvent) -> None:
        if self.on_event is None:
            log.debug("new event %s", describe_event(event))
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("receiver: on_event failed for %s", event.event_id)
