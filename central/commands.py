"""The central side of commands: publish a signed command to one terminal, collect its result.

:class:`CommandSender` subscribes to the terminal's ``{prefix}/{terminal}/results`` first
(results are not retained, so an answer can only be seen by a subscription made before it),
then publishes the message from :func:`models.command.build_command` on
``{prefix}/{terminal}/commands`` at QoS 1 and waits for the broker's PUBACK; a refused publish
(PUBACK 0x87 "Not authorized": only the central user may write commands) is an error. After a
lost connection it publishes the same bytes again: the terminal runs a command id once and
answers a repeat with the result it stored, so asking twice is always safe (and is how to get a
result that was lost: publish the same message again).

A terminal that is away gets the command from its persistent session when it comes back (for up
to its ``session_expiry_s``, and only until ``expires_at``). An HR system that wants every
answer keeps its own persistent subscription to ``{prefix}/+/results``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from uuid import UUID

from pydantic import ValidationError

from common.errors import BrokerError
from common.mqtt.link import MqttLink
from common.mqtt.topics import Topics
from common.mqtt.types import (
    Connected,
    Disconnected,
    LinkOptions,
    Message,
    PublishResult,
    Subscribed,
)
from models.command import CommandResult

log = logging.getLogger(__name__)

POLL_S = 0.05


class CommandSender:
    """One MQTT connection, owned by the calling thread, for the commands of one terminal."""

    def __init__(
        self, options: LinkOptions, topics: Topics, terminal_id: str, listen: bool = True
    ) -> None:
        self.command_topic = topics.commands(terminal_id)
        self.result_topic = topics.results(terminal_id)
        self.listen = listen
        subscriptions = ((self.result_topic, 1),) if listen else ()
        self.link = MqttLink(dataclasses.replace(options, subscriptions=subscriptions))
        self.results: list[CommandResult] = []

    def close(self) -> None:
        """Disconnect."""
        self.link.close()

    def send(self, message: bytes, timeout_s: float) -> None:
        """Publish ``message`` until the broker has it; :class:`BrokerError` if it refuses it
        or does not take it within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        ready = False
        mid: int | None = None
        while True:
            if time.monotonic() > deadline:
                error = self.link.last_error or "no error reported"
                raise BrokerError(f"timed out: the broker did not take the command ({error})")
            if ready and mid is None and self.link.connected:
                mid = self.link.publish(self.command_topic, message)
            for event in self.link.poll(POLL_S):
                if isinstance(event, Subscribed) or (
                    isinstance(event, Connected) and not self.listen
                ):
                    ready = True
                elif isinstance(event, Disconnected):
                    ready, mid = False, None  # publish again: the terminal runs it once
                elif isinstance(event, PublishResult) and event.mid == mid:
                    if not event.ok:
                        raise BrokerError(f"the broker refused the command ({event.reason})")
                    return
                elif isinstance(event, Message):
                    self._record(event)

    def wait_result(self, command_id: UUID, timeout_s: float) -> CommandResult | None:
        """The terminal's result for ``command_id``, or None when none came within
        ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            for result in self.results:
                if result.command_id == command_id:
                    return result
            if time.monotonic() > deadline:
                return None
            for event in self.link.poll(POLL_S):
                if isinstance(event, Message):
                    self._record(event)

    def _record(self, message: Message) -> None:
        if message.topic != self.result_topic:
            return
        try:
            self.results.append(CommandResult.model_validate_json(message.payload))
        except ValidationError:
            log.warning("ignored a message on %s that is not a command result", message.topic)
