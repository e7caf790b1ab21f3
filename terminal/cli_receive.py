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
from terminal.receiver import Receiver, describe_event


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
def receive(
    broker_url: str, db_path: Path, topic_prefix: str, group: str | None, client_id: str | None
) -> None:
    """Store every terminal's check-ins once and acknowledge them; one line per new event.

    Runs until SIGINT or SIGTERM.
    """
    receiver = Receiver(
        broker_url, db_path, topic_prefix, group=group, client_id=client_id, on_event=_print_event
    )
    stop = threading.Event()
    with stop_on_signals(stop):
        receiver.run(stop)


COMMANDS = [receive]
