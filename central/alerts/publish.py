"""Publish due attendance alerts once each on ``{prefix}/alerts`` (``kiosk alerts``).

Every ``every_s`` seconds :class:`AlertPublisher` reads the receiver database's events, computes
:func:`central.alerts.due.due_alerts` and publishes, at QoS 1, each alert whose id is not yet in
the database's ``alerts_sent`` table. An alert is recorded there once the broker has
acknowledged it (PUBACK), so a restart does not send it again; one whose PUBACK never came
(connection lost) is published again in the next round, with the same ``alert_id``, which is
what consumers deduplicate on. A publish the broker refuses (e.g. "Not authorized": the ACL
lets only the central user write alerts) stops it with a :class:`BrokerError`. Everything runs
in the thread that calls :meth:`AlertPublisher.run`; paho callbacks only record events.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from central.alerts.due import due_alerts
from central.receiver.schema import MIGRATIONS
from central.reports.inputs import load_events
from common.errors import BrokerError
from common.mqtt.link import MqttLink
from common.mqtt.types import Disconnected, LinkOptions, PublishResult
from common.sqlite import classify, open_central_db
from models.alert import Alert
from models.messages import format_rfc3339
from models.schedule import Schedule

log = logging.getLogger(__name__)

IDLE_POLL_S = 0.2


def alerts_topic(prefix: str) -> str:
    """Where alerts are published under the topic ``prefix``."""
    return f"{prefix}/alerts"


class SentAlerts:
    """The ``alerts_sent`` table of the central database: ids the broker has acknowledged."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self._conn = open_central_db(db_path, MIGRATIONS, "central database")

    def ids(self) -> set[str]:
        """Every alert id sent so far."""
        try:
            return {row[0] for row in self._conn.execute("SELECT alert_id FROM alerts_sent")}
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from None

    def record(self, alert: Alert) -> None:
        """Remember that ``alert`` was delivered to the broker (durable on return)."""
        try:
            self._conn.execute(
                "INSERT OR IGNORE INTO alerts_sent (alert_id, kind, ref, person_id, sent_at)"
                " VALUES (?,?,?,?,?)",
                (
                    str(alert.alert_id),
                    alert.kind,
                    alert.ref,
                    alert.person_id,
                    format_rfc3339(datetime.now(UTC)),
                ),
            )
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlertPublisher:
    """Publishes the alerts due under ``schedule`` for the events in ``db_path``, each once."""

    def __init__(
        self,
        options: LinkOptions,
        db_path: Path,
        schedule: Schedule,
        prefix: str = "attendance/v1",
        every_s: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.options = options
        self.db_path = db_path
        self.schedule = schedule
        self.topic = alerts_topic(prefix)
        self.every_s = every_s
        self.clock = clock
        self.published = 0
        """Alerts the broker acknowledged (and that were recorded) since start."""
        self.rounds = 0
        """Rounds completed: alerts computed, and every publish of the round acknowledged."""

    def run(self, stop: threading.Event) -> None:
        """Publish due alerts every ``every_s`` seconds until ``stop`` is set."""
        sent = SentAlerts(self.db_path)
        link = MqttLink(self.options, interrupt=stop)
        pending: dict[int, Alert] = {}
        round_open = False
        next_round = 0.0
        log.info("publishing alerts on %s every %g s", self.topic, self.every_s)
        try:
            while not stop.is_set():
                for event in link.poll(IDLE_POLL_S):
                    if isinstance(event, PublishResult):
                        self._acknowledged(event, pending.pop(event.mid, None), sent)
                    elif isinstance(event, Disconnected):
                        pending.clear()  # published again in the next round
                        next_round = 0.0
                if round_open and not pending:
                    round_open = False
                    self.rounds += 1
                if link.connected and not round_open and time.monotonic() >= next_round:
                    self._round(link, sent, pending)
                    round_open = True
                    next_round = time.monotonic() + self.every_s
        finally:
            link.close()
            sent.close()

    def _round(self, link: MqttLink, sent: SentAlerts, pending: dict[int, Alert]) -> None:
        events = load_events(self.db_path)
        done = sent.ids()
        for alert in due_alerts(events, self.schedule, self.clock()):
            if str(alert.alert_id) in done:
                continue
            mid = link.publish(self.topic, alert.model_dump_json().encode(), qos=1)
            if mid is None:
                return  # not connected any more: the next round publishes it
            pending[mid] = alert

    def _acknowledged(self, result: PublishResult, alert: Alert | None, sent: SentAlerts) -> None:
        if alert is None:
            return
        if not result.ok:
            raise BrokerError(f"the broker refused an alert on {self.topic}: {result.reason}")
        sent.record(alert)
        self.published += 1
        who = alert.person_id or "the session"
        log.info("alert %s for %s (%s) published", alert.kind, who, alert.ref)
