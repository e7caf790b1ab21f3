"""One MQTT v5 connection, driven entirely by the thread that owns it.

The owner calls :meth:`MqttLink.poll` in its loop: it (re)connects when due (exponential
backoff with jitter), runs one pass of the network loop and returns what happened as
:data:`LinkEvent` values. paho callbacks run inside that call and only append to a list, so the
owner handles every event in its own code, never inside a callback. There is no background
thread (no ``loop_start``).

The network loop is paho's external-loop API (``loop_read``, ``loop_write``, ``loop_misc``)
over a :class:`selectors.DefaultSelector` (epoll on Linux), not paho's ``loop()``: that one waits
with ``select()``, which cannot watch a descriptor numbered 1024 or above, so a process with many
files open (a kiosk under a flood of screen clients) could never connect again.

Publishing is QoS 1 and reports the broker's MQTT v5 PUBACK reason code as a
:class:`PublishResult`: a refused publish (e.g. "Not authorized") is visible, never treated as
delivered. In-flight messages live only in memory and are dropped when the connection is lost;
the caller's own store must resend them (the outbox does). ``wait_for_publish`` is never used.
"""

from __future__ import annotations

import contextlib
import logging
import random
import selectors
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from common.errors import MessageError
from common.mqtt.broker_url import BrokerAddress
from common.mqtt.paho_client import paho_client
from common.mqtt.types import (
    Connected,
    Disconnected,
    LinkEvent,
    LinkOptions,
    LinkState,
    Message,
    PublishResult,
    Subscribed,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Lost:
    reason: str


@dataclass(frozen=True)
class _ConnectRefused:
    reason: str


@dataclass(frozen=True)
class _SubAck:
    refused: tuple[str, ...]


class MqttLink:
    """An MQTT v5 client owned by one thread; see the module docstring for the rules."""

    def __init__(self, options: LinkOptions, interrupt: threading.Event | None = None) -> None:
        self.options = options
        self.address = BrokerAddress.parse(options.url)
        self._interrupt = interrupt or threading.Event()
        self._client = paho_client(options, self.address)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._inbox: list[Any] = []
        self._state = LinkState.DISCONNECTED
        self._connection = 0
        self._outstanding: set[int] = set()
        self._failures = 0
        self._next_attempt = 0.0
        self._owner: int | None = None
        self._selector: selectors.BaseSelector | None = None
        self._watched: Any = None
        """The socket registered with the selector (paho makes a new one per connection)."""
        self.last_error: str | None = None

    @property
    def state(self) -> LinkState:
        """Connection state as of the last :meth:`poll`."""
        return self._state

    @property
    def connected(self) -> bool:
        """True only between the broker's CONNACK and the loss of the connection."""
        return self._state is LinkState.CONNECTED

    @property
    def outstanding(self) -> int:
        """QoS 1 publishes of this connection still waiting for their PUBACK."""
        return len(self._outstanding)

    def poll(self, timeout: float) -> list[LinkEvent]:
        """(Re)connect when due, run the network loop for up to ``timeout`` s, report events."""
        self._check_owner()
        events = self._drain()  # e.g. a write that failed inside publish()
        if self._state is LinkState.DISCONNECTED:
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                self._interrupt.wait(min(timeout, wait))
                return events
            self._connect()
            if self._state is LinkState.DISCONNECTED:
                return events
        rc = self._network(timeout)
        events.extend(self._drain())
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS and self._state is not LinkState.DISCONNECTED:
            events.extend(self._lose(mqtt.error_string(rc)))
        return events

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Publish; return the message id to match a later :class:`PublishResult`.

        None means the message was not handed to a live connection (not connected, or the
        socket just failed): treat it as not sent, and never republish on that basis alone.
        """
        self._check_owner()
        if not self.connected:
            return None
        try:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        except ValueError as exc:
            raise MessageError(f"cannot publish on {topic!r}: {exc}") from None
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            log.debug("publish on %s not sent: %s", topic, mqtt.error_string(info.rc))
            return None
        if qos > 0:
            self._outstanding.add(info.mid)
        return info.mid

    def ack(self, message: Message) -> None:
        """With ``manual_ack``: PUBACK ``message`` now (no-op if its connection is gone)."""
        self._check_owner()
        current = self.connected and message.connection == self._connection
        if self.options.manual_ack and message.qos > 0 and current:
            self._client.ack(message.mid, message.qos)

    def flush(self, timeout: float) -> bool:
        """Poll until every publish is acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.connected and self._outstanding and time.monotonic() < deadline:
            self.poll(0.05)
        return self.connected and not self._outstanding

    def close(self) -> None:
        """Disconnect cleanly (the broker then discards the last will)."""
        self._check_owner()
        if self._state is not LinkState.DISCONNECTED:
            self._client.disconnect()
            deadline = time.monotonic() + 1.0
            while self._client.socket() is not None and time.monotonic() < deadline:
                self._network(0.05)
        self._state = LinkState.DISCONNECTED
        self._outstanding.clear()
        self._inbox.clear()
        if self._selector is not None:
            self._selector.close()
            self._selector = None
            self._watched = None

    def _network(self, timeout: float) -> MQTTErrorCode:
        """One pass of paho's network loop, waiting up to ``timeout`` s for the socket: what
        ``Client.loop()`` does, with the selector instead of ``select()``."""
        sock = self._client.socket()
        if sock is None or self._selector is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        want = selectors.EVENT_READ
        if self._client.want_write():
            want |= selectors.EVENT_WRITE
        if sock is not self._watched:
            self._forget_socket()
            self._selector.register(sock, want)
            self._watched = sock
        else:
            self._selector.modify(sock, want)
        # TLS may hold decrypted bytes the socket no longer signals.
        pending = sock.pending() if hasattr(sock, "pending") else 0
        ready = 0
        for _key, mask in self._selector.select(0.0 if pending else timeout):
            ready |= mask
        if pending or ready & selectors.EVENT_READ:
            rc = self._client.loop_read()
            if rc or self._client.socket() is None:
                return rc
        if ready & selectors.EVENT_WRITE:
            rc = self._client.loop_write()
            if rc or self._client.socket() is None:
                return rc
        return self._client.loop_misc()

    def _forget_socket(self) -> None:
        """Unregister the previous connection's socket (closed by now, or about to be)."""
        if self._watched is not None and self._selector is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(self._watched)
        self._watched = None

    def _connect(self) -> None:
        opts = self.options
        properties = None
        if opts.session_expiry_s > 0:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = opts.session_expiry_s
        self._state = LinkState.CONNECTING
        try:
            if self._selector is None:
                self._selector = selectors.DefaultSelector()
            rc = self._client.connect(
                self.address.host,
                self.address.port,
                opts.keepalive_s,
                clean_start=opts.clean_start,
                properties=properties,
            )
        except OSError as exc:  # includes ssl.SSLError and DNS failures
            self._fail(f"cannot connect to {self.address}: {exc}")
            return
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._fail(f"cannot connect to {self.address}: {mqtt.error_string(rc)}")

    def _drain(self) -> list[LinkEvent]:
        inbox, self._inbox = self._inbox, []
        events: list[LinkEvent] = []
        for item in inbox:
            if isinstance(item, Connected):
                self._established(item)
                events.append(item)
            elif isinstance(item, _ConnectRefused):
                self._fail(f"{self.address} refused the connection: {item.reason}")
            elif isinstance(item, _Lost):
                events.extend(self._lose(item.reason))
            elif isinstance(item, _SubAck) and self.connected:
                if item.refused:
                    self.last_error = "subscription refused: " + ", ".join(item.refused)
                    log.warning("%s", self.last_error)
                else:
                    events.append(Subscribed())
            elif isinstance(item, PublishResult):
                self._outstanding.discard(item.mid)
                events.append(item)
            elif isinstance(item, mqtt.MQTTMessage):
                received = self._received(item)
                if received is not None:
                    events.append(received)
        return events

    def _received(self, msg: mqtt.MQTTMessage) -> Message | None:
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            log.warning("ignored a message whose topic is not valid UTF-8")
            return None
        payload = bytes(msg.payload)
        return Message(topic, payload, msg.qos, msg.mid, msg.retain, self._connection)

    def _established(self, event: Connected) -> None:
        self._state = LinkState.CONNECTED
        self._connection += 1
        self._failures = 0
        self.last_error = None
        log.info(
            "connected to %s as %s%s",
            self.address,
            self.options.client_id,
            " (session resumed)" if event.session_present else "",
        )
        if self.options.subscriptions:
            self._client.subscribe(list(self.options.subscriptions))

    def _lose(self, reason: str) -> list[LinkEvent]:
        if self._state is LinkState.DISCONNECTED:
            return []
        if self._state is LinkState.CONNECTING:
            self._fail(f"cannot connect to {self.address}: {reason}")
            return []
        self._state = LinkState.DISCONNECTED
        self._outstanding.clear()
        self._client.drop_out_messages()
        self.last_error = f"connection to {self.address} lost: {reason}"
        delay = self._schedule_retry()
        log.warning("%s; reconnecting in %.1f s", self.last_error, delay)
        return [Disconnected(reason)]

    def _fail(self, error: str) -> None:
        self._state = LinkState.DISCONNECTED
        self._client.drop_out_messages()
        repeated = error == self.last_error
        self.last_error = error
        delay = self._schedule_retry()
        log.log(logging.DEBUG if repeated else logging.WARNING, "%s; retry in %.1f s", error, delay)

    def _schedule_retry(self) -> float:
        opts = self.options
        ceiling = min(opts.reconnect_max_s, opts.reconnect_min_s * 2 ** min(self._failures, 30))
        delay = random.uniform(ceiling / 2, ceiling)
        self._failures += 1
        self._next_attempt = time.monotonic() + delay
        return delay

    def _check_owner(self) -> None:
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            raise RuntimeError("an MqttLink must be used by the one thread that owns it")

    # paho callbacks: they run inside poll() and only record what happened.

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        if reason.is_failure:
            self._inbox.append(_ConnectRefused(str(reason)))
        else:
            self._inbox.append(Connected(bool(flags.session_present)))

    def _on_disconnect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        if flags.is_disconnect_packet_from_server:
            self._inbox.append(_Lost(f"the broker disconnected us ({reason})"))
        elif str(reason) == "Unspecified error":
            self._inbox.append(_Lost("socket closed"))
        else:
            self._inbox.append(_Lost(str(reason)))

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        self._inbox.append(PublishResult(mid, int(reason.value), str(reason)))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.append(msg)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any) -> None:
        self._inbox.append(_SubAck(tuple(str(code) for code in codes if code.is_failure)))
