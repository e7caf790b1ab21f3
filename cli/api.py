"""``kiosk api``: the HR system's HTTP API (central/hr_api): attendance reads, and leave and
corrections written with a ``write`` token."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import click

from central.hr_api.service import ApiService, ApiSettings, parse_listen
from cli.central_options import (
    EXISTING_FILE,
    broker_link,
    broker_login_options,
    database_option,
    stop_on_signals,
)
from common.mqtt.topics import Topics


@click.command("api")
@database_option("The receiver's database (kiosk receive --db).")
@click.option("--schedule", "schedule_path", required=True, type=EXISTING_FILE,
              help="Schedule JSON (read again when it changes).")  # fmt: skip
@click.option("--token-file", required=True, type=EXISTING_FILE,
              help="Bearer tokens the HR system may use, one per line; 'TOKEN write' may"
                   " also import leave and corrections.")  # fmt: skip
@click.option("--listen", default="127.0.0.1:8470", show_default=True,
              help="HOST:PORT to listen on (HTTP; TLS from a reverse proxy).")  # fmt: skip
@click.option("--broker", "broker_url", default=None, metavar="URL",
              help="mqtt[s]://host[:port]: the terminals' status (GET /v1/terminals).")  # fmt: skip
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--client-id", default=None, help="MQTT client id (default: a random one).")
@broker_login_options
def api(
    database: str,
    schedule_path: Path,
    token_file: Path,
    listen: str,
    broker_url: str | None,
    topic_prefix: str,
    client_id: str | None,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """Serve check-ins after a cursor, daily shift, session, month and programme attendance and
    the terminals' status to the HR system, and take its leave and supervisors' corrections,
    with bearer tokens, until SIGINT or SIGTERM (docs/hr-and-integrators.md, "The HR system's
    API"; the document: GET /v1/openapi.json)."""
    host, port = parse_listen(listen)
    Topics(topic_prefix)  # checks the prefix
    link = None
    if broker_url is not None:
        name = client_id or f"kiosk-api-{uuid.uuid4().hex[:8]}"
        link = broker_link(broker_url, name, username, password_file, ca_file, cert_file, key_file)
    elif any((username, password_file, ca_file, cert_file, key_file)):
        raise click.UsageError("the broker login flags need --broker")
    settings = ApiSettings(database, schedule_path, token_file, host, port, link, topic_prefix)
    stop = threading.Event()
    with stop_on_signals(stop):
        ApiService(settings).run(stop, on_ready=lambda p: click.echo(f"listening on {host}:{p}"))
