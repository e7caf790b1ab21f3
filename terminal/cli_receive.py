"""``kiosk receive``: run the reference central receiver (the "HR system" of the demo)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from models.messages import CheckInEvent
from terminal.broker_url import BrokerAddress, TlsOptions
from terminal.config import read_secret
from terminal.receiver import Receiver, describe_event

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT or SIGTERM while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _print_event(event: CheckInEvent) -> None:
    click.echo(describe_event(event))


def tls_options(
    broker_url: str, ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> TlsOptions | None:
    """The TLS options of the flags; a usage error when they cannot work together."""
    if (cert_file is None) != (key_file is None):
        raise click.UsageError("--cert-file and --key-file go together")
    if ca_file is None and cert_file is None:
        return None
    if not BrokerAddress.parse(broker_url).tls:
        raise click.UsageError("--ca-file, --cert-file and --key-file need an mqtts:// broker")
    return TlsOptions(ca_file, cert_file, key_file)


@click.command("receive")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtt[s]://host[:port]")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="SQLite file of the central store (created if needed).",
)
@click.option("--topic-prefix", default="attendance/v1", show_default=True, help="Topic prefix.")
@click.option("--group", default=None, help="Shared subscription group, to run several receivers.")
@click.option("--client-id", default=None, help="MQTT client id (fixed: the session persists).")
@click.option("--username", default=None, help="Broker user name.")
@click.option("--password-file", type=_FILE, default=None, help="File holding the password.")
@click.option("--ca-file", type=_FILE, default=None, help="CA (PEM) of the broker's certificate.")
@click.option("--cert-file", type=_FILE, default=None, help="Client certificate (PEM), mutual TLS.")
@click.option("--key-file", type=_FILE, default=None, help="Private key (PEM) of --cert-file.")
def receive(
    broker_url: str,
    db_path: Path,
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
    if password_file is not None and username is None:
        raise click.UsageError("--password-file needs --username")
    tls = tls_options(broker_url, ca_file, cert_file, key_file)
    receiver = Receiver(
        broker_url,
        db_path,
        topic_prefix,
        group=group,
        client_id=client_id,
        on_event=_print_event,
        username=username,
        password=read_secret(password_file) if password_file is not None else None,
        tls=tls,
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        receiver.run(stop)


COMMANDS = [receive]
