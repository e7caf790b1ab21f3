"""Send due attendance alerts once each: on MQTT ``{prefix}/alerts``, to an HTTP webhook, or both
(``kiosk alerts``).

Every ``every_s`` seconds :class:`AlertPublisher` reads the receiver database's events and
computes :func:`central.alerts.due.due_alerts`.

On MQTT it publishes, at QoS 1, each alert whose id is not yet in the database's ``alerts_sent``
table. An alert is recorded there once the broker has acknowledged it (PUBACK), so a restart
does not send it again; one whose PUBACK never came (connection lost) is published again in the
next round, with the same ``alert_id``, which is what consumers deduplicate on. A publish the
broker refuses (e.g. "Not authorized": the ACL lets only the central user write alerts) stops it
with a :class:`BrokerError`. paho callbacks only record events.

To a webhook (:mod:`central.alerts.webhook`) it POSTs, one at a time, each alert whose id is not
yet in ``webhook_sent``; an alert is recorded there (durable) once the webhook answered 2xx, so
a restart never posts it again. One whose answer was lost is posted again, with the same
``Idempotency-Key``, which is what the gateway deduplicates on. When the webhook stays
unavailable after its retries, the round ends and the alerts left wait for the next one. An
alert the webhook refuses (a 4xx other than 408 and 429, or a 3xx) is logged as an error and not
posted again while the process runs; a restart posts it once more (after the operator fixed the
token, the URL or the gateway).

With both, the webhook runs in a second thread, so its retries never hold up the MQTT
connection; an error in either stops both (``stop`` is set) and is raised by
:meth:`AlertPublisher.run`. Otherwise everything runs in the thread that calls it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.alerts.due import due_alerts
from central.alerts.webhook import WebhookClient, WebhookOptions
from central.db.migrations import open_database
from central.receiver.schema import RECEIVER_SCHEMA
from central.reports.inputs import load_events, read_adjustments
from common.errors import BrokerError
from common.mqtt.link import MqttLink
from common.mqtt.types import Disconnected, LinkOptions, PublishResult
from models.alert import Alert
from models.messages import format_rfc3339
from models.schedule import Schedule

log = logging.getLogger(__name__)

EVENTS_BACK = timedelta(days=3)
"""How far back each round reads events: alerts concern shifts that started today or yesterday
(with the windows of overnight shifts) and sessions that ended at most a day ago, so a round
reads a few days, not the database's year."""

IDLE_POLL_S = 0.2


def alerts_topic(prefix: str) -> str:
    """Where alerts are published under the topic ``prefix``."""
    return f"{prefix}/alerts"


class SentAlerts:
    """A table of the central database holding the alerts a channel accepted, each once:
    ``alerts_sent`` (the broker acknowledged the publish) or ``webhook_sent`` (the webhook
    answered 2xx; with the POSTs it took)."""

    def __init__(self, location: str | Path, table: str = "alerts_sent") -> None:
        if table not in ("alerts_sent", "webhook_sent"):
            raise ValueError(f"not a table of sent alerts: {table}")
        self.table = table
        self._db = open_database(location, RECEIVER_SCHEMA)

    def ids(self) -> set[str]:
        """Every alert id accepted so far."""
        return {row[0] for row in self._db.query(f"SELECT alert_id FROM {self.table}")}

    def record(self, alert: Alert, attempts: int = 1) -> None:
        """Remember that ``alert`` was accepted (``attempts``: the POSTs it took; durable on
        return)."""
        values: tuple[object, ...] = (
            str(alert.alert_id), alert.kind, alert.ref, alert.person_id,
            format_rfc3339(datetime.now(UTC)),
        )  # fmt: skip
        columns = "alert_id, kind, ref, person_id, sent_at"
        if self.table == "webhook_sent":
            values, columns = (*values, attempts), columns + ", attempts"
        marks = ",".join("?" * len(values))
        with self._db.transaction() as db:
            db.execute(
                f"INSERT INTO {self.table} ({columns}) VALUES ({marks})"
                " ON CONFLICT (alert_id) DO NOTHING",
                values,
            )

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


@dataclass
class _WebhookState:
    """What the webhook rounds of one run carry from one round to the next."""

    sent: SentAlerts
    refused: set[str] = field(default_factory=set)
    """Alerts refused by the webhook: not posted again while the process runs."""
    attempts: dict[str, int] = field(default_factory=dict)
    """POSTs so far of each alert not accepted yet (recorded with it once accepted)."""
    problem: str | None = None
    """The last reason the webhook was unavailable, until it answers again (logged once)."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlertPublisher:
    """Sends the alerts due under ``schedule`` for the events in ``db_path``, each once, on MQTT
    (``options``), to a webhook (``webhook``), or both."""

    def __init__(
        self,
        options: LinkOptions | None,
        db_path: str | Path,
        schedule: Schedule,
        prefix: str = "attendance/v1",
        every_s: float = 30.0,
        clock: Callable[[], datetime] = _utc_now,
        webhook: WebhookOptions | None = None,
    ) -> None:
        if options is None and webhook is None:
            raise ValueError("an alert publisher needs MQTT options, a webhook or both")
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
        self.webhook_client = WebhookClient(webhook) if webhook is not None else None
        self.posted = 0
        """Alerts the webhook accepted (and that were recorded) since start."""
        self.refused = 0
        """Alerts the webhook refused since start."""
        self.webhook_rounds = 0
        """Webhook rounds completed: every alert due was accepted, refused or left for later."""

    def run(self, stop: threading.Event) -> None:
        """Send due alerts every ``every_s`` seconds until ``stop`` is set."""
        if self.options is not None and self.webhook_client is not None:
            self._run_both(self.options, self.webhook_client, stop)
        elif self.options is not None:
            self._run_mqtt(self.options, stop)
        elif self.webhook_client is not None:
            self._run_webhook(self.webhook_client, stop)

    def _run_both(
        self, options: LinkOptions, webhook: WebhookClient, stop: threading.Event
    ) -> None:
        failures: list[BaseException] = []

        def post_alerts() -> None:
            try:
                self._run_webhook(webhook, stop)
            except BaseException as exc:
                failures.append(exc)
                stop.set()

        thread = threading.Thread(target=post_alerts, name="alerts-webhook", daemon=True)
        thread.start()
        try:
            self._run_mqtt(options, stop)
        finally:
            stop.set()
            thread.join()
        if failures:
            raise failures[0]

    def _due(self) -> list[Alert]:
        now = self.clock()
        start, end = now - EVENTS_BACK, now + timedelta(days=1)
        events = load_events(self.db_path, start, end)
        adjustments = read_adjustments(self.db_path, start, end)
        return due_alerts(events, self.schedule, now, adjustments)

    def _run_mqtt(self, options: LinkOptions, stop: threading.Event) -> None:
        sent = SentAlerts(self.db_path)
        link = MqttLink(options, interrupt=stop)
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
        done = sent.ids()
        for alert in self._due():
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

    def _run_webhook(self, client: WebhookClient, stop: threading.Event) -> None:
        state = _WebhookState(SentAlerts(self.db_path, "webhook_sent"))
        log.info("posting alerts to %s every %g s", client.options.address, self.every_s)
        try:
            while not stop.is_set():
                self._webhook_round(client, state, stop)
                if stop.is_set():
                    break
                self.webhook_rounds += 1
                stop.wait(max(self.every_s, client.pause_s()))
        finally:
            state.sent.close()

    def _webhook_round(
        self, client: WebhookClient, state: _WebhookState, stop: threading.Event
    ) -> None:
        done = state.sent.ids() | state.refused
        waiting = [alert for alert in self._due() if str(alert.alert_id) not in done]
        for index, alert in enumerate(waiting):
            if stop.is_set():
                return
            key = str(alert.alert_id)
            delivery = client.post(alert, stop)
            state.attempts[key] = state.attempts.get(key, 0) + delivery.attempts
            who = alert.person_id or "the session"
            if delivery.outcome == "unavailable":
                repeated = delivery.reason == state.problem
                state.problem = delivery.reason
                log.log(
                    logging.DEBUG if repeated else logging.WARNING,
                    "webhook %s unavailable (%s, %d POSTs): %d alerts wait for the next round",
                    client.options.address,
                    delivery.reason,
                    delivery.attempts,
                    len(waiting) - index,
                )
                return
            if delivery.outcome == "stopped":
                return
            if state.problem is not None:
                log.info("webhook %s answers again", client.options.address)
                state.problem = None
            if delivery.outcome == "accepted":
                state.sent.record(alert, state.attempts.pop(key))
                self.posted += 1
                log.info("alert %s for %s (%s) accepted by the webhook", alert.kind, who, alert.ref)
            else:
                state.refused.add(key)
                self.refused += 1
                log.error(
                    "the webhook refused alert %s (%s for %s, %s): %s; not posted again until"
                    " kiosk alerts restarts",
                    key,
                    alert.kind,
                    who,
                    alert.ref,
                    delivery.reason,
                )
