"""The sides of ``kiosk bench sync``, each run in its own child process.

``kiosk``: the terminal's :class:`~terminal.sync.uplink.SyncWorker` drains a filled outbox (batches,
a window of unacknowledged batches, done when the central side acknowledged every event).
``naive``: one QoS 1 publish per event, ``wait_for_publish()`` each, the event marked done on
its PUBACK. ``hold``: the SyncWorker on an outbox holding a large backlog for a few seconds,
to see whether memory grows with the backlog. Each returns its figures as a dict;
``python -m devtools.bench.sync_sides --side ...`` prints them as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from common.errors import BrokerError
from common.mqtt.broker_url import BrokerAddress
from common.mqtt.topics import Topics
from devtools.bench.measure import _cpu_seconds, peak_rss_mb
from terminal import __version__
from terminal.config import Config
from terminal.store.outbox import Outbox
from terminal.sync.messages import batch_payload
from terminal.sync.uplink import SyncWorker

SITE = "bench"
DRAIN_POLL_S = 0.05
PUBACK_TIMEOUT_S = 30.0


def outbox_path(workdir: Path, terminal_id: str) -> Path:
    """Where the outbox of ``terminal_id`` is kept in the benchmark's work directory."""
    return workdir / terminal_id / "kiosk.db"


def _config(workdir: Path, url: str, terminal_id: str, batch_size: int) -> Config:
    return Config.model_validate(
        {
            "terminal": {"id": terminal_id, "site": SITE},
            "storage": {"data_dir": str(outbox_path(workdir, terminal_id).parent)},
            "mqtt": {"url": url, "batch_size": batch_size},
        }
    )


def _figures(events: int, began: float, ended: float, cpu: float, start_rss: float) -> dict:
    seconds = ended - began
    return {
        "events": events,
        "started_at": began,
        "drain_s": seconds,
        "events_per_s": events / seconds if seconds > 0 else None,
        "cpu_s": _cpu_seconds() - cpu,
        "rss_at_start_mb": start_rss,
        "peak_rss_mb": peak_rss_mb(),
    }


def kiosk_side(
    workdir: Path, url: str, terminal_id: str, batch_size: int, hold_s: float | None = None
) -> dict[str, Any]:
    """Run the SyncWorker until the outbox is drained (or for ``hold_s`` seconds)."""
    start_rss = peak_rss_mb()
    config = _config(workdir, url, terminal_id, batch_size)
    outbox = Outbox.open(config.database_path, terminal_id, SITE)
    backlog = outbox.backlog()
    stop = threading.Event()
    worker = SyncWorker(config, stop, __version__)
    thread = threading.Thread(target=worker.run, name="sync")
    cpu, began = _cpu_seconds(), time.time()
    thread.start()
    deadline = None if hold_s is None else time.monotonic() + hold_s
    # One indexed row read per poll: "is anything left unacknowledged?"
    while outbox.due(1, exclude_sent=False):
        if deadline is not None and time.monotonic() >= deadline:
            break
        time.sleep(DRAIN_POLL_S)
    ended = time.time()
    stop.set()
    thread.join()
    left = outbox.backlog()
    outbox.close()
    figures = _figures(backlog - left, began, ended, cpu, start_rss)
    figures.update(backlog_at_start=backlog, backlog_at_end=left)
    figures["last_error"] = worker.state.last_error
    figures["outbox_file_mb"] = config.database_path.stat().st_size / (1 << 20)
    return figures


def _connected_client(url: str, client_id: str) -> mqtt.Client:
    address = BrokerAddress.parse(url)
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    connected = threading.Event()
    client.on_connect = lambda *_args: connected.set()
    client.connect(address.host, address.port)
    client.loop_start()
    if not connected.wait(10):
        client.loop_stop()
        raise BrokerError(f"naive loop: no connection to {url}")
    return client


def naive_side(workdir: Path, url: str, terminal_id: str) -> dict[str, Any]:
    """Drain the outbox one event per QoS 1 message, waiting for each PUBACK."""
    start_rss = peak_rss_mb()
    outbox = Outbox.open(outbox_path(workdir, terminal_id), terminal_id, SITE)
    topic = Topics().events(terminal_id)
    client = _connected_client(url, f"{terminal_id}-naive")
    sent = 0
    cpu, began = _cpu_seconds(), time.time()
    try:
        while events := outbox.due(1):
            info = client.publish(topic, batch_payload(terminal_id, events), qos=1)
            info.wait_for_publish(PUBACK_TIMEOUT_S)
            if not info.is_published():
                raise BrokerError(f"naive loop: no PUBACK for seq {events[0].seq}")
            outbox.mark_acked([str(events[0].event_id)])
            sent += 1
        ended = time.time()
    finally:
        client.disconnect()
        client.loop_stop()
        outbox.close()
    return _figures(sent, began, ended, cpu, start_rss)


def _child_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="One side of kiosk bench sync.")
    parser.add_argument("--side", choices=["kiosk", "naive", "hold"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--terminal", required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hold-s", type=float, default=None)
    args = parser.parse_args(argv)
    if args.side == "naive":
        figures = naive_side(args.workdir, args.url, args.terminal)
    else:
        figures = kiosk_side(args.workdir, args.url, args.terminal, args.batch_size, args.hold_s)
    print(json.dumps(figures))


if __name__ == "__main__":
    _child_main()
