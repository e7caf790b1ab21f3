"""Retention: old acknowledged events are deleted, unacknowledged ones never, seq goes on."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.receiver.service import Receiver, ReceiverStore
from models.messages import CheckInEvent, format_rfc3339
from terminal.store.outbox import Outbox
from terminal.store.retention import Retention
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Threads, commit, make_config, wait_for
from tests.mosquitto import Mosquitto

FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


def _age_acks(path: Path, events: list[CheckInEvent], days: float) -> None:
    """Pretend these events were acknowledged ``days`` ago (another connection, committed)."""
    when = format_rfc3339(datetime.now(UTC) - timedelta(days=days))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "UPDATE events SET acked_at = ? WHERE event_id = ?",
            [(when, str(e.event_id)) for e in events],
        )
    conn.close()


def _seqs(outbox: Outbox) -> list[int]:
    return [row.event.seq for row in outbox.rows()]


def _ids(outbox: Outbox) -> list[str]:
    return [str(row.event.event_id) for row in outbox.rows()]


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An outbox in a real SQLite file."""
    opened = Outbox.open(tmp_path / "kiosk.db", "k1", "hq")
    yield opened
    opened.close()


def test_only_acked_events_older_than_the_cutoff_are_purged(tmp_path: Path, outbox: Outbox):
    events = commit(outbox, 6)
    outbox.mark_sent([e.seq for e in events[:4]])
    outbox.mark_acked([str(e.event_id) for e in events[:2]])  # 1, 2 acked; 3, 4 sent; 5, 6 pending
    _age_acks(tmp_path / "kiosk.db", events[:1], days=40)

    assert outbox.purge_acked(timedelta(days=30)) == 1
    assert _seqs(outbox) == [2, 3, 4, 5, 6]
    assert outbox.purge_acked(30 * 86400.0) == 0  # seconds work too; nothing else is that old

    # Whatever the age, sent and pending events stay; only the acknowledged one goes.
    assert outbox.purge_acked(timedelta(0), now=FAR_FUTURE) == 1
    assert outbox.counts() == {"pending": 2, "sent": 2, "acked": 0}
    assert _seqs(outbox) == [3, 4, 5, 6]
    assert outbox.purge_acked(timedelta(0), now=FAR_FUTURE) == 0


def test_purge_with_a_limit_takes_the_oldest_first(outbox: Outbox):
    events = commit(outbox, 5)
    outbox.mark_acked([str(e.event_id) for e in events])
    assert outbox.purge_acked(0, limit=2, now=FAR_FUTURE) == 2
    assert _seqs(outbox) == [3, 4, 5]
    assert outbox.purge_acked(0, limit=10, now=FAR_FUTURE) == 3
    assert outbox.counts() == {"pending": 0, "sent": 0, "acked": 0}


def test_seq_continues_after_a_purge_and_a_restart(tmp_path: Path):
    path = tmp_path / "kiosk.db"
    first = Outbox.open(path, "k1", "hq")
    events = commit(first, 5)
    first.mark_acked([str(e.event_id) for e in events])
    assert first.purge_acked(0, now=FAR_FUTURE) == 5
    assert commit(first, 1)[0].seq == 6
    first.mark_acked(_ids(first))
    assert first.purge_acked(0, now=FAR_FUTURE) == 1
    first.close()

    second = Outbox.open(path, "k1", "hq")
    assert second.rows() == []
    assert [e.seq for e in commit(second, 2)] == [7, 8]
    second.close()


def test_retention_purges_in_chunks_then_waits_for_the_next_pass(
    tmp_path: Path, outbox: Outbox, caplog: pytest.LogCaptureFixture
):
    events = commit(outbox, 7)
    outbox.mark_acked([str(e.event_id) for e in events[:6]])
    _age_acks(tmp_path / "kiosk.db", events[:5], days=3)
    retention = Retention(retain_acked_days=2, interval_s=100, chunk=2)
    caplog.set_level(logging.INFO, logger="terminal.store.retention")

    assert [retention.maybe_purge(outbox, now=t) for t in (0, 1, 2, 3)] == [2, 2, 1, 0]
    assert _seqs(outbox) == [6, 7]  # acked recently, and pending
    assert [r.getMessage() for r in caplog.records] == [
        "retention: purged 5 acknowledged events older than 2 days"
    ]
    _age_acks(tmp_path / "kiosk.db", events[5:6], days=3)
    assert retention.maybe_purge(outbox, now=99) == 0  # next pass not due yet
    assert retention.maybe_purge(outbox, now=102) == 1
    assert outbox.counts() == {"pending": 1, "sent": 0, "acked": 0}


def test_the_sync_purges_old_acked_events_and_delivers_the_rest(tmp_path: Path, broker: Mosquitto):
    config = make_config(tmp_path / "kiosk", broker.url)
    assert config.storage.retain_acked_days == 30
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    old = commit(outbox, 3)
    outbox.mark_acked([str(e.event_id) for e in old])
    _age_acks(config.database_path, old, days=31)
    new = commit(outbox, 5, start=4)
    central = tmp_path / "central.db"
    with Threads() as threads:
        receiver = Receiver(broker.url, central, client_id="central-test")
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(10), "the receiver did not subscribe"
        threads.start(SyncWorker(config, threads.stop, "9.9.9-test").run, "sync")
        wait_for(lambda: outbox.counts()["acked"] == 5, what="5 acked events")
        wait_for(lambda: _seqs(outbox) == [4, 5, 6, 7, 8], what="the old events to be purged")
    stored = {row["event_id"] for row in ReceiverStore(central).events()}
    assert stored == {str(e.event_id) for e in new}
