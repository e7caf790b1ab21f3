"""``kiosk alerts``: publish absence and low-participation alerts for HR systems."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import click

from central.alerts.publish import AlertPublisher
from central.reports.inputs import open_store
from cli.central_options import broker_login, broker_login_options, stop_on_signals
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from common.schedule_file import load_schedule


@click.command("alerts")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file of the central store (kiosk receive --db).",
)
@click.option(
    "--schedule",
    "schedule_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Schedule JSON (schedule.v1.json).",
)
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
def alerts(
    broker_url: str,
    db_path: Path,
    schedule_path: Path,
    every_s: float,
    topic_prefix: str,
    client_id: str | None,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """Publish each due alert once on PREFIX/alerts (QoS 1) until SIGINT or SIGTERM.

    An alert is due when a person scheduled for a shift or session has not checked in
    absent_alert_after_min minutes after its start, or when the participation so far of a
    session past its midpoint is below participation_threshold (schedule rules). Alerts sent
    are remembered in the database (table alerts_sent), so a restart does not send them again.
    """
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    Topics(topic_prefix)  # checks the prefix
    schedule = load_schedule(schedule_path)
    open_store(db_path).close()  # a missing database is an error, not a new file
    options = LinkOptions(
        url=broker_url,
        client_id=client_id or f"kiosk-alerts-{uuid.uuid4().hex[:8]}",
        username=login.username,
        password=login.password,
        tls=login.tls,
    )
    publisher = AlertPublisher(options, db_path, schedule, topic_prefix, every_s)
    stop = threading.Event()
    with stop_on_signals(stop):
        publisher.run(stop)
