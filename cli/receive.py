"""``kiosk receive``: run the reference central receiver (the "HR system" of the demo)."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from central.receiver.service import Receiver, describe_event
from cli.central_options import (
    broker_login,
    broker_login_options,
    database_option,
    stop_on_signals,
)
from models.messages import CheckInEvent


def _print_event(event: CheckInEvent) -> None:
    click.echo(describe_event(event))


@click.command("receive")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@database_option("The central store (an SQLite file is created if needed).")
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--group", default=None, help="Shared subscription group, to run several receivers.")
@click.option("--client-id", default=None, help="MQTT client id (fixed: the session persists).")
@broker_login_options
def receive(
    broker_url: str,
    database: str,
    topic_prefix: str,
    group: str | None,
    client_id: str | None,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """Store every terminal's check-ins once and acknowledge them; one line per new event.

    Runs until SIGINT or SIGTERM. Over mqtts:// the broker is verified with --ca-file (default:
    the system CAs); --cert-file and --key-file present a client certificate.
    """
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    receiver = Receiver(
        broker_url,
        database,
        topic_prefix,
        group=group,
        client_id=client_id,
        on_event=_print_event,
        username=login.username,
        password=login.password,
        tls=login.tls,
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        receiver.run(stop)
