"""The sync's memory of what it published and what is still unsettled.

Two things are tracked: batches waiting for the broker's PUBACK (by MQTT message id) and
events waiting for the central acknowledgement, each with a resend deadline. Nothing here is
durable: after a restart or reconnect the outbox puts every ``sent`` event back to ``pending``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from models.messages import CheckInEvent


@dataclass(frozen=True)
class Unsettled:
    """One published event: its id, its outbox ``seq`` and when to resend it."""

    event_id: str
    seq: int
    deadline: float


class InFlight:
    """Published batches and events not yet acknowledged, oldest deadline first."""

    def __init__(self, ack_timeout_s: float) -> None:
        self.ack_timeout_s = ack_timeout_s
        self._batches: dict[int, list[str]] = {}
        self._events: OrderedDict[str, Unsettled] = OrderedDict()

    @property
    def batches(self) -> int:
        """Batches published on this connection whose PUBACK has not come yet."""
        return len(self._batches)

    @property
    def events(self) -> int:
        """Events published and not yet acknowledged centrally."""
        return len(self._events)

    def published(self, mid: int, events: Iterable[CheckInEvent], now: float) -> None:
        """Record a batch handed to the broker as message ``mid`` at time ``now``."""
        ids = []
        for event in events:
            event_id = str(event.event_id)
            self._events.pop(event_id, None)
            self._events[event_id] = Unsettled(event_id, event.seq, now + self.ack_timeout_s)
            ids.append(event_id)
        self._batches[mid] = ids

    def broker_answered(self, mid: int) -> list[Unsettled] | None:
        """The PUBACK for ``mid`` came: forget the batch, return its still-unsettled events.

        None if ``mid`` is not one of our batches (e.g. a status message).
        """
        ids = self._batches.pop(mid, None)
        if ids is None:
            return None
        return [self._events[event_id] for event_id in ids if event_id in self._events]

    def expired(self, now: float) -> list[Unsettled]:
        """Events whose acknowledgement is overdue (they stay tracked until :meth:`settle`)."""
        overdue = []
        for unsettled in self._events.values():
            if unsettled.deadline > now:
                break
            overdue.append(unsettled)
        return overdue

    def settle(self, event_ids: Iterable[str]) -> None:
        """Stop tracking these events (acknowledged, or put back to pending)."""
        for event_id in event_ids:
            self._events.pop(event_id, None)

    def clear(self) -> None:
        """Forget everything (the connection was lost or re-established)."""
        self._batches.clear()
        self._events.clear()
