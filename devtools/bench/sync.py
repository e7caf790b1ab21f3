"""``kiosk bench sync``: the kiosk's sync against the naive publish-and-wait loop, in one run.

The parent starts a local mosquitto and the reference receiver (a thread of its own process),
fills one outbox per side with the same synthetic check-ins (:func:`devtools.loadgen.
synthetic_draft`, committed with ``Outbox.commit_checkin``), then runs each side
(:mod:`devtools.bench.sync_sides`) in its own child Python process, one after the other, so its
CPU time and peak RSS are its own: ``python -m devtools.bench.sync_sides --side kiosk|naive|hold``
prints that side's figures as JSON. Unless ``--quick``, it also holds a backlog of 10,000 and of
1,000,000 events in the SyncWorker to show whether memory grows with the backlog.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from central.receiver.service import Receiver, ReceiverStore
from common.errors import BrokerError, KioskError
from devtools.bench.sync_sides import SITE, outbox_path
from devtools.loadgen import synthetic_draft
from devtools.local_broker import Mosquitto
from models.messages import CheckInEvent
from terminal.store.outbox import Outbox


@dataclass(frozen=True)
class SyncBenchSettings:
    """How much is measured (``--quick`` shrinks it to a CI smoke test)."""

    events: int
    batch_size: int
    backlog_sizes: tuple[int, ...]
    hold_s: float


QUICK_EVENTS = 1_000
BACKLOG_SIZES = (10_000, 1_000_000)
HOLD_S = 10.0

METHOD = {
    "sides": "Each side runs in its own child Python process, one after the other, against the"
    " same local mosquitto (persistence on, loopback) and the same reference receiver"
    " (central/receiver/service.py: JSON Schema validation of every event, one SQLite transaction"
    " with"
    " synchronous=FULL per message, ack after commit) running in the parent process.",
    "outbox": "Each side drains its own outbox (SQLite WAL, synchronous=FULL) pre-filled with"
    " the same number of synthetic check-ins committed with Outbox.commit_checkin (the fill is"
    " not timed).",
    "kiosk": "terminal.sync.uplink.SyncWorker as deployed: batches of batch_size events, up to 10"
    " batches awaiting PUBACK and 20 batches' worth awaiting the central ack; an event is done"
    " when the receiver's ack names it (after the receiver committed it).",
    "naive": "paho-mqtt, one QoS 1 publish per event (a batch of one, so the same receiver"
    " stores it), wait_for_publish() after each, then the event is marked done in the outbox"
    " (one SQLite transaction per event). It trusts the broker's PUBACK: it does not wait for"
    " the central side, so it would lose events the receiver never stored.",
    "events_per_s": "events / drain_s of the side.",
    "drain_s": "Wall seconds from the side's start (the SyncWorker thread started; the naive"
    " loop connected) until its outbox holds nothing unacknowledged (kiosk) or every event"
    " got its PUBACK (naive).",
    "receiver": "stored = distinct events of the side in the receiver's database;"
    " last_stored_s = seconds from the side's start until the receiver stored its last new"
    " event; duplicates = events delivered again and only counted.",
    "speedup": "kiosk events_per_s / naive events_per_s; speedup_end_to_end uses each side's"
    " receiver.last_stored_s instead.",
    "peak_rss": "peak_rss_mb = peak RSS (VmHWM) of the side's own process at the end;"
    " rss_at_start_mb = the same after its imports (Python, pydantic, paho and the shared"
    " measuring module, which loads numpy and OpenCV as the daemon does), before the outbox is"
    " opened. cpu_s = user+sys CPU seconds of the side's process while draining.",
    "backlog_memory": "Per backlog size, the SyncWorker in a fresh child process on an outbox"
    " holding that many unacknowledged events, delivering to the receiver for hold_s seconds"
    " (or until drained): its peak RSS, events delivered meanwhile and the outbox file size."
    " Null with --quick.",
}


def _host() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m_at_start": os.getloadavg()[0],
    }


def fill(path: Path, terminal_id: str, count: int) -> None:
    """Commit ``count`` synthetic check-ins to the outbox at ``path``.

    Through ``Outbox.commit_checkin`` as the pipeline does, but with ``synchronous=OFF`` on this
    connection: the fill is not what is measured, and a million fsyncs would take long.
    """
    outbox = Outbox.open(path, terminal_id, SITE)
    outbox.db.conn.execute("PRAGMA synchronous = OFF")
    try:
        for number in range(count):
            outbox.commit_checkin(synthetic_draft(number), clock_synced=True)
    finally:
        outbox.close()


class Central:
    """The reference receiver in a thread of this process, noting when each event is stored."""

    def __init__(self, url: str, db_path: Path, timeout_s: float = 600.0) -> None:
        self.url = url
        self.db_path = db_path
        self.timeout_s = timeout_s
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._stored: Counter[str] = Counter()
        self._last: dict[str, float] = {}
        receiver = Receiver(url, db_path, client_id="bench-receiver", on_event=self._on_event)
        self._receiver = receiver
        self._thread = threading.Thread(target=receiver.run, args=(self._stop,), daemon=True)

    def __enter__(self) -> Central:
        self._thread.start()
        if not self._receiver.ready.wait(10):
            self._stop.set()
            raise BrokerError(f"the benchmark's receiver could not subscribe at {self.url}")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _on_event(self, event: CheckInEvent) -> None:
        with self._changed:
            self._stored[event.terminal_id] += 1
            self._last[event.terminal_id] = time.time()
            self._changed.notify_all()

    def wait_for(self, terminal_id: str, count: int, started_at: float) -> dict[str, Any]:
        """Wait until ``count`` events of ``terminal_id`` are stored; the receiver's figures."""
        with self._changed:
            self._changed.wait_for(lambda: self._stored[terminal_id] >= count, self.timeout_s)
            stored, last = self._stored[terminal_id], self._last.get(terminal_id, started_at)
        if stored < count:
            raise KioskError(f"the receiver stored only {stored} of {count} {terminal_id} events")
        store = ReceiverStore(self.db_path)
        try:
            summary = next(t for t in store.terminals() if t.terminal_id == terminal_id)
        finally:
            store.close()
        seconds = last - started_at
        return {
            "stored": summary.events,
            "missing": summary.missing,
            "duplicates": summary.duplicates,
            "last_stored_s": seconds,
            "events_per_s": count / seconds if seconds > 0 else None,
        }


def _run_child(side: str, workdir: Path, url: str, terminal_id: str, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "devtools.bench.sync_sides", "--side", side, "--url", url]
    command += ["--workdir", str(workdir), "--terminal", terminal_id, *extra]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise KioskError(f"the {side} side of the benchmark failed: {last}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _side(central: Central, side: str, workdir: Path, settings: SyncBenchSettings) -> dict:
    terminal_id = f"bench-{side}"
    fill(outbox_path(workdir, terminal_id), terminal_id, settings.events)
    extra = ["--batch-size", str(settings.batch_size)]
    figures = _run_child(side, workdir, central.url, terminal_id, extra)
    started_at = figures.pop("started_at")  # epoch seconds: only for the receiver's timing
    figures["receiver"] = central.wait_for(terminal_id, settings.events, started_at)
    return figures


def _hold(central: Central, size: int, workdir: Path, settings: SyncBenchSettings) -> dict:
    terminal_id = f"bench-hold-{size}"
    fill(outbox_path(workdir, terminal_id), terminal_id, size)
    extra = ["--batch-size", str(settings.batch_size), "--hold-s", str(settings.hold_s)]
    figures = _run_child("hold", workdir, central.url, terminal_id, extra)
    del figures["started_at"]
    return figures


def _speedup(kiosk: float | None, naive: float | None) -> float | None:
    return kiosk / naive if kiosk and naive else None


def run_benchmark(
    events: int,
    quick: bool,
    batch_size: int = 100,
    step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every figure for both sides (and the backlog memory), as one JSON-ready dict; ``step``
    is told each side and backlog size as it begins."""
    tell = step or (lambda _name: None)
    from devtools.bench.recognition import _rounded

    settings = SyncBenchSettings(
        QUICK_EVENTS if quick else events, batch_size, () if quick else BACKLOG_SIZES, HOLD_S
    )
    result: dict[str, Any] = {"host": _host(), "quick": quick, "events": settings.events}
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-sync-") as tmp:
        workdir = Path(tmp)
        queue_limit = 2 * max(settings.events, 100_000)
        broker = Mosquitto(workdir / "broker", extra_conf=f"max_queued_messages {queue_limit}\n")
        broker.start()
        try:
            with Central(broker.url, workdir / "central.db") as central:
                for side in ("kiosk", "naive"):
                    tell(f"the {side} side")
                    result[side] = _side(central, side, workdir, settings)
                backlog: dict[str, Any] = {}
                for size in settings.backlog_sizes:
                    tell(f"a backlog of {size} events")
                    backlog[str(size)] = _hold(central, size, workdir, settings)
                result["backlog_memory"] = backlog or None
        finally:
            broker.stop()
    kiosk, naive = result["kiosk"], result["naive"]
    result["speedup"] = _speedup(kiosk["events_per_s"], naive["events_per_s"])
    result["speedup_end_to_end"] = _speedup(
        1 / kiosk["receiver"]["last_stored_s"], 1 / naive["receiver"]["last_stored_s"]
    )
    result["settings"] = asdict(settings)
    result["method"] = METHOD
    return dict(_rounded(result))
