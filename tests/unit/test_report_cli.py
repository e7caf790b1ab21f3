"""``kiosk report shifts|sessions`` on a real receiver database: every output, one-line errors."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
from openpyxl import load_workbook

from central.receiver.store import ReceiverStore
from cli.main import main
from tests.alert_tools import MONDAY, check_in, local, make_schedule

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def central(tmp_path: Path) -> tuple[Path, Path]:
    """A receiver db with two days of shifts and a session; the schedule file."""
    start = local(MONDAY, 14, 0)
    events = [
        check_in("E1", local(MONDAY, 8, 58)),
        check_in("E1", local(MONDAY, 18, 2), direction="out"),
        check_in("张伟", local(MONDAY, 9, 20)),  # 20 min late: half a day
        check_in("张伟", local(MONDAY, 18, 0), direction="out"),
        check_in("E1", local(TUESDAY, 9, 0)),
        check_in("E1", local(TUESDAY, 17, 40), direction="out"),  # 20 min early
        check_in("E1", start - timedelta(minutes=2), terminal_id="room-1"),
        check_in("E2", start + timedelta(minutes=30), terminal_id="room-1"),
        check_in("E2", start + timedelta(minutes=90), terminal_id="room-1", direction="out"),
    ]
    db = tmp_path / "central.db"
    store = ReceiverStore(db)
    store.store(events[::-1])  # out of order, and twice: reports must not care
    store.store(events)
    store.close()
    schedule = tmp_path / "schedule.json"
    schedule.write_text(make_schedule(start).model_dump_json(), encoding="utf-8")
    return db, schedule


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def _shifts(db: Path, schedule: Path, *more: str) -> list[str]:
    base = ["report", "shifts", "--db", str(db), "--schedule", str(schedule)]
    return [*base, "--from", "2025-03-03", "--to", "2025-03-04", *more]


def test_shifts_text_table(central, capsys):
    status, out, _ = _run(capsys, *_shifts(*central))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("Shift attendance 2025-03-03 to 2025-03-04 (Asia/Shanghai")
    zhang = next(line for line in lines if "张伟" in line and "2025-03-03" in line)
    assert "09:20" in zhang and "late" in zhang and "half_day" in zhang
    # Monday's session check-ins fall in E2's shift window; on Tuesday E2 never came.
    e2 = next(line for line in lines if " E2 " in line and "2025-03-04" in line)
    assert "absent" in e2 and "full_day" in e2
    tuesday = next(line for line in lines if " E1 " in line and "2025-03-04" in line)
    assert "early_leave" in tuesday and " 20 " in tuesday


def test_shifts_csv_xlsx_png_json(central, tmp_path, capsys):
    files = {ext: tmp_path / f"shifts.{ext}" for ext in ("csv", "xlsx", "png")}
    args = [item for ext, path in files.items() for item in (f"--{ext}", str(path))]
    status, out, err = _run(capsys, *_shifts(*central, *args, "--json"))
    assert status == 0, err
    assert err.count("wrote ") == 3
    with files["csv"].open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6  # E1, E2, 张伟 on two days
    zhang = next(r for r in rows if r["person_id"] == "张伟" and r["day"] == "2025-03-03")
    assert zhang["status"] == "late" and zhang["late_min"] == "20"
    book = load_workbook(files["xlsx"])
    assert book.sheetnames == ["Shifts", "Daily", "Monthly flags", "Unscheduled"]
    daily = list(book["Daily"].iter_rows(values_only=True))
    assert daily[0][:3] == ("day", "scheduled", "present") and len(daily) == 3
    image = cv2.imread(str(files["png"]))
    assert image is not None and image.shape[0] >= 300 and image.shape[1] >= 500
    document = json.loads(out)
    assert document["report"] == "shifts" and len(document["rows"]) == 6
    assert {r["day"] for r in document["daily"]} == {"2025-03-03", "2025-03-04"}


def test_sessions_text_and_every_output(central, tmp_path, capsys):
    db, schedule = central
    base = ["report", "sessions", "--db", str(db), "--schedule", str(schedule)]
    status, out, _ = _run(capsys, *base, "--session", "fire-101")
    assert status == 0
    assert out.startswith("fire-101 消防安全 Fire safety: 2 of 4 expected attended")
    e2 = next(line for line in out.splitlines() if line.startswith("E2 "))
    assert "60" in e2 and "50%" in e2 and "flagged" in e2
    csv_path, xlsx_path, png_path = (tmp_path / f"s.{ext}" for ext in ("csv", "xlsx", "png"))
    args = ["--csv", str(csv_path), "--xlsx", str(xlsx_path), "--png", str(png_path), "--json"]
    status, out, err = _run(capsys, *base, *args)
    assert status == 0, err
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = {r["person_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"E1", "E2", "E3", "E4"}
    assert rows["E1"]["status"] == "attended" and rows["E3"]["status"] == "absent"
    assert load_workbook(xlsx_path).sheetnames == ["Attendance", "Sessions"]
    image = cv2.imread(str(png_path))
    assert image is not None and image.shape[1] >= 500
    assert json.loads(out)["sessions"][0]["attended"] == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--from", "2025-02-30"], "--from '2025-02-30': not a date, use YYYY-MM-DD"),
        (["--to", "yesterday"], "--to 'yesterday': not a date, use YYYY-MM-DD"),
        (["--from", "2025-03-05"], "--to 2025-03-04 is before --from 2025-03-05"),
    ],
)
def test_bad_dates_are_one_line(central, capsys, change, message):
    status, out, err = _run(capsys, *_shifts(*central), *change)
    assert status == 1 and out == ""
    assert err == f"kiosk: error: {message}\n"


def test_bad_schedule_missing_db_and_unknown_session_are_one_line(central, tmp_path, capsys):
    db, schedule = central
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": 1, "timezone": "Mars/Base", "shifts": [{}]}))
    status, _, err = _run(capsys, *_shifts(db, bad))
    assert status == 1 and err.count("\n") == 1
    assert err.startswith(f"kiosk: error: {bad}: not a valid schedule: ")
    assert "problems, first: " in err
    bad.write_text("{not json")
    status, _, err = _run(capsys, *_shifts(db, bad))
    assert (
        status == 1
        and err.startswith(f"kiosk: error: {bad}: not valid JSON")
        and err.count("\n") == 1
    )
    missing = tmp_path / "missing.db"
    status, _, err = _run(capsys, *_shifts(missing, schedule))
    assert status == 1 and "no such receiver database" in err and err.count("\n") == 1
    assert not missing.exists()
    base = ["report", "sessions", "--db", str(db), "--schedule", str(schedule)]
    status, _, err = _run(capsys, *base, "--session", "nope")
    assert status == 1 and err == f"kiosk: error: {schedule}: unknown session(s): nope\n"
