"""``kiosk alerts``: send absence and low-participation alerts to HR systems (MQTT, a webhook)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import click

from central.alerts.publish import AlertPublisher
from central.alerts.webhook import WebhookOptions, is_bearer_token
from central.reports.inputs import open_store
from cli.central_options import (
    EXISTING_FILE,
    SCHEDULE_OPTION,
    broker_link,
    broker_login_options,
    database_option,
    stop_on_signals,
)
from common.errors import ConfigError
from common.mqtt.topics import Topics
from common.schedule_file import load_schedule
from terminal.config import read_secret


def _webhook_options(
    url: str | None, token_file: Path | None, ca_file: Path | None, timeout_s: float
) -> WebhookOptions | None:
    if url is None:
        if token_file is not None or ca_file is not None:
            raise click.UsageError("--webhook-token-file and --webhook-ca-file need --webhook")
        return None
    token = read_secret(token_file) if token_file is not None else None
    if token is not None and not is_bearer_token(token):
        raise ConfigError(f"{token_file}: not a bearer token (printable ASCII, no spaces)")
    try:
        return WebhookOptions(url, token, ca_file, timeout_s)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


@click.command("alerts")
@click.option("--broker", "broker_url", default=None, metavar="URL", help="mqtt[s]://host[:port]")
@database_option("The central store (kiosk receive --db).")
@SCHEDULE_OPTION
@click.option(
    "--every",
    "every_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between two checks.",
)
@click.option(
    "--prefix", "topic_prefix", default="attendance/v1", show_default=True, help="Topic prefix."
)
@click.option("--client-id", default=None, help="MQTT client id (default: a random one).")
@broker_login_options
@click.option(
    "--webhook",
    "webhook_url",
    default=None,
    metavar="URL",
    help="http[s]:// URL to POST each alert to.",
)
@click.option(
    "--webhook-token-file",
    type=EXISTING_FILE,
    default=None,
    help="File holding the webhook's bearer token (Authorization header).",
)
@click.option(
    "--webhook-ca-file",
    type=EXISTING_FILE,
    default=None,
    help="CA (PEM) of the webhook's certificate (https://).",
)
@click.option(
    "--webhook-timeout",
    "webhook_timeout_s",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds to wait for the webhook's answer to one POST.",
)
@click.option(
    "--no-mqtt", is_flag=True, help="Only the webhook: --broker and the login flags are ignored."
)
def alerts(
    broker_url: str | None,
    database: str,
    schedule_path: Path,
    every_s: float,
    topic_prefix: str,
    client_id: str | None,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    webhook_url: str | None,
    webhook_token_file: Path | None,
    webhook_ca_file: Path | None,
    webhook_timeout_s: float,
    no_mqtt: bool,
) -> None:
    """Send each due alert once, on PREFIX/alerts (QoS 1), to --webhook, or both, until SIGINT
    or SIGTERM.

    An alert is due when a person scheduled for a shift or session has not checked in
    absent_alert_after_min minutes after its start, or when the participation so far of a
    session past its midpoint is below participation_threshold (schedule rules). Alerts sent
    are remembered in the database (tables alerts_sent and webhook_sent), so a restart does not
    send them again.

    The webhook gets each alert's JSON in a POST with the header Idempotency-Key: <alert_id>;
    a connection error, a timeout, 408, 429 and 5xx are retried with backoff, and in the next
    round; another 4xx refuses the alert until the next start.
    """
    if no_mqtt and webhook_url is None:
        raise click.UsageError("--no-mqtt needs --webhook")
    if broker_url is None and webhook_url is None:
        raise click.UsageError("give --broker, --webhook or both")
    webhook = _webhook_options(webhook_url, webhook_token_file, webhook_ca_file, webhook_timeout_s)
    link = None
    if broker_url is not None and not no_mqtt:
        login = (username, password_file, ca_file, cert_file, key_file)
        name = client_id or f"kiosk-alerts-{uuid.uuid4().hex[:8]}"
        link = broker_link(broker_url, name, *login)
    elif not no_mqtt and any((username, password_file, ca_file, cert_file, key_file)):
        raise click.UsageError("the broker login flags need --broker")
    Topics(topic_prefix)  # checks the prefix
    schedule = load_schedule(schedule_path)
    open_store(database).close()  # a missing database is an error, not a new file
    publisher = AlertPublisher(link, database, schedule, topic_prefix, every_s, webhook=webhook)
    stop = threading.Event()
    with stop_on_signals(stop):
        publisher.run(stop)
