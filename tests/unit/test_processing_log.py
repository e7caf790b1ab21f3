"""The face processing log on a real kiosk.db: append-only steps, daily counts of face
check-ins, the export and the retention."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from terminal.store.database import open_database, write_transaction
from terminal.store.processing_log import count_use, counts, export_rows, prune, record

DAY = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_steps_are_append_only_and_uses_are_counted_per_person_and_day(tmp_path: Path) -> None:
    db = open_database(tmp_path / "kiosk.db")
    db.conn.execute("INSERT INTO people (person_id, name, created_at) VALUES ('E1', 'Wei', '')")
    with write_transaction(db) as conn:
        record(conn, "template_created", "E1", 3, "local camera", at=DAY)
        for minutes in (0, 5, 600):  # two on the 3rd, one on the 4th (UTC)
            count_use(conn, "E1", DAY + timedelta(minutes=minutes) + timedelta(hours=14))
        count_use(conn, "E2", DAY)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("UPDATE processing_log SET templates = 0")
    rows = [(r.at, r.action, r.person_id, r.templates, r.uses) for r in export_rows(db)]
    # Each day: its steps in order, then its counts (E2 is not enrolled here: by hash only).
    assert rows[0] == ("2026-12-03T09:00:00.000Z", "template_created", "E1", 3, 0)
    assert set(rows[1:3]) == {
        ("2026-12-03", "template_used", "E1", 0, 2),
        ("2026-12-03", "template_used", "", 0, 1),
    }
    assert rows[3:] == [("2026-12-04", "template_used", "E1", 0, 1)]
    assert counts(db) == {"consent_recorded": 0, "template_created": 1, "template_used": 4,
                          "template_deleted": 0}  # fmt: skip
    day3 = [r for r in export_rows(db, DAY, DAY + timedelta(days=1)) if r.person_id == "E1"]
    assert [(r.action, r.uses) for r in day3] == [("template_created", 0), ("template_used", 2)]


def test_retention_deletes_steps_and_counts_older_than_its_days(tmp_path: Path) -> None:
    db = open_database(tmp_path / "kiosk.db")
    old, recent = DAY - timedelta(days=1100), DAY - timedelta(days=10)
    with write_transaction(db) as conn:
        for when in (old, recent):
            record(conn, "consent_recorded", "E1", detail="on_device", at=when)
            count_use(conn, "E1", when)
    assert prune(db, 1095, now=DAY) == 2
    assert [(r.at[:10], r.action) for r in export_rows(db)] == [
        (recent.date().isoformat(), "consent_recorded"),
        (recent.date().isoformat(), "template_used"),
    ]
    assert prune(db, 1095, now=DAY) == 0
