"""The values exchanged with :class:`~common.mqtt.link.MqttLink`: options and events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from common.mqtt.broker_url import TlsOptions


class LinkState(StrEnum):
    """Where the connection stands."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(frozen=True)
class LastWill:
    """Message the broker publishes if the connection drops without a clean DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class LinkOptions:
    """Everything needed to connect; ``session_expiry_s > 0`` with ``clean_start=False``
    makes the broker keep the session (subscriptions, queued QoS 1 messages) while away."""

    url: str
    client_id: str
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = None
    clean_start: bool = True
    session_expiry_s: int = 0
    will: LastWill | None = None
    subscriptions: tuple[tuple[str, int], ...] = ()
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    max_inflight: int = 20
    manual_ack: bool = False
    tls: TlsOptions | None = None
    connect_timeout_s: float = 5.0


@dataclass(frozen=True)
class Connected:
    """The broker accepted the connection; subscriptions have been (re)sent."""

    session_present: bool


@dataclass(frozen=True)
class Disconnected:
    """An established connection ended; messages awaiting PUBACK were dropped."""

    reason: str


@dataclass(frozen=True)
class PublishResult:
    """The broker's PUBACK for the QoS 1 publish ``mid``."""

    mid: int
    reason_code: int
    reason: str

    @property
    def ok(self) -> bool:
        """False when the broker refused the message (reason code 0x80 or higher)."""
        return self.reason_code < 0x80


@dataclass(frozen=True)
class Message:
    """A message received on a subscription; ``connection`` numbers the connection it came on."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    retain: bool
    connection: int


@dataclass(frozen=True)
class Subscribed:
    """The broker granted every subscription of the current connection."""


LinkEvent = Connected | Disconnected | PublishResult | Message | Subscribed
