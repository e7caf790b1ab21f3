"""Keep terminals' rosters current: publish again to whoever reports an older version.

Rosters are not retained, so a terminal that was offline (or replaced) when its roster went out
never sees it. :class:`RosterFollower` watches ``{prefix}/+/status`` (retained statuses arrive at
once) and publishes the roster, signed and bound to that terminal, through
:class:`~central.rosters.publish.RosterPublisher` to every ``online`` terminal whose
``roster_version`` is older than its own (or missing).

It does not publish in a loop while a terminal is applying or refusing: after a publish it holds
that terminal for a back-off (``backoff_s``, doubling per terminal up to ``backoff_max_s``, reset
when the terminal reports the version), unless the terminal reconnects (an ``online`` status
after an ``offline`` one). Each status and each publish gives one log line. Everything runs in
the thread that calls :meth:`RosterFollower.run`, never in paho callbacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.rosters.publish import RosterPublisher
from common.errors import BrokerError
from common.mqtt.topics import Topics
from common.mqtt.types import Disconnected, LinkOptions, Subscribed
from models.messages import TerminalState, TerminalStatus
from models.roster import RosterPerson
from models.roster_codec import DEFAULT_CHUNK_PEOPLE, build_roster_messages
from models.schedule import Schedule

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.2
PUBLISH_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class SignedRoster:
    """What to publish: the people (and the schedule, if any) of one version, signed with
    ``key_id`` for each terminal."""

    people: Sequence[RosterPerson]
    private_key: Ed25519PrivateKey
    key_id: str
    version: int
    chunk_size: int = DEFAULT_CHUNK_PEOPLE
    schedule: Schedule | None = None

    def messages_for(self, terminal_id: str) -> list[bytes]:
        """The signed chunks bound to ``terminal_id``, as ``kiosk roster publish`` makes them."""
        return build_roster_messages(
            self.people,
            self.private_key,
            self.key_id,
            self.version,
            self.chunk_size,
            terminal_id,
            schedule=self.schedule,
        )


@dataclass
class _Terminal:
    """What the follower knows of one terminal."""

    wait_s: float
    online: bool = False
    reported: int | None = None
    error: str | None = None
    hold_until: float = 0.0


class RosterFollower:
    """Publishes ``roster`` to each terminal whose online status shows an older version."""

    def __init__(
        self,
        options: LinkOptions,
        topics: Topics,
        roster: SignedRoster,
        terminal_ids: Collection[str] | None = None,
        backoff_s: float = 60.0,
        backoff_max_s: float = 3600.0,
    ) -> None:
        self.options = options
        self.topics = topics
        self.roster = roster
        self.only = frozenset(terminal_ids) if terminal_ids else None
        self.backoff_s = backoff_s
        self.backoff_max_s = max(backoff_s, backoff_max_s)
        self.published: dict[str, int] = {}
        """Rosters published per terminal id (each one all of its chunks)."""
        self.statuses_seen: dict[str, int] = {}
        """Statuses handled per followed terminal id."""
        self.ignored: set[str] = set()
        """Terminals that reported a status but are not among ``terminal_ids``."""
        self.rounds = 0
        """Rounds of the loop completed (each: read what arrived, publish what is due)."""
        self.ready = threading.Event()
        """Set while subscribed to the statuses."""
        self._terminals: dict[str, _Terminal] = {}

    def run(self, stop: threading.Event) -> None:
        """Follow statuses and publish until ``stop`` is set."""
        publisher = RosterPublisher(
            self.options, self.topics, [], every_terminal=True, interrupt=stop
        )
        publisher.on_status = self._on_status
        who = ", ".join(sorted(self.only)) if self.only else "every terminal"
        log.info(
            "following %s: roster version %d for %s",
            self.topics.all_statuses(),
            self.roster.version,
            who,
        )
        try:
            while not stop.is_set():
                for event in publisher.poll(IDLE_POLL_S):
                    if isinstance(event, Subscribed):
                        self.ready.set()
                    elif isinstance(event, Disconnected):
                        self.ready.clear()
                now = time.monotonic()
                for terminal_id, terminal in list(self._terminals.items()):
                    if stop.is_set():
                        break
                    if self._outdated(terminal) and now >= terminal.hold_until:
                        self._publish(publisher, terminal_id, terminal)
                self.rounds += 1
        finally:
            self.ready.clear()
            publisher.close()

    def reported(self, terminal_id: str) -> int | None:
        """The roster version ``terminal_id`` last reported (None: none, or not seen)."""
        terminal = self._terminals.get(terminal_id)
        return None if terminal is None else terminal.reported

    def _outdated(self, terminal: _Terminal) -> bool:
        return terminal.online and (terminal.reported or 0) < self.roster.version

    def _on_status(self, terminal_id: str, status: TerminalStatus) -> None:
        if self.only is not None and terminal_id not in self.only:
            if terminal_id not in self.ignored:
                log.debug("%s is not followed: its status is ignored", terminal_id)
                self.ignored.add(terminal_id)
            return
        self.statuses_seen[terminal_id] = self.statuses_seen.get(terminal_id, 0) + 1
        terminal = self._terminals.setdefault(terminal_id, _Terminal(self.backoff_s))
        online = status.state is TerminalState.ONLINE
        if online and not terminal.online:
            terminal.hold_until = 0.0  # (re)connected: publish again at once if it needs it
        terminal.online = online
        terminal.reported = status.roster_version
        terminal.error = status.roster_error
        version = self.roster.version
        has = f"roster version {status.roster_version}" if status.roster_version else "no roster"
        if not online:
            log.info("%s is offline (%s): waiting for it to reconnect", terminal_id, has)
        elif not self._outdated(terminal):
            terminal.wait_s = self.backoff_s
            log.info("%s has %s: up to date with version %d", terminal_id, has, version)
        else:
            wait = terminal.hold_until - time.monotonic()
            refused = (
                f", refused the last roster: {status.roster_error}" if status.roster_error else ""
            )
            if wait > 0:
                level = logging.WARNING if refused else logging.INFO
                log.log(
                    level,
                    "%s has %s%s: version %d was sent, holding for %.0f s more",
                    terminal_id,
                    has,
                    refused,
                    version,
                    wait,
                )

    def _publish(self, publisher: RosterPublisher, terminal_id: str, terminal: _Terminal) -> None:
        terminal.hold_until = time.monotonic() + terminal.wait_s
        hold = terminal.wait_s
        terminal.wait_s = min(terminal.wait_s * 2, self.backoff_max_s)
        messages = self.roster.messages_for(terminal_id)
        has = f"roster version {terminal.reported}" if terminal.reported else "no roster"
        if terminal.error:
            has += f", refused the last roster: {terminal.error}"
        count = f"{len(messages)} message" + ("s" if len(messages) != 1 else "")
        log.log(
            logging.WARNING if terminal.error else logging.INFO,
            "%s has %s: publishing version %d, %d people in %s; next at the earliest in %.0f s",
            terminal_id,
            has,
            self.roster.version,
            len(self.roster.people),
            count,
            hold,
        )
        try:
            publisher.publish({terminal_id: messages}, PUBLISH_TIMEOUT_S)
        except BrokerError as exc:
            if not publisher.interrupt.is_set():
                log.error(
                    "%s: roster version %d not published: %s", terminal_id, self.roster.version, exc
                )
            return
        self.published[terminal_id] = self.published.get(terminal_id, 0) + 1
