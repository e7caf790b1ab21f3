"""What the central side sends a terminal: acks of its events, its roster, commands.

The sync subscribes to ``{prefix}/{terminal}/ack``, ``.../roster`` and ``.../commands`` with
``manual_ack``: :class:`~common.mqtt.link.MqttLink` only queues what arrives. The sync's thread
hands each message to :meth:`Inbound.receive` and, at every step, takes from
:meth:`Inbound.handle_due` the messages that are finished with: it publishes what each returns
to publish (a command's result), then acknowledges the message to the broker (PUBACK). So an
ack is PUBACKed after the outbox has recorded it, a roster chunk after it is staged in the
database and a command after its result is recorded: if the terminal dies first, the broker
delivers the message again (the session is persistent) and nothing is lost or done twice.

A message is PUBACKed only once it has been handled or deliberately refused:

- Refused on purpose (malformed, oversized, nested too deeply, unsigned, forged, for another
  terminal, stale, expired...): logged, counted, PUBACKed; a bad message never blocks the ones
  behind it.
- A database error (:class:`~common.errors.StoreError`, or an :class:`sqlite3.Error` the store
  let through, classified the same way): not PUBACKed, tried again after a back-off doubling
  from :data:`RETRY_FIRST_S` to :data:`RETRY_MAX_S`, for as long as it takes. The message is
  never lost: after a restart the broker delivers it again.
- Any other exception is a bug (a command kind that fails is not one: :mod:`terminal.sync.commands`
  answers it ``failed``): not PUBACKed, tried again with the same back-off up to
  :data:`MAX_ATTEMPTS` times in all (a transient fault loses nothing), then given up on: an
  ERROR names the topic, the attempts and the exception (with its traceback), the sync counts
  it (``failed_messages``) and PUBACKs the message, so a poison message holds up the ones
  behind it for about half a minute, not for ever.

Messages wait in one first-come-first-served queue per topic: those behind a failing message on
its topic wait for it (commands run in the order they were sent, roster chunks are staged in
theirs), while the other topics and the delivery of events go on. Within a session the broker
does not send again a message we have not PUBACKed, so these retries are our own; after a
reconnect it sends every such message again as well, and handling one twice is harmless (acks
are idempotent, a roster chunk is staged once, a command id runs once). The broker sends a
terminal only so many unacknowledged messages at a time (mosquitto's ``max_inflight_messages``,
20 by default), so a topic backed up behind a failing message can hold up the others once that
many wait.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from common.errors import MessageError, StoreError
from common.mqtt.topics import Topics
from common.mqtt.types import Message
from common.sqlite import classify
from terminal.config import Config
from terminal.store.outbox import Outbox
from terminal.store.template_seal import seal_for
from terminal.sync.command_kinds import Diagnose
from terminal.sync.commands import CommandHandler
from terminal.sync.inflight import InFlight
from terminal.sync.messages import parse_ack
from terminal.sync.rosters import RosterReceiver, RosterState

log = logging.getLogger("terminal.sync.uplink")

RETRY_S = 60.0
"""Seconds before opening the roster store is tried again after a database error."""
RETRY_FIRST_S = 1.0
"""Seconds before a message that failed is tried again the first time; doubled each time."""
RETRY_MAX_S = 30.0
"""Longest wait between two attempts at a message."""
MAX_ATTEMPTS = 6
"""Attempts at a message failing with anything but a database error before it is given up on
(with the back-off, about 31 s)."""


@dataclass(frozen=True)
class Reply:
    """What the sync does after a message, before PUBACKing it, and after."""

    publish: tuple[tuple[str, bytes], ...] = ()
    """(topic, payload) to publish at QoS 1 first."""
    status_due: bool = False
    """Publish a fresh status (the roster in force changed, or a command asked)."""
    resend_all: bool = False
    """Send every unacknowledged event again now."""


@dataclass
class Pending:
    """A message received and not yet finished with: how often it failed, when to try again."""

    message: Message
    attempts: int = 0
    retry_at: float = 0.0


class Inbound:
    """Handles the sync's incoming messages in its own thread, never in paho callbacks.

    A command that needs a restart (``set_setting``) sets ``stop`` once answered; the daemon
    then exits for systemd to start it again (:attr:`restart_requested`).
    """

    def __init__(
        self,
        topics: Topics,
        config: Config,
        stop: threading.Event,
        diagnose: Diagnose | None = None,
    ) -> None:
        self.config = config
        self.diagnose = diagnose
        self.terminal_id = config.terminal.id
        self.ack_topic = topics.ack(self.terminal_id)
        self.roster_topic = topics.roster(self.terminal_id)
        self.command_topic = topics.commands(self.terminal_id)
        self.result_topic = topics.results(self.terminal_id)
        self.keys_dir = config.central.public_keys_dir
        self.seal = seal_for(config.privacy.template_key_file)
        self.stop = stop
        self.rejected_acks = 0
        self.failed_messages = 0
        self.restart_requested = False
        self._roster: RosterReceiver | None = None
        self._commands: CommandHandler | None = None
        self._retry_at = 0.0
        self._waiting: dict[str, deque[Pending]] = {}
        self._database_error: str | None = None

    @property
    def subscriptions(self) -> tuple[tuple[str, int], ...]:
        """The topics to subscribe to, at QoS 1."""
        return tuple(
            (topic, 1) for topic in (self.ack_topic, self.roster_topic, self.command_topic)
        )

    @property
    def roster(self) -> RosterState | None:
        """The roster state, or None until :meth:`open` has run."""
        return None if self._roster is None else self._roster.state

    def roster_shown(self) -> tuple[int | None, str | None]:
        """What the status shows of the roster: the version in force, the last refusal."""
        roster = self.roster
        return (roster.version, roster.last_refusal) if roster else (None, None)

    def counters(self) -> dict[str, Any]:
        """The :class:`~terminal.sync.uplink.SyncState` fields this module keeps up to date."""
        roster = self.roster or RosterState()
        return {
            "rejected_acks": self.rejected_acks,
            "roster_version": roster.version,
            "rejected_rosters": roster.refused,
            "restart_requested": self.restart_requested,
            "waiting_messages": sum(len(queue) for queue in self._waiting.values()),
            "failed_messages": self.failed_messages,
        }

    def database_error(self) -> str | None:
        """The database error a message met since the last call, if one did (then forgotten)."""
        error, self._database_error = self._database_error, None
        return error

    def open(self, outbox: Outbox) -> None:
        """Attach to the sync's database (once); applies a roster completed before a restart.

        An error is logged and tried again after :data:`RETRY_S`, never raised: event delivery
        must not wait for rosters.
        """
        if self._roster is not None or time.monotonic() < self._retry_at:
            return
        try:
            self._roster = RosterReceiver(outbox.db, self.terminal_id, self.keys_dir, self.seal)
        except (StoreError, sqlite3.Error) as exc:
            self._retry_at = time.monotonic() + RETRY_S
            error = exc if isinstance(exc, StoreError) else self._classified(exc)
            log.error("rosters: %s; trying again in %.0f s", error, RETRY_S)
        except Exception:
            self._retry_at = time.monotonic() + RETRY_S
            log.exception("rosters: unexpected error; trying again in %.0f s", RETRY_S)

    def receive(self, message: Message) -> None:
        """Queue a message the link delivered, behind those of its topic not yet finished."""
        self._waiting.setdefault(message.topic, deque()).append(Pending(message))

    def handle_due(
        self, outbox: Outbox, inflight: InFlight, now: float | None = None
    ) -> Iterator[tuple[Message, Reply]]:
        """Handle the queued messages whose turn has come, each topic's in the order received,
        and yield each one finished with (handled, refused on purpose, or given up on) with its
        :class:`Reply`. The caller does what the reply says and PUBACKs the message before it
        asks for the next; a message that failed stays queued, with those behind it on its
        topic, until it is tried again (see the module docstring for the policy)."""
        now = time.monotonic() if now is None else now
        for queue in list(self._waiting.values()):
            while queue and queue[0].retry_at <= now:
                pending = queue[0]
                reply = self._attempt(pending, outbox, inflight)
                if reply is None:
                    break
                yield pending.message, reply
                queue.popleft()  # only once the caller has PUBACKed it

    def handle(self, message: Message, outbox: Outbox, inflight: InFlight) -> Reply:
        """Apply an ack, stage a roster chunk or run a command; then the sync does what the
        :class:`Reply` says and PUBACKs the message.

        A message refused on purpose returns normally. A database error raises
        :class:`~common.errors.StoreError` (a raw :class:`sqlite3.Error` is classified as one);
        anything else raised is a bug. In both cases the message must not be PUBACKed yet.
        """
        shown = self.roster_shown()
        try:
            if message.topic == self.ack_topic:
                self._apply_ack(message.payload, outbox, inflight)
            elif message.topic == self.roster_topic:
                if self._roster is None:
                    self._roster = RosterReceiver(
                        outbox.db, self.terminal_id, self.keys_dir, self.seal
                    )
                self._roster.receive(message.payload)
            elif message.topic == self.command_topic:
                return self._command(message.payload, outbox)
            else:
                log.debug("ignored a message on %s", message.topic)
        except sqlite3.Error as exc:
            raise self._classified(exc) from exc
        return Reply(status_due=self.roster_shown() != shown)

    def _attempt(self, pending: Pending, outbox: Outbox, inflight: InFlight) -> Reply | None:
        """Handle ``pending`` once: its reply, or None when it is to be tried again later."""
        topic = pending.message.topic
        pending.attempts += 1
        try:
            return self.handle(pending.message, outbox, inflight)
        except StoreError as exc:
            self._database_error = str(exc)
            delay = self._retry_later(pending)
            log.error(
                "sync: %s; the message on %s stays unacknowledged (attempt %d), next attempt in"
                " %.1f s",
                exc,
                topic,
                pending.attempts,
                delay,
            )
            return None
        except Exception as exc:
            what = f"{type(exc).__name__}: {exc}"
            if pending.attempts < MAX_ATTEMPTS:
                delay = self._retry_later(pending)
                log.warning(
                    "sync: a message on %s failed (attempt %d of %d): %s; next attempt in %.1f s",
                    topic,
                    pending.attempts,
                    MAX_ATTEMPTS,
                    what,
                    delay,
                    exc_info=pending.attempts == 1,
                )
                return None
            self.failed_messages += 1
            log.error(
                "sync: gave up on a message on %s after %d attempts and acknowledged it (the"
                " broker will not send it again); the last attempt failed with %s",
                topic,
                pending.attempts,
                what,
                exc_info=exc,
            )
            return Reply()

    @staticmethod
    def _retry_later(pending: Pending) -> float:
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** min(pending.attempts - 1, 30))
        pending.retry_at = time.monotonic() + delay
        return delay

    def _classified(self, exc: sqlite3.Error) -> StoreError:
        return classify(exc, self.config.database_path)

    def _command(self, payload: bytes, outbox: Outbox) -> Reply:
        if self._commands is None:
            self._commands = CommandHandler(outbox.db, self.config, diagnose=self.diagnose)
        outcome = self._commands.handle(payload, outbox)
        if outcome.restart:
            log.info("restarting to apply the settings the central system changed")
            self.restart_requested = True
            self.stop.set()  # the sync publishes the result and PUBACKs before it stops
        publish = () if outcome.result is None else ((self.result_topic, outcome.result),)
        return Reply(publish, status_due=outcome.resend_all, resend_all=outcome.resend_all)

    def _apply_ack(self, payload: bytes, outbox: Outbox, inflight: InFlight) -> None:
        try:
            ack = parse_ack(payload)
        except MessageError as exc:
            log.warning("ignored an ack message on %s: %s", self.ack_topic, exc)
            self.rejected_acks += 1
            return
        ids = [str(event_id) for event_id in ack.event_ids]
        changed = outbox.mark_acked(ids)
        inflight.settle(ids)
        log.debug("ack for %d events, %d newly acknowledged", len(ids), changed)
