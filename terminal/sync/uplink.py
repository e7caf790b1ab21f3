"""The sync: delivers the outbox to the central system over MQTT, until it acknowledges.

:class:`SyncWorker` runs in its own thread with its own outbox connection and its own
:class:`~common.mqtt.link.MqttLink`. Pending events go out oldest first as
:class:`~models.messages.EventBatch` messages; an event becomes ``acked`` only when the
central side's :class:`~models.messages.AckMessage` names it. Events not acknowledged within
``ack_timeout_s``, and every ``sent`` event after a restart or reconnect, are sent again: the
central side stores each ``event_id`` once, so duplicates are harmless and nothing is lost.
Enrollment notices (:mod:`terminal.store.enrollment_notices`: that a person's face was
enrolled here, never the template) go out retained on ``{prefix}/{terminal}/enrollments/{person}``
and are marked published once the broker has PUBACKed them; pending ones go out again after a
reconnect. What the central side sends (acks, roster chunks, commands) is queued and handled by
:mod:`terminal.sync.inbound`, which also decides when each message is PUBACKed; a message that
is waiting to be tried again holds up neither the delivery of events nor the other topics.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from common.errors import ConfigError, KioskError, StoreError
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import Connected, Disconnected, LinkEvent, Message, PublishResult
from models.messages import TerminalState
from terminal.config import Config
from terminal.store import enrollment_notices
from terminal.store.database import write_transaction
from terminal.store.outbox import Outbox
from terminal.store.retention import Retention
from terminal.sync.command_kinds import Diagnose
from terminal.sync.inbound import Inbound
from terminal.sync.inflight import InFlight
from terminal.sync.messages import batch_payload, link_options, notice_payload, status_payload

log = logging.getLogger(__name__)

MAX_INFLIGHT_BATCHES = 10
"""Batches published and still waiting for the broker's PUBACK."""
MAX_INFLIGHT_NOTICES = 5
"""Enrollment notices published and still waiting for the broker's PUBACK."""
MAX_UNACKED_BATCHES = 20
"""Batches' worth of events published and waiting for the central ack before publishing stops."""
IDLE_POLL_S = 0.2
MAX_ERROR_BACKOFF_S = 10.0
STATE_REFRESH_S = 1.0
STATUS_REFRESH_S = 30.0
NOTICE_POLL_S = 1.0


@dataclass(frozen=True)
class SyncState:
    """What the daemon and ``kiosk doctor`` may show about delivery (a snapshot)."""

    connected: bool = False
    last_error: str | None = None
    backlog: int | None = None
    awaiting_ack: int = 0
    rejected_acks: int = 0
    roster_version: int | None = None
    rejected_rosters: int = 0
    restart_requested: bool = False
    waiting_messages: int = 0
    """Messages from the central side received and not yet PUBACKed (some may be failing)."""
    failed_messages: int = 0
    """Messages from the central side given up on after failing every attempt (a bug)."""


class SyncWorker:
    """Delivers the outbox of ``config.database_path`` until ``stop`` is set."""

    def __init__(
        self,
        config: Config,
        stop: threading.Event,
        version: str,
        diagnose: Diagnose | None = None,
    ) -> None:
        if config.mqtt is None:
            raise ConfigError("no [mqtt] section in the config: the terminal is offline-only")
        self.mqtt = config.mqtt
        self.terminal_id = config.terminal.id
        self.site = config.terminal.site
        self.db_path = config.database_path
        self.stop = stop
        self.version = version
        self.topics = Topics(self.mqtt.topic_prefix)
        self._inbound = Inbound(self.topics, config, stop, diagnose)
        will = self._status(TerminalState.OFFLINE, None, stamped=False)
        subscriptions = self._inbound.subscriptions
        max_inflight = MAX_INFLIGHT_BATCHES + MAX_INFLIGHT_NOTICES + 2
        self.options = link_options(config, will, subscriptions, max_inflight)
        self._link = MqttLink(self.options, interrupt=stop)
        self._inflight = InFlight(self.mqtt.ack_timeout_s)
        self._retention = Retention(
            config.storage.retain_acked_days,
            keep_damaged_days=config.storage.keep_damaged_days,
            processing_log_days=config.privacy.processing_log_days,
        )
        self._todo: deque[LinkEvent] = deque()
        self._state = SyncState()
        self._requeue_all = True
        self._status_due = False
        self._status_backlog: int | None = None
        self._pause_until = 0.0
        self._refusals = 0
        self._next_refresh = 0.0
        self._next_status = 0.0
        self._busy = False
        self._notices: dict[int, enrollment_notices.EnrollmentNotice] = {}
        """Enrollment notices awaiting the broker's PUBACK, by message id."""
        self._next_notices = 0.0

    @classmethod
    def from_config(cls, config: Config, stop: threading.Event, version: str) -> SyncWorker | None:
        """A worker, or None when the config has no ``[mqtt]`` section (offline-only)."""
        return None if config.mqtt is None else cls(config, stop, version)

    @property
    def state(self) -> SyncState:
        """The latest delivery state (safe to read from any thread)."""
        return self._state

    def run(self) -> None:
        """Deliver until ``stop`` is set. Never raises: errors are logged and retried."""
        outbox = self._open_outbox()
        if outbox is None:
            return
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self._step(outbox)
                    failures = 0
                except Exception as exc:
                    failures += 1
                    self._report(exc)
                    # Short enough for the MQTT keepalive to survive the pause.
                    longest = min(MAX_ERROR_BACKOFF_S, self.mqtt.keepalive_s / 2)
                    self.stop.wait(min(longest, 0.5 * 2 ** min(failures, 10)))
        finally:
            self._shutdown(outbox)

    def _open_outbox(self) -> Outbox | None:
        failures = 0
        while not self.stop.is_set():
            try:
                return Outbox.open(self.db_path, self.terminal_id, self.site)
            except StoreError as exc:
                failures += 1
                self._report(exc)
                self.stop.wait(min(MAX_ERROR_BACKOFF_S, 0.5 * 2**failures))
        return None

    def _step(self, outbox: Outbox) -> None:
        self._inbound.open(outbox)
        self._todo.extend(self._link.poll(0.0 if self._busy else IDLE_POLL_S))
        while self._todo:
            try:
                self._handle(outbox, self._todo[0])
            except StoreError:
                raise  # keep the event: it is handled again after the backoff
            except Exception:
                self._todo.popleft()
                raise
            self._todo.popleft()
        self._handle_messages(outbox)
        now = time.monotonic()
        if self._requeue_all:
            outbox.requeue(None)
            self._requeue_all = False
        self._resend_overdue(outbox, now)
        if self._status_due or (self._link.connected and now >= self._next_status):
            self._publish_status(outbox, now)
        if now >= self._next_refresh:
            self._refresh(outbox, now)
        self._retention.maybe_purge(outbox, now)
        self._busy = False
        while self._publish_batch(outbox, now):
            self._busy = True
            self._set_state(awaiting_ack=self._inflight.events)
        if self._link.connected and not self._notices and now >= self._next_notices:
            self._publish_notices(outbox, now)

    def _handle(self, outbox: Outbox, event: LinkEvent) -> None:
        if isinstance(event, Connected | Disconnected):
            self._notices.clear()  # those not marked published go out again
            self._next_notices = 0.0
        if isinstance(event, Connected):
            self._inflight.clear()
            self._requeue_all = True
            self._status_due = True
            self._set_state(connected=True, last_error=None)
        elif isinstance(event, Disconnected):
            self._inflight.clear()
            self._set_state(connected=False, last_error=self._link.last_error)
        elif isinstance(event, PublishResult):
            self._on_publish_result(outbox, event)
        elif isinstance(event, Message):
            self._inbound.receive(event)

    def _handle_messages(self, outbox: Outbox) -> None:
        for message, reply in self._inbound.handle_due(outbox, self._inflight):
            for topic, payload in reply.publish:
                self._link.publish(topic, payload)
            self._link.ack(message)  # only now: what it said is stored, or it was refused
            self._status_due |= reply.status_due
            if reply.resend_all:
                self._inflight.clear()
                self._requeue_all = True
        self._set_state(**self._inbound.counters())
        error = self._inbound.database_error()
        if error is not None:
            self._set_state(last_error=error)

    def _on_publish_result(self, outbox: Outbox, result: PublishResult) -> None:
        notice = self._notices.get(result.mid)
        if notice is not None:
            self._on_notice_result(outbox, result, notice)
            return
        unsettled = self._inflight.broker_answered(result.mid)
        if result.ok:
            self._refusals = 0
            return
        if unsettled is None:
            error = f"broker refused the status message ({result.reason})"
            log.warning("%s", error)
            self._set_state(last_error=error)
            return
        error = f"broker refused a batch of {len(unsettled)} events ({result.reason})"
        outbox.requeue([u.seq for u in unsettled])
        self._inflight.settle(u.event_id for u in unsettled)
        self._refusals += 1
        pause = min(self.mqtt.reconnect_max_s, self.mqtt.reconnect_min_s * 2**self._refusals)
        self._pause_until = time.monotonic() + pause
        log.warning("%s; publishing again in %.1f s", error, pause)
        self._set_state(last_error=error)

    def _publish_notices(self, outbox: Outbox, now: float) -> None:
        self._next_notices = now + NOTICE_POLL_S
        for notice in enrollment_notices.pending(outbox.db.conn, MAX_INFLIGHT_NOTICES):
            topic = self.topics.enrollment(self.terminal_id, notice.person_id)
            try:
                payload = notice_payload(self.terminal_id, notice)
            except ValueError as exc:  # a damaged row: the others still go out
                log.error("enrollment notice of %s not sent: %s", notice.person_id, exc)
                continue
            mid = self._link.publish(topic, payload, qos=1, retain=True)
            if mid is None:
                return
            self._notices[mid] = notice
        if len(self._notices) == MAX_INFLIGHT_NOTICES:
            self._next_notices = now  # more may wait: the next round once these are taken

    def _on_notice_result(
        self, outbox: Outbox, result: PublishResult, notice: enrollment_notices.EnrollmentNotice
    ) -> None:
        if result.ok:
            with write_transaction(outbox.db) as conn:
                enrollment_notices.mark_published(conn, notice)
        else:
            error = f"broker refused the enrollment notice of {notice.person_id} ({result.reason})"
            log.warning("%s; publishing again in %.1f s", error, self.mqtt.reconnect_max_s)
            self._set_state(last_error=error)
            self._next_notices = time.monotonic() + self.mqtt.reconnect_max_s
        del self._notices[result.mid]

    def _resend_overdue(self, outbox: Outbox, now: float) -> None:
        overdue = self._inflight.expired(now)
        if overdue:
            count = outbox.requeue(u.seq for u in overdue)
            self._inflight.settle(u.event_id for u in overdue)
            if count:
                timeout = self.mqtt.ack_timeout_s
                log.info("no central ack within %.0f s: %d events to resend", timeout, count)

    def _has_room(self) -> bool:
        return (
            self._inflight.batches < MAX_INFLIGHT_BATCHES
            and self._inflight.events < MAX_UNACKED_BATCHES * self.mqtt.batch_size
            and time.monotonic() >= self._pause_until
        )

    def _publish_batch(self, outbox: Outbox, now: float) -> bool:
        if not self._link.connected or self._requeue_all or not self._has_room():
            return False
        events = outbox.due(self.mqtt.batch_size)
        if not events:
            return False
        payload = batch_payload(self.terminal_id, events)
        mid = self._link.publish(self.topics.events(self.terminal_id), payload, qos=1)
        if mid is None:
            return False
        self._inflight.published(mid, events, now)
        outbox.mark_sent(event.seq for event in events)
        return True

    def _refresh(self, outbox: Outbox, now: float) -> None:
        self._next_refresh = now + STATE_REFRESH_S
        self._set_state(
            backlog=outbox.backlog(),
            awaiting_ack=self._inflight.events,
            connected=self._link.connected,
            last_error=self._link.last_error or self._state.last_error,
        )

    def _publish_status(self, outbox: Outbox, now: float) -> None:
        self._next_status = now + STATUS_REFRESH_S
        if not self._link.connected:
            return
        backlog = outbox.backlog()
        if not self._status_due and backlog == self._status_backlog:
            return
        payload = self._status(TerminalState.ONLINE, backlog)
        if self._link.publish(self.topics.status(self.terminal_id), payload, retain=True):
            self._status_due = False
            self._status_backlog = backlog

    def _status(self, state: TerminalState, backlog: int | None, stamped: bool = True) -> bytes:
        roster = self._inbound.roster if stamped else None
        return status_payload(self.terminal_id, self.version, state, backlog, stamped, roster)

    def _shutdown(self, outbox: Outbox) -> None:
        try:
            if self._link.connected:
                payload = self._status(TerminalState.OFFLINE, outbox.backlog())
                self._link.publish(self.topics.status(self.terminal_id), payload, retain=True)
                self._link.flush(2.0)
            self._link.close()
        except Exception as exc:
            self._report(exc)
        finally:
            outbox.close()
            self._set_state(connected=False)
            log.info("sync stopped")

    def _report(self, exc: Exception) -> None:
        known = isinstance(exc, KioskError)
        error = str(exc) if known else f"{type(exc).__name__}: {exc}"
        log.error("sync: %s", error) if known else log.exception("sync: unexpected error")
        self._set_state(last_error=error)

    def _set_state(self, **changes: Any) -> None:
        self._state = dataclasses.replace(self._state, **changes)
