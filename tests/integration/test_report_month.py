"""``kiosk report month`` and ``kiosk report shifts`` with leave and corrections stored in a real
receiver database (an SQLite file and a PostgreSQL database): the workbook a payroll clerk
opens, the CSV and JSON, and one-line errors."""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from central.receiver.store import ReceiverStore
from central.records.store import RecordsStore
from cli.main import main
from models.hr_records import CheckInCorrection, LeavePeriod
from models.messages import CheckInEvent
from tests.report_tools import at, event, schedule

MARCH = [date(2026, 3, 1) + timedelta(days=n) for n in range(31)]
WORKDAYS = [d for d in MARCH if d.isoweekday() <= 5]  # 22


def _month_events() -> tuple[list[CheckInEvent], CheckInEvent]:
    """张伟 (in the ``ops`` group: day shift) on time every workday but three lates, A every
    workday but the 2nd to 4th (annual leave) and the 5th (absent); the third late of 张伟."""
    events: list[CheckInEvent] = []
    third_late = None
    for n, day in enumerate(WORKDAYS):
        arrival = "09:07" if n < 3 else "08:57"
        first = event("张伟", f"{day} {arrival}", direction="in")
        events += [first, event("张伟", f"{day} 18:01", direction="out")]
        if n == 2:
            third_late = first
        if n not in (1, 2, 3, 4):
            events += [event("A", f"{day} 08:50"), event("A", f"{day} 18:00")]
    assert third_late is not None
    return events, third_late


@pytest.fixture
def month_db(central_db: str, tmp_path: Path) -> tuple[str, Path, CheckInEvent]:
    """A receiver database with a month of check-ins and leave; the schedule file."""
    events, third_late = _month_events()
    store = ReceiverStore(central_db)
    store.store(events)
    store.close()
    records = RecordsStore(central_db)
    records.put_leave([
        LeavePeriod(leave_id="HR-1", person_id="A", kind="annual", whole_days=True,
                    start=at(f"{WORKDAYS[1]} 00:00"), end=at(f"{WORKDAYS[4]} 00:00"),
                    note="春节回家", approved_by="李主管"),
    ])  # fmt: skip
    records.close()
    sched = schedule()
    groups = {"ops": ["C", "张伟"]}
    path = tmp_path / "schedule.json"
    path.write_text(sched.model_copy(update={"groups": groups}).model_dump_json(), "utf-8")
    return central_db, path, third_late


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def _month(db: str, schedule_path: Path, *more: str) -> list[str]:
    return ["report", "month", "--db", db, "--schedule", str(schedule_path), "--month",
            "2026-03", *more]  # fmt: skip


def test_the_month_workbook_has_the_numbers_payroll_expects(month_db, tmp_path, capsys):
    db, schedule_path, _ = month_db
    xlsx, csv_path = tmp_path / "2026-03.xlsx", tmp_path / "2026-03.csv"
    status, out, err = _run(capsys, *_month(db, schedule_path, "--xlsx", str(xlsx), "--csv",
                                            str(csv_path), "--json"))  # fmt: skip
    assert status == 0, err
    assert err.count("wrote ") == 2
    workbook = load_workbook(xlsx, read_only=True)
    assert workbook.sheetnames == ["Month 2026-03", "Days", "Columns"]
    sheet = list(workbook["Month 2026-03"].iter_rows(values_only=True))
    header = list(sheet[0])
    people = {row[1]: dict(zip(header, row, strict=True)) for row in sheet[1:]}
    assert set(people) == {"A", "B", "C", "N", "张伟"}  # N: the night shift, every day
    zhang, a, b = people["张伟"], people["A"], people["B"]
    assert (zhang["scheduled_days"], zhang["worked_days"], zhang["lates"]) == (22, 22, 3)
    assert (zhang["late_minutes"], zhang["bonus_stopped"]) == (21, True)
    assert (a["leave_annual_days"], a["leave_days"], a["full_day_absences"]) == (3, 3, 1)
    assert (a["worked_days"], a["attended_days"], a["bonus_stopped"]) == (18, 18, False)
    assert (a["hours_worked"], a["scheduled_hours"]) == (18 * 9, 22 * 9)
    assert (b["worked_days"], b["absence_days"]) == (0, 22)
    days = list(workbook["Days"].iter_rows(values_only=True))
    assert len(days) == 1 + 4 * 22 + 31
    on_leave = [r for r in days[1:] if r[1] == "A" and r[days[0].index("status")] == "on_leave"]
    assert len(on_leave) == 3
    legend = {row[0]: row[2] for row in workbook["Columns"].iter_rows(values_only=True)}
    assert (legend["worked_days"], legend["leave_sick_days"]) == ("实际出勤天数（计薪）", "病假")
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = {r["person_id"]: r for r in csv.DictReader(f)}
    assert (rows["张伟"]["bonus_stopped"], rows["A"]["leave_annual_days"]) == ("True", "3.0")
    document = json.loads(out)
    assert (document["report"], document["month"]) == ("month", "2026-03")
    assert {r["person_id"]: r["lates"] for r in document["rows"]}["张伟"] == 3


def test_a_voided_late_check_in_gives_the_bonus_back(month_db, tmp_path, capsys):
    db, schedule_path, third_late = month_db
    records = RecordsStore(db)
    records.add_correction(CheckInCorrection(
        action="add", person_id="张伟", captured_at=at(f"{WORKDAYS[2]} 08:55"), direction="in",
        reason="the kiosk was rebooting; seen by the guard", signed_off_by="李主管",
    ))  # fmt: skip
    records.add_correction(CheckInCorrection(
        action="void", event_id=third_late.event_id, reason="replaced by the guard's record",
        signed_off_by="李主管",
    ))  # fmt: skip
    records.close()
    status, out, err = _run(capsys, *_month(db, schedule_path, "--json"))
    assert status == 0, err
    zhang = {r["person_id"]: r for r in json.loads(out)["rows"]}["张伟"]
    assert (zhang["lates"], zhang["bonus_stopped"], zhang["corrections"]) == (2, False, 2)
    day = WORKDAYS[2].isoformat()
    shifts = ["report", "shifts", "--db", db, "--schedule", str(schedule_path), "--from", day,
              "--to", day, "--json"]  # fmt: skip
    status, out, err = _run(capsys, *shifts)
    assert status == 0, err
    row = next(r for r in json.loads(out)["rows"] if r["person_id"] == "张伟")
    assert (row["status"], row["arrival"], row["arrival_by"], row["corrections"]) == (
        "present", f"{day} 08:55:00", "correction", 2,
    )  # fmt: skip


def test_cancelled_leave_counts_as_absence_again(month_db, capsys):
    db, schedule_path, _ = month_db
    records = RecordsStore(db)
    records.cancel_leave("HR-1", "李主管")
    records.close()
    status, out, err = _run(capsys, *_month(db, schedule_path, "--json"))
    assert status == 0, err
    a = {r["person_id"]: r for r in json.loads(out)["rows"]}["A"]
    assert (a["leave_days"], a["full_day_absences"], a["worked_days"]) == (0, 4, 18)


def test_the_text_table_and_one_line_errors(month_db, tmp_path, capsys):
    db, schedule_path, _ = month_db
    status, out, _ = _run(capsys, *_month(db, schedule_path))
    assert status == 0
    assert out.splitlines()[0].startswith("Month summary 2026-03 (Asia/Shanghai)")
    assert any("张伟" in line and "yes" in line for line in out.splitlines())
    base = ["report", "month", "--db", db, "--schedule", str(schedule_path)]
    status, _, err = _run(capsys, *base, "--month", "2026-3x")
    assert status != 0 and len(err.strip().splitlines()) == 1 and "YYYY-MM" in err
    missing = ["report", "month", "--db", str(tmp_path / "none.db"), "--schedule",
               str(schedule_path), "--month", "2026-03"]  # fmt: skip
    status, _, err = _run(capsys, *missing)
    assert status != 0 and len(err.strip().splitlines()) == 1 and "none.db" in err
