"""``kiosk loadgen`` against a real mosquitto and two grouped receivers writing one central
database (an SQLite file, and a PostgreSQL database); ``bench sync`` shape."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from central.receiver.service import Receiver, ReceiverStore
from cli.main import main
from terminal.store.outbox import Outbox
from tests.delivery_tools import Threads
from tests.mosquitto import Mosquitto

TERMINALS = ("load-001", "load-002", "load-003")


@pytest.mark.parametrize("processes", [1, 2])
def test_loadgen_fleet_reaches_two_grouped_receivers_exactly_once(
    tmp_path: Path,
    broker: Mosquitto,
    capsys: pytest.CaptureFixture[str],
    processes: int,
    central_db: str,
):
    central = central_db
    data = tmp_path / "fleet"
    with Threads() as threads:
        for name in ("central-a", "central-b"):
            receiver = Receiver(broker.url, central, group="central", client_id=name)
            threads.start(lambda r=receiver: r.run(threads.stop), name)  # type: ignore[misc]
            assert receiver.ready.wait(10), f"{name} did not subscribe"
        args = ["loadgen", "--count", "200", "--terminals", "3", "--broker", broker.url]
        args += ["--terminals-per-process", str(math.ceil(3 / processes))]
        assert main([*args, "--data-dir", str(data), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["committed"] == 200 and summary["terminals"] == 3
    assert summary["processes"] == processes
    assert summary["delivered"] is True and summary["unacknowledged"] == 0

    store = ReceiverStore(central)
    rows = store.events()
    assert len(rows) == 200
    pages, cursor = [], 0
    while page := store.events_after(cursor, 33):
        pages.extend(page)
        cursor = page[-1].cursor
    assert sorted(str(p.event.event_id) for p in pages) == sorted(r["event_id"] for r in rows)
    assert [p.cursor for p in pages] == sorted({p.cursor for p in pages})
    per_terminal: Counter[str] = Counter(row["terminal_id"] for row in rows)
    assert per_terminal == {"load-001": 67, "load-002": 67, "load-003": 66}
    stored = {(row["terminal_id"], row["seq"], row["event_id"]) for row in rows}
    for terminal_id in TERMINALS:
        outbox = Outbox.open(data / terminal_id / "kiosk.db", terminal_id, "default")
        committed = {(terminal_id, r.event.seq, str(r.event.event_id)) for r in outbox.rows()}
        assert outbox.counts()["pending"] == outbox.counts()["sent"] == 0, terminal_id
        assert outbox.backlog() == 0
        outbox.close()
        assert committed == {s for s in stored if s[0] == terminal_id}, terminal_id
        seqs = sorted(seq for t, seq, _ in stored if t == terminal_id)
        assert seqs == list(range(1, per_terminal[terminal_id] + 1))


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for item in value.values() for n in _numbers(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    return []


def test_bench_sync_quick_reports_both_sides(capsys: pytest.CaptureFixture[str]):
    assert main(["bench", "sync", "--quick", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["quick"] is True and result["backlog_memory"] is None
    assert {"cpu_count", "machine"} <= result["host"].keys()
    assert {"sides", "kiosk", "naive", "events_per_s", "drain_s", "peak_rss"} <= set(
        result["method"]
    )
    for side in ("kiosk", "naive"):
        figures = result[side]
        assert figures["events"] == result["events"], side
        assert {"drain_s", "events_per_s", "peak_rss_mb", "rss_at_start_mb", "cpu_s"} <= set(
            figures
        )
        assert figures["receiver"]["stored"] == result["events"], side
        numbers = _numbers(figures)
        assert numbers and all(math.isfinite(n) and n >= 0 for n in numbers), side
    assert result["speedup"] > 0
