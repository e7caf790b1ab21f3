"""``kiosk loadgen``: synthetic check-ins through the same store and sync as the camera's."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import click

from cli.central_options import stop_on_signals
from cli.main import CliContext, pass_cli
from common.errors import KioskError


@click.command("loadgen")
@click.option(
    "--count", type=click.IntRange(0), required=True,
    help="Check-ins in all (over all terminals); 0: commit none, only deliver what the"
    " outboxes already hold (e.g. after a crash).",
)  # fmt: skip
@click.option(
    "--rate", type=click.FloatRange(0, min_open=True), default=None,
    help="Check-ins per second in all; default: as fast as they commit.",
)  # fmt: skip
@click.option(
    "--terminals", type=click.IntRange(1, 10_000), default=1, show_default=True,
    help="Synthetic terminal identities (load-001, ...), each with its own outbox and sync.",
)  # fmt: skip
@click.option(
    "--broker", "broker_url", metavar="URL", default=None,
    help="Deliver with the real sync to this broker and wait for every acknowledgement;"
    " without it the check-ins are only committed.",
)  # fmt: skip
@click.option(
    "--data-dir", "data_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    help="Where the terminals' outboxes go (DIR/<terminal id>/kiosk.db); default: the global"
    " --data-dir.",
)  # fmt: skip
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(0, min_open=True), default=600.0,
    show_default=True, help="Seconds to wait for the acknowledgements after the last commit.",
)  # fmt: skip
@click.option("--id-prefix", default="load", show_default=True, help="Terminal id prefix.")
@click.option(
    "--terminals-per-process", "per_process", type=click.IntRange(1, 100), default=50,
    show_default=True, help="Larger fleets run in several processes (paho's select() loop"
    " cannot use file descriptors past 1023).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_cli
def loadgen(
    ctx: CliContext,
    count: int,
    rate: float | None,
    terminals: int,
    broker_url: str | None,
    data_dir: Path | None,
    timeout_s: float,
    id_prefix: str,
    per_process: int,
    as_json: bool,
) -> None:
    """Commit synthetic check-ins as the camera pipeline does and deliver them with the sync.

    The [mqtt] settings of the config (batch_size, ack_timeout_s, ...) apply to every
    synthetic terminal; --broker replaces its URL. Exits 1 when events are still
    unacknowledged at the end.
    """
    from devtools.loadgen import LoadPlan
    from devtools.loadgen_fleet import run_load

    directory = data_dir or ctx.data_dir
    if directory is None:
        raise KioskError("loadgen: give --data-dir DIR for the synthetic terminals' outboxes")
    plan = LoadPlan(count, terminals, directory, rate, broker_url, timeout_s, id_prefix)
    stop = threading.Event()
    with stop_on_signals(stop):
        result = run_load(plan, ctx.config, stop, per_process)
    click.echo(json.dumps(result.as_dict()) if as_json else result.line())
    if broker_url is not None and not result.delivered:
        raise KioskError(f"loadgen: {result.unacknowledged} events were not acknowledged")
