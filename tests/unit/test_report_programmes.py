"""Training programmes: class hours, lates and the qualification at the lateness limit; the
schedule's programmes and pairs; ``kiosk report programmes`` on a real receiver database."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pydantic import ValidationError

from central.reports.adjustments import Adjustments
from central.reports.programmes import ProgrammeRow, programme_report, programme_sessions
from central.reports.sessions import session_report
from cli.main import main
from models.hr_records import LeavePeriod
from models.messages import CheckInEvent
from models.schedule import Schedule
from tests.report_tools import event, leave_period, programme_schedule, records_db, schedule


def _induction_events() -> tuple[list[CheckInEvent], list[LeavePeriod]]:
    """P1 late to t1 and t2 (2 lates); P2 late to t1 only and absent from t3; P3 late to t1
    inside an excused period, late to t2, on sick leave for t3."""
    events = [
        event("P1", "2026-03-03 09:05", "room-2"),
        event("P1", "2026-03-04 09:02", "room-2"),
        event("P1", "2026-03-05 08:58", "room-2"),
        event("P2", "2026-03-03 09:10", "room-2"),
        event("P2", "2026-03-04 08:59", "room-2"),
        event("P3", "2026-03-03 09:10", "room-2"),
        event("P3", "2026-03-04 09:03", "room-2"),
    ]
    leave = [
        leave_period("P3", "2026-03-03 08:30", "2026-03-03 09:20", "excused"),
        leave_period("P3", "2026-03-05 00:00", "2026-03-06 00:00", "sick"),
    ]
    return events, leave


def _rows(events, leave=(), **programme) -> dict[str, ProgrammeRow]:
    sched = programme_schedule(**programme)
    sessions = session_report(events, sched, ["t1", "t2", "t3"], Adjustments(leave))
    report = programme_report(sessions, sched, ["induction"])
    return {r.person_id: r for r in report.rows}


def test_exactly_two_lates_end_the_qualification_one_does_not():
    events, leave = _induction_events()
    rows = _rows(events, leave, class_hours_required=4.0)
    p1, p2, p3 = rows["P1"], rows["P2"], rows["P3"]
    assert (p1.lates, p1.qualification_lost) == (2, True)
    assert (p2.lates, p2.qualification_lost) == (1, False)
    assert (p3.lates, p3.qualification_lost) == (1, False)  # t1's late arrival was excused
    assert (p1.sessions_expected, p1.sessions_attended, p1.class_hours, p1.hours_met) == (
        3, 3, 4.5, True,
    )  # fmt: skip
    assert (p2.sessions_attended, p2.sessions_missed, p2.class_hours, p2.hours_met) == (
        2, 1, 3.0, False,
    )  # fmt: skip
    assert (p3.sessions_attended, p3.sessions_on_leave, p3.sessions_missed) == (2, 1, 0)


def test_the_lateness_limit_is_configurable():
    events, leave = _induction_events()
    rows = _rows(events, leave, lateness_limit=3)
    assert [rows[p].qualification_lost for p in ("P1", "P2", "P3")] == [False] * 3
    rows = _rows(events, leave, lateness_limit=1)
    assert [rows[p].qualification_lost for p in ("P1", "P2", "P3")] == [True] * 3


def test_unverified_and_flagged_sessions_are_counted_apart():
    events = [
        event("P1", "2026-03-03 09:00", "room-2", synced=False),
        event("P1", "2026-03-03 09:30", "room-2", synced=False),  # 30 min: no verdict
        event("P2", "2026-03-03 09:00", "room-2"),
        event("P2", "2026-03-03 09:30", "room-2"),  # 30 of 60 min: flagged
    ]
    rows = _rows(events)
    assert (rows["P1"].sessions_unverified, rows["P1"].sessions_missed) == (1, 2)
    assert (rows["P2"].sessions_missed, rows["P2"].class_hours) == (3, 0)
    assert rows["P1"].hours_met is None


def test_the_table_and_unknown_programmes():
    events, leave = _induction_events()
    sched = programme_schedule()
    sessions = session_report(events, sched, programme_sessions(sched), Adjustments(leave))
    report = programme_report(sessions, sched)
    columns, rows = report.to_table()
    assert columns[:3] == ["programme_id", "title", "person_id"]
    assert columns[-4:] == ["lateness_limit", "qualification_lost", "class_hours_required",
                            "hours_met"]  # fmt: skip
    assert [(r[0], r[2]) for r in rows] == [
        ("induction", "P1"), ("induction", "P2"), ("induction", "P3"),
        ("safety", "P1"), ("safety", "P2"), ("safety", "P3"), ("safety", "P4"),
    ]  # fmt: skip
    assert programme_sessions(sched, ["safety"]) == ["s1"]
    with pytest.raises(ValueError, match="unknown programme\\(s\\): nope"):
        programme_report(sessions, sched, ["nope"])
    with pytest.raises(ValueError, match="lacks session\\(s\\) t2, t3 of programme induction"):
        programme_report(session_report(events, sched, ["t1"]), sched, ["induction"])
    with pytest.raises(ValueError, match="no training programmes"):
        programme_sessions(schedule())


def _document(**changes) -> dict:
    document = programme_schedule().model_dump(mode="json")
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"programmes": [{"programme_id": "p", "title": "P", "sessions": ["t1", "zz"]}]},
         "programme p names unknown session\\(s\\) \\['zz'\\]"),
        ({"programmes": [{"programme_id": "p", "title": "P", "sessions": []}]},
         "at least 1 item"),
        ({"programmes": [{"programme_id": "p", "title": "P", "sessions": ["t1", "t1"]}]},
         "listed twice"),
        ({"programmes": [{"programme_id": "p", "title": "P", "sessions": ["t1"]}] * 2},
         "a programme id is used twice"),
        ({"programmes": [{"programme_id": "p", "title": "P", "sessions": ["t1"],
                          "lateness_limit": 0}]}, "greater than or equal to 1"),
    ],
)  # fmt: skip
def test_schedule_programmes_are_validated(change, message):
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(_document(**change))


@pytest.mark.parametrize("pair", [["P1"], ["P1", "P1"], ["P1", "P2", "P3"], ["P1", ""]])
def test_a_pair_is_two_different_people(pair):
    document = _document()
    document["sessions"][0]["pairs"] = [pair]
    with pytest.raises(ValidationError, match="a pair is two different person ids"):
        Schedule.model_validate(document)


def test_schedules_without_programmes_or_pairs_stay_valid():
    document = schedule().model_dump(mode="json", exclude={"programmes"})
    for session in document["sessions"]:
        del session["pairs"]
    loaded = Schedule.model_validate(document)
    assert loaded.schema_version == 1 and loaded.programmes == []
    assert all(s.pairs == [] for s in loaded.sessions)


# -- kiosk report programmes / sessions --------------------------------------------------------


@pytest.fixture
def central(tmp_path: Path) -> tuple[Path, Path]:
    """A receiver db with the induction's check-ins and leave; the schedule file."""
    events, leave = _induction_events()
    db = records_db(tmp_path / "central.db", events, leave)
    path = tmp_path / "schedule.json"
    path.write_text(programme_schedule().model_dump_json(), encoding="utf-8")
    return db, path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_programmes_command_text_and_every_output(central, tmp_path, capsys):
    db, sched = central
    base = ["report", "programmes", "--db", str(db), "--schedule", str(sched)]
    status, out, err = _run(capsys, *base, "--programme", "induction")
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("induction 新员工入职 Induction: 3 session(s)")
    p1 = next(line for line in lines if line.startswith("P1 "))
    assert "lost" in p1 and " 4.5 " in p1
    p3 = next(line for line in lines if line.startswith("P3 "))
    assert "kept" in p3
    assert not any(line.startswith("safety") for line in lines)
    csv_path, xlsx_path = tmp_path / "p.csv", tmp_path / "p.xlsx"
    args = ["--csv", str(csv_path), "--xlsx", str(xlsx_path), "--json"]
    status, out, err = _run(capsys, *base, *args)
    assert status == 0, err
    assert err.count("wrote ") == 2
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["programme_id"] == "induction"]
    by_person = {r["person_id"]: r for r in rows}
    assert (by_person["P1"]["lates"], by_person["P1"]["qualification_lost"]) == ("2", "True")
    assert by_person["P3"]["sessions_on_leave"] == "1"
    assert load_workbook(xlsx_path).sheetnames == ["Programmes", "Sessions"]
    document = json.loads(out)
    assert document["report"] == "programmes"
    assert {r["programme_id"] for r in document["rows"]} == {"induction", "safety"}


def test_programmes_command_errors_are_one_line(central, tmp_path, capsys):
    db, sched = central
    base = ["report", "programmes", "--db", str(db), "--schedule", str(sched)]
    status, out, err = _run(capsys, *base, "--programme", "induction", "--programme", "nope")
    assert (status, out) == (1, "")
    assert err == f"kiosk: error: {sched}: unknown programme(s): nope\n"
    plain = tmp_path / "plain.json"
    plain.write_text(schedule().model_dump_json(), encoding="utf-8")
    status, _, err = _run(capsys, "report", "programmes", "--db", str(db), "--schedule",
                          str(plain))  # fmt: skip
    assert (
        status == 1 and err == f"kiosk: error: {plain}: the schedule has no training programmes\n"
    )
    status, _, err = _run(capsys, "report", "programmes", "--db", str(tmp_path / "no.db"),
                          "--schedule", str(sched))  # fmt: skip
    assert status == 1 and "no such receiver database" in err and err.count("\n") == 1


def test_sessions_command_reports_pairs_leave_and_lateness(central, tmp_path, capsys):
    db, sched = central
    base = ["report", "sessions", "--db", str(db), "--schedule", str(sched), "--session", "t1"]
    status, out, err = _run(capsys, *base)
    assert status == 0, err
    assert "Pairs with an absentee:" not in out  # P1 and P2 both attended t1
    p3 = next(line for line in out.splitlines() if line.startswith("P3 "))
    assert "excused" in p3 and "attended" in p3
    status, out, err = _run(capsys, *base[:-1], "t3")
    assert status == 0, err
    assert "Pairs with an absentee:" not in out  # t3 names no pairs
    xlsx_path = tmp_path / "s.xlsx"
    status, out, err = _run(capsys, *base, "--xlsx", str(xlsx_path), "--json")
    assert status == 0, err
    assert load_workbook(xlsx_path).sheetnames == ["Attendance", "Sessions", "Pairs"]
    document = json.loads(out)
    assert document["pairs"] == [
        {"session_id": "t1", "person_a": "P1", "person_b": "P2", "a_status": "attended",
         "b_status": "attended", "pair_status": "complete", "missing": None},
    ]  # fmt: skip
    rows = {r["person_id"]: r for r in document["rows"]}
    assert (rows["P1"]["late_min"], rows["P3"]["late_min"], rows["P3"]["leave"]) == (
        5, 0, "excused",
    )  # fmt: skip


def test_sessions_text_lists_a_pair_with_one_absentee(tmp_path, capsys):
    events = [event("P1", "2026-03-03 08:58", "room-2")]
    db = records_db(tmp_path / "central.db", events)
    path = tmp_path / "schedule.json"
    path.write_text(programme_schedule().model_dump_json(), encoding="utf-8")
    args = ["report", "sessions", "--db", str(db), "--schedule", str(path), "--session", "t1"]
    status, out, err = _run(capsys, *args)
    assert status == 0, err
    _, pairs = out.split("Pairs with an absentee:\n")
    row = pairs.splitlines()[2]
    assert row.split() == ["t1", "P1", "P2", "attended", "absent", "one_absent", "P2"]
