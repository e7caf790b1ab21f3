"""The wall clock stepping backwards and forwards under a running terminal (issue 4).

``kiosk loadgen`` runs as a real process under libfaketime (see :mod:`tests.faketime`) and the
test steps its wall clock while it commits and delivers, as an NTP step or a wrong RTC at boot
would; the broker and the receiver keep the true time. Order (``seq``, commit order) and the
resend timer (``ack_timeout_s``, on the monotonic clock) must not notice. Each test also checks
that the recorded wall-clock times really did step, so it cannot pass because nothing happened.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import groupby
from pathlib import Path

import pytest

from central.receiver.service import Receiver, ReceiverStore
from common.mqtt.topics import Topics
from models.messages import EventBatch, format_rfc3339
from terminal.store.outbox import Outbox, OutboxRow
from tests.delivery_tools import Probe, Threads, wait_for
from tests.faketime import DAY_S, FakeClock, FaketimeMissing, find_libfaketime
from tests.mosquitto import Mosquitto

TERMINAL = "kiosk-001"
EVENTS = Topics("attendance/v1").events(TERMINAL)


@pytest.fixture(scope="module")
def libfaketime() -> Path:
    """The libfaketime library; the tests fail (never skip) when it is not installed."""
    try:
        library = find_libfaketime()
    except FaketimeMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    return library


@pytest.fixture
def clock(tmp_path: Path, libfaketime: Path) -> FakeClock:
    """A fake wall clock at +0, verified to step ``time.time()`` and not ``time.monotonic()``."""
    fake = FakeClock(tmp_path / "clock", libfaketime)
    fake.verify()
    return fake


@dataclass
class Run:
    """One ``kiosk loadgen`` process on the fake clock."""

    process: subprocess.Popen[bytes]
    db: Path
    log: Path

    def finish(self) -> dict[str, object]:
        """Wait for the exit; the JSON summary. Fails with the output unless it exited 0."""
        self.process.wait(timeout=60)
        output = self.log.read_text(errors="replace")
        assert self.process.returncode == 0, output
        summary: dict[str, object] = json.loads(output.splitlines()[-1])
        return summary


@contextmanager
def loadgen(
    clock: FakeClock, where: Path, url: str, count: int, rate: float | None, ack_timeout_s: float
) -> Iterator[Run]:
    """Start ``kiosk loadgen`` for one terminal under ``clock``; killed on the way out."""
    config = where / "loadgen.toml"
    config.write_text(
        f"[mqtt]\nack_timeout_s = {ack_timeout_s}\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n"
    )
    args = ["--count", str(count), "--broker", url, "--data-dir", str(where / "data")]
    args += ["--id-prefix", "kiosk", "--timeout", "60", "--json"]
    args += [] if rate is None else ["--rate", str(rate)]
    log = where / "loadgen.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--config", str(config), "loadgen", *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clock.env(),
        )
    try:
        yield Run(process, where / "data" / TERMINAL / "kiosk.db", log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        clock.cleanup(process.pid)


def states(db: Path) -> list[tuple[int, str, int, str | None]]:
    """(seq, state, attempts, sent_at) of each committed event; [] until the outbox exists."""
    if not db.exists():
        return []
    try:
        with closing(sqlite3.connect(db, timeout=5)) as conn:
            sql = "SELECT seq, state, attempts, sent_at FROM events ORDER BY seq"
            return conn.execute(sql).fetchall()
    except sqlite3.Error:
        return []


def has_committed(db: Path, count: int) -> bool:
    """At least ``count`` events are in the outbox."""
    return len(states(db)) >= count


def all_sent(db: Path, count: int) -> bool:
    """Every one of ``count`` events published once and awaiting the central ack."""
    rows = states(db)
    return len(rows) == count and all(r[1] == "sent" and r[2] == 1 for r in rows)


def all_published(db: Path, count: int) -> bool:
    """Every one of ``count`` events published at least once."""
    rows = states(db)
    return len(rows) == count and all(r[2] >= 1 for r in rows)


def outbox_rows(db: Path) -> list[OutboxRow]:
    """The outbox's events in ``seq`` order (after the process has exited)."""
    outbox = Outbox.open(db, TERMINAL, "default")
    try:
        return outbox.rows()
    finally:
        outbox.close()


def day_offset(stamp: str | None, began: float) -> int:
    """Whole days between a recorded RFC 3339 time and the true time the test began."""
    assert stamp is not None
    return round((datetime.fromisoformat(stamp).timestamp() - began) / DAY_S)


def published(probe: Probe) -> Counter[str]:
    """How many times each event id was published on the terminal's events topic."""
    batches = [EventBatch.model_validate_json(p) for p in probe.payloads(EVENTS)]
    return Counter(str(e.event_id) for batch in batches for e in batch.events)


def start_receiver(threads: Threads, url: str, db: Path, client_id: str) -> None:
    """Run the reference receiver (true clock) in a thread until it has subscribed."""
    receiver = Receiver(url, db, client_id=client_id)
    threads.start(lambda: receiver.run(threads.stop), client_id)
    assert receiver.ready.wait(15), f"{client_id} did not subscribe"


@pytest.fixture
def probe(broker: Mosquitto) -> Iterator[Probe]:
    """A clean-session subscriber to the terminal's events topic: every publish, resends too."""
    watcher = Probe(broker.url, "clock-probe")
    watcher.subscribe(EVENTS)
    yield watcher
    watcher.close()


def test_steps_during_commits_keep_seq_in_commit_order_and_deliver_once(
    tmp_path: Path, broker: Mosquitto, clock: FakeClock, probe: Probe
) -> None:
    count, steps = 100, ((20, "+2d"), (45, "-3d"), (70, "+0"))
    central = tmp_path / "central.db"
    began = time.time()
    with Threads() as threads:
        start_receiver(threads, broker.url, central, "central-steps")
        # 8 commits/s: each step lands 3 s before the next is due, time enough for this test
        # to see the count and step the clock while another worker keeps both cores busy.
        with loadgen(clock, tmp_path, broker.url, count, 8, ack_timeout_s=600) as run:
            for committed, offset in steps:
                wait_for(partial(has_committed, run.db, committed), 30, f"{committed} commits")
                clock.set(offset)
            summary = run.finish()
    assert summary["committed"] == count and summary["delivered"] is True, summary

    rows = outbox_rows(run.db)
    assert [r.event.seq for r in rows] == list(range(1, count + 1))
    # loadgen's n-th commit is person E{1000 + n}: seq follows the commit order exactly
    assert [r.event.person_id for r in rows] == [f"E{1000 + n}" for n in range(count)]
    assert {(r.state, r.attempts) for r in rows} == {("acked", 1)}
    # the wall clock really stepped between commits: +2 days, then back 5 days, then +3 days
    days = [day_offset(r.committed_at, began) for r in rows]
    assert [d for d, _ in groupby(days)] == [0, 2, -3, 0], days
    captured = [day_offset(format_rfc3339(r.event.captured_at), began) for r in rows]
    assert [d for d, _ in groupby(captured)] == [0, 2, -3, 0], captured  # taken just before
    assert min(len(list(g)) for _, g in groupby(days)) >= 5, days

    store = ReceiverStore(central)
    stored = [(e["seq"], e["event_id"], e["captured_at"]) for e in store.events()]
    assert stored == [
        (r.event.seq, str(r.event.event_id), format_rfc3339(r.event.captured_at)) for r in rows
    ]
    assert store.duplicates() == 0
    store.close()
    assert published(probe) == Counter({str(r.event.event_id): 1 for r in rows})


def test_forward_step_does_not_fire_the_ack_timeout(
    tmp_path: Path, broker: Mosquitto, clock: FakeClock, probe: Probe
) -> None:
    count, central = 20, tmp_path / "central.db"
    with Threads() as first:  # the receiver's persistent session: the broker queues for it
        start_receiver(first, broker.url, central, "central-away")
    began = time.time()
    with loadgen(clock, tmp_path, broker.url, count, None, ack_timeout_s=600) as run:
        wait_for(lambda: all_sent(run.db, count), 30, "every event published, awaiting its ack")
        clock.set("+2d")
        # A wall-clock deadline would now be 2 days overdue; the sync looks every 0.2 s.
        time.sleep(3)
        assert all_sent(run.db, count), states(run.db)
        assert set(published(probe).values()) == {1}, published(probe)
        with Threads() as threads:
            start_receiver(threads, broker.url, central, "central-away")
            summary = run.finish()
    assert summary["delivered"] is True, summary

    rows = outbox_rows(run.db)
    assert {(r.state, r.attempts) for r in rows} == {("acked", 1)}
    assert {day_offset(r.sent_at, began) for r in rows} == {0}
    assert {day_offset(r.acked_at, began) for r in rows} == {2}, "the clock never stepped"
    store = ReceiverStore(central)
    assert [e["seq"] for e in store.events()] == list(range(1, count + 1))
    assert store.duplicates() == 0
    store.close()
    assert published(probe) == Counter({str(r.event.event_id): 1 for r in rows})


def test_backward_step_does_not_stall_the_resend(
    tmp_path: Path, broker: Mosquitto, clock: FakeClock, probe: Probe
) -> None:
    count, central = 20, tmp_path / "central.db"
    began = time.time()
    with loadgen(clock, tmp_path, broker.url, count, None, ack_timeout_s=2) as run:
        # nobody subscribes yet: the broker drops these publishes, only a resend can deliver
        wait_for(partial(all_published, run.db, count), 30, "every event published")
        clock.set("-1d")

        def resent_after_the_step() -> bool:
            rows = states(run.db)
            resent = [r for r in rows if r[2] >= 2 and day_offset(r[3], began) == -1]
            return len(resent) == count

        # a wall-clock deadline would be a day away now; the monotonic one is 2 s away
        wait_for(resent_after_the_step, 30, "every event resent with the clock a day behind")
        with Threads() as threads:
            start_receiver(threads, broker.url, central, "central-late")
            summary = run.finish()
    assert summary["delivered"] is True, summary

    rows = outbox_rows(run.db)
    assert [r.event.seq for r in rows] == list(range(1, count + 1))
    assert {r.state for r in rows} == {"acked"}
    assert {day_offset(r.acked_at, began) for r in rows} == {-1}
    store = ReceiverStore(central)
    assert [e["seq"] for e in store.events()] == list(range(1, count + 1))
    store.close()
    times = published(probe)
    assert set(times) == {str(r.event.event_id) for r in rows}
    assert min(times.values()) >= 2, times
