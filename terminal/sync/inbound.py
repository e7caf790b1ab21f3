"""What the central side sends a terminal: acks of its events, its roster, commands.

The sync subscribes to ``{prefix}/{terminal}/ack``, ``.../roster`` and ``.../commands`` with
``manual_ack``: :class:`~common.mqtt.link.MqttLink` only queues what arrives, and the sync's
thread hands each message to :meth:`Inbound.handle`, publishes what it returns to publish (a
command's result), then acknowledges the message to the broker (PUBACK). So an ack is PUBACKed
after the outbox has recorded it, a roster chunk after it is staged in the database and a
command after its result is recorded: if the terminal dies first, the broker delivers the
message again (the session is persistent) and nothing is lost or done twice. A message that
cannot be stored because of a database error raises :class:`~common.errors.StoreError` and
is not PUBACKed; anything else wrong with a message is logged and the message PUBACKed, so a
bad message never blocks the ones behind it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from common.errors import MessageError, StoreError
from common.mqtt.topics import Topics
from common.mqtt.types import Message
from terminal.config import Config
from terminal.store.outbox import Outbox
from terminal.sync.command_kinds import Diagnose
from terminal.sync.commands import CommandHandler
from terminal.sync.inflight import InFlight
from terminal.sync.messages import parse_ack
from terminal.sync.rosters import RosterReceiver, RosterState

log = logging.getLogger("terminal.sync.uplink")

RETRY_S = 60.0
"""Seconds before opening the roster store is tried again after a database error."""


@dataclass(frozen=True)
class Reply:
    """What the sync does after a message, before PUBACKing it, and after."""

    publish: tuple[tuple[str, bytes], ...] = ()
    """(topic, payload) to publish at QoS 1 first."""
    status_due: bool = False
    """Publish a fresh status (the roster in force changed, or a command asked)."""
    resend_all: bool = False
    """Send every unacknowledged event again now."""


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
        self.stop = stop
        self.rejected_acks = 0
        self.restart_requested = False
        self._roster: RosterReceiver | None = None
        self._commands: CommandHandler | None = None
        self._retry_at = 0.0

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
        }

    def open(self, outbox: Outbox) -> None:
        """Attach to the sync's database (once); applies a roster completed before a restart.

        A database error is logged and tried again after :data:`RETRY_S`, never raised: event
        delivery must not wait for rosters.
        """
        if self._roster is not None or time.monotonic() < self._retry_at:
            return
        try:
            self._roster = RosterReceiver(outbox.db, self.terminal_id, self.keys_dir)
        except StoreError as exc:
            self._retry_at = time.monotonic() + RETRY_S
            log.error("rosters: %s; trying again in %.0f s", exc, RETRY_S)

    def handle(self, message: Message, outbox: Outbox, inflight: InFlight) -> Reply:
        """Apply an ack, stage a roster chunk or run a command; then the sync does what the
        :class:`Reply` says and PUBACKs the message."""
        shown = self.roster_shown()
        try:
            if message.topic == self.ack_topic:
                self._apply_ack(message.payload, outbox, inflight)
            elif message.topic == self.roster_topic:
                if self._roster is None:  # a StoreError here leaves the message unacknowledged
                    self._roster = RosterReceiver(outbox.db, self.terminal_id, self.keys_dir)
                self._roster.receive(message.payload)
            elif message.topic == self.command_topic:
                return self._command(message.payload, outbox)
            else:
                log.debug("ignored a message on %s", message.topic)
        except StoreError:
            raise
        except Exception:
            log.exception("sync: dropped a message on %s", message.topic)
        return Reply(status_due=self.roster_shown() != shown)

    def _command(self, payload: bytes, outbox: Outbox) -> Reply:
        if self._commands is None:  # a StoreError here leaves the message unacknowledged
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
