"""A large roster through a real terminal process: time, memory, and that the swap is atomic.

``python -m tests.roster_scale --people 50000`` measures one run on a local mosquitto and prints
JSON; ``tests/test_roster.py`` runs :func:`measure` with 5,000 people. The terminal (its sync
only, :mod:`tests.roster_terminal`) first gets a 3-person roster; then, while a reader polls
the people and template counts from another connection (as the pipeline reads the gallery),
the large roster is built, published and applied.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from devtools.local_broker import Mosquitto
from models.roster_codec import build_roster_messages
from tests.delivery_tools import Probe
from tests.roster_terminal import TerminalProcess
from tests.roster_tools import config_toml, make_key, publish, random_people, wait_online

_APPLIED = re.compile(r"roster version (\d+) applied in ([0-9.]+) s")


class CountReader:
    """Polls ``(people, templates)`` in one read transaction at a time, remembering each pair."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.seen: set[tuple[int, int]] = set()
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="count-reader", daemon=True)

    def __enter__(self) -> CountReader:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, isolation_level=None)
        try:
            while not self._stop.is_set():
                conn.execute("BEGIN")
                people = conn.execute("SELECT count(*) FROM people").fetchone()[0]
                templates = conn.execute("SELECT count(*) FROM templates").fetchone()[0]
                conn.execute("COMMIT")
                self.seen.add((int(people), int(templates)))
                self.reads += 1
                time.sleep(0.005)
        finally:
            conn.close()


def measure(workdir: Path, url: str, people: int, chunk_size: int = 500) -> dict[str, Any]:
    """Run the scenario of the module docstring against the broker at ``url``."""
    keys = workdir / "keys"
    key = make_key(keys, "HR1")
    data = workdir / "kiosk"
    config = config_toml(workdir / "kiosk.toml", data, url, keys)
    terminal = TerminalProcess(config, workdir / "terminal.log")
    probe = Probe(url, "scale-probe")
    probe.subscribe("attendance/v1/kiosk-01/status")
    terminal.start()
    try:
        wait_online(probe)
        publish(url, {"kiosk-01": build_roster_messages(random_people(3), key, "HR1", 1)}, 1)
        baseline_mib = terminal.peak_rss_mib()
        started = time.monotonic()
        roster = random_people(people, seed=1)
        messages = build_roster_messages(roster, key, "HR1", 2, chunk_size, "kiosk-01")
        built = time.monotonic()
        with CountReader(data / "kiosk.db") as reader:
            publish(url, {"kiosk-01": messages}, 2)
        applied = time.monotonic()
        peak_mib = terminal.peak_rss_mib()
    finally:
        terminal.stop()
        probe.close()
    times = {int(v): float(s) for v, s in _APPLIED.findall(terminal.output())}
    return {
        "people": people,
        "messages": len(messages),
        "largest_message_bytes": max(len(m) for m in messages),
        "total_bytes": sum(len(m) for m in messages),
        "build_and_sign_s": round(built - started, 2),
        "publish_to_applied_s": round(applied - built, 2),
        "apply_transaction_s": times.get(2),
        "terminal_peak_rss_mib_before": round(baseline_mib, 1),
        "terminal_peak_rss_mib": round(peak_mib, 1),
        "counts_seen_by_reader": sorted(reader.seen),
        "reader_polls": reader.reads,
    }


def main() -> int:
    """Measure once on a fresh local mosquitto and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--chunk-size", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="roster-scale-") as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.start()
        try:
            result = measure(Path(tmp), broker.url, args.people, args.chunk_size)
        finally:
            broker.kill()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
