"""The outbox: durable commits, a seq that survives restarts, delivery states."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from common.errors import StoreCorruptError
from models.messages import Method
from terminal.store.database import open_database
from terminal.store.outbox import ROOM_CHUNKS, CheckInDraft, Outbox
from tests.delivery_tools import fill_until_full


def _draft(person: str = "E1001") -> CheckInDraft:
    return CheckInDraft(person, Method.QR, datetime.now(UTC))


def test_seq_survives_restart_and_is_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    first = Outbox.open(path, "k1", "hq")
    seqs = [first.commit_checkin(_draft(), clock_synced=False).seq for _ in range(3)]
    first.close()
    # Deleting rows (a future purge of acknowledged events) must not make seq go back.
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM events")
    conn.commit()
    conn.close()
    second = Outbox.open(path, "k1", "hq")
    assert second.commit_checkin(_draft(), clock_synced=False).seq == 4
    second.close()
    assert seqs == [1, 2, 3]


def test_events_survive_restart_with_their_state(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    outbox = Outbox.open(path, "k1", "hq")
    events = [outbox.commit_checkin(_draft(f"E{i}"), clock_synced=True) for i in range(4)]
    outbox.mark_sent([events[0].seq, events[1].seq])
    outbox.mark_acked([str(events[0].event_id)])
    outbox.close()

    reopened = Outbox.open(path, "k1", "hq")
    assert reopened.counts() == {"pending": 2, "sent": 1, "acked": 1}
    assert [e.event_id for e in reopened.due(10, exclude_sent=False)] == [
        e.event_id for e in events[1:]
    ]
    assert reopened.requeue() == 1
    assert reopened.counts() == {"pending": 3, "sent": 0, "acked": 1}
    reopened.close()


def test_ack_of_unknown_or_repeated_ids_changes_nothing(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "kiosk.db", "k1", "hq")
    event = outbox.commit_checkin(_draft(), clock_synced=True)
    assert outbox.mark_acked(["00000000-0000-0000-0000-000000000000"]) == 0
    assert outbox.mark_acked([str(event.event_id)]) == 1
    assert outbox.mark_acked([str(event.event_id)]) == 0
    outbox.close()


def test_a_full_store_deletes_only_acknowledged_events_to_make_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "hq", max_size_mb=1)
    seqs = fill_until_full(outbox)  # nothing acknowledged: refused, nothing deleted
    assert len(seqs) > 1000
    assert [r.event.seq for r in outbox.rows()] == seqs
    # The sync's own connection (not capped, like the daemon's) records the delivery.
    sync = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "hq")
    acked = seqs[: ROOM_CHUNKS[0] + 100]
    sync.mark_sent(seqs[: len(acked) + 50])
    ids = {r.event.seq: str(r.event.event_id) for r in sync.rows()}
    sync.mark_acked(ids[seq] for seq in acked)
    sync.close()
    caplog.set_level(logging.WARNING, logger="terminal.store.outbox")
    added: list[int] = []
    while not any("acknowledged events early" in r.getMessage() for r in caplog.records):
        assert len(added) < 1000, "the store never needed room"
        added.append(outbox.commit_checkin(_draft(f"E{len(seqs) + len(added)}"), True).seq)
    assert added == list(range(seqs[-1] + 1, seqs[-1] + 1 + len(added)))
    kept = [r.event.seq for r in outbox.rows()]
    assert kept == seqs[ROOM_CHUNKS[0] :] + added, "only the oldest acknowledged events go"
    counts = outbox.counts()
    assert counts["acked"] == len(acked) - ROOM_CHUNKS[0] and counts["sent"] == 50
    outbox.close()


def test_a_size_cap_below_the_file_never_damages_it(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "hq")
    seqs = [outbox.commit_checkin(_draft(f"E{n}"), True).seq for n in range(3000)]
    outbox.close()
    smaller = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "hq", max_size_mb=1)
    ((pages,),) = smaller.db.conn.execute("PRAGMA page_count").fetchall()
    assert pages * 4096 > 2**20, "the file must start larger than the cap"
    assert [r.event.seq for r in smaller.rows()] == seqs
    added = fill_until_full(smaller, refusals=20)  # only the room left in its pages
    assert smaller.db.conn.execute("PRAGMA page_count").fetchone() == (pages,)
    assert [r.event.seq for r in smaller.rows()] == seqs + added
    smaller.close()


def test_corrupt_database_is_reported_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    garbage = b"this is not an sqlite database" * 100
    path.write_bytes(garbage)
    with pytest.raises(StoreCorruptError, match=r"kiosk\.db"):
        open_database(path)
    assert path.read_bytes() == garbage


def test_events_cli_lists_and_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outbox = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "default")
    first = outbox.commit_checkin(_draft("E1"), clock_synced=True)
    outbox.commit_checkin(_draft("E2"), clock_synced=True)
    outbox.mark_sent([first.seq])
    outbox.close()

    assert main(["--data-dir", str(tmp_path), "events", "count", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "pending": 1,
        "sent": 1,
        "acked": 0,
        "total": 2,
    }
    assert main(["--data-dir", str(tmp_path), "events", "list", "--json", "--state", "sent"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["person_id"] == "E1" and record["state"] == "sent" and record["seq"] == 1


def test_damaged_database_is_quarantined_and_seq_goes_on(tmp_path: Path) -> None:
    from terminal.store.database import open_or_quarantine

    path = tmp_path / "kiosk.db"
    outbox = Outbox.open(path, "k1", "hq")
    for _ in range(5):
        outbox.commit_checkin(_draft(), clock_synced=True)
    outbox.close()
    data = bytearray(path.read_bytes())
    data[:16] = b"garbage-garbage!"  # destroy the SQLite header
    path.write_bytes(bytes(data))

    db, moved = open_or_quarantine(path)
    assert moved is not None and moved.exists()
    assert moved.read_bytes()[:16] == b"garbage-garbage!"
    fresh = Outbox(db, "k1", "hq")
    assert fresh.commit_checkin(_draft(), clock_synced=True).seq > 5
    fresh.close()
