"""The MQTT topic layout shared by the terminal's sync and the central receiver.

``{prefix}/{terminal}/events``, ``{prefix}/{terminal}/ack``, ``{prefix}/{terminal}/status``
(see :mod:`models.messages` for what travels on each), ``{prefix}/{terminal}/roster``
(:mod:`models.roster`), ``{prefix}/{terminal}/commands`` and ``{prefix}/{terminal}/results``
(:mod:`models.command`), ``{prefix}/{terminal}/enrollments/{person}`` (retained,
:mod:`models.enrollment_notice`; the person id percent-encoded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from common.errors import ConfigError
from models.messages import TERMINAL_ID_PATTERN

_TERMINAL_ID = re.compile(TERMINAL_ID_PATTERN)
_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix (``attendance/v1`` by default)."""

    prefix: str = "attendance/v1"

    def __post_init__(self) -> None:
        bad = not self.prefix or any(c in self.prefix for c in "+#")
        if bad or self.prefix.startswith(("/", "$")) or self.prefix.endswith("/"):
            raise ConfigError(
                f"topic prefix {self.prefix!r}: must be non-empty, without + or #,"
                " and must not start with / or $ nor end with /"
            )

    def events(self, terminal_id: str) -> str:
        """Where ``terminal_id`` publishes its event batches."""
        return f"{self.prefix}/{terminal_id}/events"

    def ack(self, terminal_id: str) -> str:
        """Where the central side acknowledges ``terminal_id``'s events."""
        return f"{self.prefix}/{terminal_id}/ack"

    def roster(self, terminal_id: str) -> str:
        """Where the central side publishes ``terminal_id``'s signed roster chunks."""
        return f"{self.prefix}/{terminal_id}/roster"

    def commands(self, terminal_id: str) -> str:
        """Where the central side publishes ``terminal_id``'s signed commands."""
        return f"{self.prefix}/{terminal_id}/commands"

    def results(self, terminal_id: str) -> str:
        """Where ``terminal_id`` answers its commands."""
        return f"{self.prefix}/{terminal_id}/results"

    def status(self, terminal_id: str) -> str:
        """The retained online/offline status of ``terminal_id``."""
        return f"{self.prefix}/{terminal_id}/status"

    def enrollment(self, terminal_id: str, person_id: str) -> str:
        """The retained enrollment notice of ``person_id`` at ``terminal_id``; the person id is
        percent-encoded (every reserved character, ``/``, ``+`` and ``#`` included)."""
        return f"{self.prefix}/{terminal_id}/enrollments/{quote(person_id, safe='')}"

    def all_events(self, group: str | None = None) -> str:
        """Filter matching every terminal's events; a shared subscription when ``group`` is set."""
        topic_filter = f"{self.prefix}/+/events"
        if group is None:
            return topic_filter
        if not _GROUP.match(group):
            raise ConfigError(f"group {group!r}: use 1-64 letters, digits, '_', '.' or '-'")
        return f"$share/{group}/{topic_filter}"

    def all_statuses(self) -> str:
        """Filter matching every terminal's retained status."""
        return f"{self.prefix}/+/status"

    def all_enrollments(self) -> str:
        """Filter matching every terminal's retained enrollment notices."""
        return f"{self.prefix}/+/enrollments/+"

    def terminal_of_events(self, topic: str) -> str | None:
        """The terminal id in an events topic, or None if ``topic`` is not one."""
        return self._terminal_in(topic, "/events")

    def terminal_of_status(self, topic: str) -> str | None:
        """The terminal id in a status topic, or None if ``topic`` is not one."""
        return self._terminal_in(topic, "/status")

    def _terminal_in(self, topic: str, tail: str) -> str | None:
        head = f"{self.prefix}/"
        if not topic.startswith(head) or not topic.endswith(tail):
            return None
        terminal_id = topic[len(head) : -len(tail)]
        return terminal_id if _TERMINAL_ID.match(terminal_id) else None
