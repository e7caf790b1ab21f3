"""``kiosk leave`` and ``kiosk corrections`` against real receiver databases: a CSV with a BOM
and Chinese text imported, re-imported and cancelled; a bad row stores nothing; corrections
added, voided and refused; every command names its database and every error is one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from central.receiver.store import ReceiverStore
from central.records.store import RecordsStore
from cli.main import main
from tests.alert_tools import MONDAY, check_in, local, make_schedule


@dataclass
class Central:
    """A receiver database with one stored check-in, and a schedule file."""

    db: str
    name: str
    schedule: Path
    event_id: str

    def records(self) -> RecordsStore:
        """The HR records of the database (close it after)."""
        return RecordsStore(self.db)


@pytest.fixture
def central(tmp_path: Path, central_db: str) -> Iterator[Central]:
    store = ReceiverStore(central_db)
    event = check_in("E1", local(MONDAY, 8, 55))
    store.store([event])
    schedule = tmp_path / "schedule.json"
    schedule.write_text(make_schedule().model_dump_json(), encoding="utf-8")
    name = RecordsStore(central_db)
    try:
        yield Central(central_db, name.name, schedule, str(event.event_id))
    finally:
        name.close()
        store.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``kiosk ARGS``: the exit status, standard output and standard error."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

CSV = (
    "\ufeffleave_id,person_id,kind,from,to,note,approved_by\n"
    "L1,张伟,annual,2025-03-03,2025-03-04,年假 两天,王经理\n"
    "L2,E1,sick,2025-03-05 09:00,2025-03-05 12:00,看病,王经理\n"
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_leave_import_list_reimport_and_cancel(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    db = ["--db", central.db]
    zone = ["--schedule", str(central.schedule)]
    leave_file = _write(tmp_path / "leave.csv", CSV)
    status, out, _ = run(capsys, "leave", "import", str(leave_file), *db, *zone, "--dry-run")
    assert status == 0 and "2 leave periods are valid; nothing stored" in out
    records = central.records()
    try:
        assert records.leave_between(*ALL_TIME) == []
    finally:
        records.close()

    status, out, _ = run(capsys, "leave", "import", str(leave_file), *db, *zone)
    assert (status, out) == (
        0,
        f"imported 2 leave periods (2 new, 0 replaced) into {central.name}\n",
    )

    status, out, err = run(capsys, "leave", "list", *db, "--timezone", "Asia/Shanghai")
    assert status == 0 and central.name in err
    lines = out.splitlines()
    assert lines[0].split() == ["leave_id", "person_id", "kind", "from", "to", "approved_by",
                                "cancelled", "note"]  # fmt: skip
    assert lines[2].split() == ["L1", "张伟", "annual", "2025-03-03", "2025-03-04", "王经理",
                                "年假", "两天"]  # fmt: skip
    assert "2025-03-05 09:00  2025-03-05 12:00" in lines[3]

    status, out, _ = run(capsys, "leave", "list", *db, *zone, "--from", "2025-03-05", "--json")
    listed = json.loads(out)
    assert [p["leave_id"] for p in listed] == ["L2"]
    assert listed[0]["start"] == "2025-03-05T01:00:00.000Z" and listed[0]["note"] == "看病"

    # Again, with L2 moved: replaced, not doubled.
    moved = CSV.replace("2025-03-05 12:00", "2025-03-05 13:30")
    _write(leave_file, moved)
    status, out, _ = run(capsys, "leave", "import", str(leave_file), *db, *zone)
    assert out == f"imported 2 leave periods (0 new, 2 replaced) into {central.name}\n"
    status, out, _ = run(capsys, "leave", "list", *db, *zone, "--person", "E1", "--json")
    assert [(p["leave_id"], p["end"]) for p in json.loads(out)] == [
        ("L2", "2025-03-05T05:30:00.000Z")
    ]

    status, out, _ = run(capsys, "leave", "cancel", "L1", *db, "--by", "王经理")
    assert (status, out) == (0, f"cancelled leave L1 of 张伟 (annual) in {central.name}\n")
    status, out, _ = run(capsys, "leave", "list", *db, *zone, "--json")
    assert [p["leave_id"] for p in json.loads(out)] == ["L2"]
    status, out, _ = run(capsys, "leave", "list", *db, *zone, "--cancelled", "--json")
    cancelled = {p["leave_id"]: p["cancelled_by"] for p in json.loads(out)}
    assert cancelled == {"L1": "王经理", "L2": ""}

    status, _, err = run(capsys, "leave", "cancel", "L1", *db, "--by", "王经理")
    assert status == 1 and len(err.splitlines()) == 1 and "already cancelled" in err
    status, _, err = run(capsys, "leave", "cancel", "L9", *db, "--by", "王经理")
    assert (status, err) == (1, f"kiosk: error: no leave 'L9' in {central.name}\n")


def test_a_bad_row_is_one_line_and_nothing_is_stored(
    central: Central, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    bad = _write(tmp_path / "leave.csv", CSV + "L3,E2,holiday,2025-03-06,2025-03-06,,\n")
    status, out, err = run(capsys, "leave", "import", str(bad), "--db", central.db,
                           "--timezone", "Asia/Shanghai")  # fmt: skip
    assert (status, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith(f"kiosk: error: {bad}: row 3: kind 'holiday' is not one of annual")
    assert err.endswith("; nothing was imported\n")
    records = central.records()
    try:
        assert records.leave_between(*ALL_TIME, include_cancelled=True) == []
    finally:
        records.close()


def test_corrections_add_void_and_void_again(central: Central, capsys: pytest.CaptureFixture[str]):
    db = ["--db", central.db]
    status, out, err = run(capsys, "corrections", "add", *db, "--timezone", "Asia/Shanghai",
                           "--person", "E2", "--at", "2025-03-03 08:58", "--direction", "in",
                           "--reason", "忘带工卡 forgot the badge", "--by", "王经理",
                           "--session", "fire-101")  # fmt: skip
    assert status == 0 and central.name in err
    added = out.strip()
    records = central.records()
    try:
        stored = records.correction(UUID(added))
    finally:
        records.close()
    assert stored is not None and stored.person_id == "E2"
    assert stored.captured_at is not None and stored.captured_at == local(MONDAY, 8, 58)
    assert stored.schedule_ref == "session:fire-101"

    for target in (central.event_id, added):
        status, out, err = run(capsys, "corrections", "void", target, *db,
                               "--reason", "wrong person", "--by", "王经理")  # fmt: skip
        assert status == 0 and f"voided check-in {target}" in err and central.name in err
        status, out, err = run(capsys, "corrections", "void", target, *db,
                               "--reason", "wrong person", "--by", "王经理")  # fmt: skip
        assert (status, out) == (1, "")
        assert err.count("\n") == 1 and "already voided" in err

    status, _, err = run(capsys, "corrections", "void", "not-a-uuid", *db,
                         "--reason", "x y", "--by", "S")  # fmt: skip
    assert (status, err) == (1, "kiosk: error: 'not-a-uuid': not an event id (a UUID)\n")
    status, _, err = run(capsys, "corrections", "add", *db, "--timezone", "Asia/Shanghai",
                         "--person", "E2", "--at", "2025-03-03 08:58", "--direction", "in",
                         "--reason", "x", "--by", "S")  # fmt: skip
    assert status == 1 and err.startswith("kiosk: error: not a valid correction: 1 problem")

    status, out, _ = run(capsys, "corrections", "list", *db, "--schedule", str(central.schedule),
                         "--json")  # fmt: skip
    listed = json.loads(out)
    assert [c["action"] for c in listed] == ["add", "void", "void"]
    status, out, err = run(capsys, "corrections", "list", *db, "--timezone", "Asia/Shanghai")
    assert status == 0 and len(out.splitlines()) == 5 and "3 corrections" in err
    assert "2025-03-03 08:58" in out.splitlines()[2] and "忘带工卡" in out


def test_a_missing_database_or_zone_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    missing = tmp_path / "missing.db"
    leave_file = _write(tmp_path / "leave.csv", CSV)
    status, _, err = run(capsys, "leave", "import", str(leave_file), "--db", str(missing),
                         "--timezone", "Asia/Shanghai")  # fmt: skip
    assert (status, err) == (
        1, f"kiosk: error: {missing}: no such receiver database (run kiosk receive --db first)\n"
    )  # fmt: skip
    assert not missing.exists()
    status, _, err = run(capsys, "corrections", "list", "--db", str(missing))
    assert status == 2 and "--schedule FILE or --timezone ZONE" in err
    status, _, err = run(capsys, "leave", "list", "--db", str(missing), "--timezone", "Mars/Base")
    assert (status, err) == (1, "kiosk: error: --timezone 'Mars/Base': unknown time zone"
                                " (e.g. Asia/Shanghai)\n")  # fmt: skip
