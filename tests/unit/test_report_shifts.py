"""Daily shift attendance: the rule edges, overnight shifts, missing check-outs, clocks, flags."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from central.receiver.store import ReceiverStore
from central.reports.shifts import ShiftDay, ShiftReport, shift_report, shift_report_range
from models.messages import CheckInEvent
from tests.report_tools import at, event, schedule, stored_shuffled

MONDAY = date(2026, 3, 2)


def _report(events: list[CheckInEvent], start: date = MONDAY, end: date = MONDAY, **rules):
    return shift_report(events, schedule(**rules), start, end)


def _row(report: ShiftReport, person: str, ref: str = "day@2026-03-02") -> ShiftDay:
    (found,) = [d for d in report.days if d.person_id == person and d.occurrence.ref == ref]
    return found


@pytest.mark.parametrize(
    ("arrival", "verdict", "minutes", "absence"),
    [
        ("09:00:00", "on_time", 0, "none"),
        ("09:00:01", "late", 1, "none"),
        ("09:15:00", "late", 15, "none"),
        ("09:15:01", "late", 16, "half_day"),
        ("09:30:00", "late", 30, "half_day"),
        ("09:30:01", "late", 31, "full_day"),
    ],
)
def test_lateness_edges_at_15_and_30_minutes(arrival, verdict, minutes, absence):
    events = [event("A", f"2026-03-02 {arrival}"), event("A", "2026-03-02 18:00")]
    day = _row(_report(events), "A")
    assert (day.arrival_verdict, day.late_minutes, day.absence) == (verdict, minutes, absence)
    assert day.departure_verdict == "left_on_time"


@pytest.mark.parametrize(
    ("departure", "verdict", "minutes", "absence"),
    [
        ("17:55:01", "left_on_time", 0, "none"),  # 4:59 early
        ("17:55:00", "early_leave", 5, "none"),
        ("17:45:00", "early_leave", 15, "none"),
        ("17:44:59", "early_leave", 16, "half_day"),
        ("17:30:00", "early_leave", 30, "half_day"),
        ("17:29:59", "early_leave", 31, "full_day"),
    ],
)
def test_early_leave_edges_at_5_15_and_30_minutes(departure, verdict, minutes, absence):
    events = [event("A", "2026-03-02 08:50"), event("A", f"2026-03-02 {departure}")]
    day = _row(_report(events), "A")
    assert (day.departure_verdict, day.early_minutes, day.absence) == (verdict, minutes, absence)
    assert day.status == ("early_leave" if verdict == "early_leave" else "present")


def test_the_absence_is_the_worse_of_arrival_and_departure():
    events = [event("A", "2026-03-02 09:20"), event("A", "2026-03-02 17:20")]
    day = _row(_report(events), "A")
    assert (day.late_minutes, day.early_minutes) == (20, 40)
    assert (day.absence, day.status) == ("full_day", "late_and_early_leave")


def test_no_check_in_at_all_is_a_full_day_absent_for_everyone_scheduled():
    report = _report([event("A", "2026-03-02 08:59"), event("A", "2026-03-02 18:01")])
    assert [
        (d.person_id, d.status) for d in report.days if d.occurrence.shift.shift_id == "day"
    ] == [
        ("A", "present"),
        ("B", "absent"),
        ("C", "absent"),
    ]
    b = _row(report, "B")
    assert (b.arrival_verdict, b.absence, b.check_ins) == ("absent", "full_day", 0)


def test_an_overnight_shift_ends_the_next_morning():
    events = [event("N", "2026-03-02 22:10"), event("N", "2026-03-03 05:40")]
    report = _report(events, MONDAY, date(2026, 3, 3))
    monday = _row(report, "N", "night@2026-03-02")
    assert (monday.arrival_verdict, monday.late_minutes) == ("late", 10)
    assert (monday.departure_verdict, monday.early_minutes, monday.absence) == (
        "early_leave",
        20,
        "half_day",
    )
    assert _row(report, "N", "night@2026-03-03").status == "absent"
    on_time = [event("N", "2026-03-02 21:55"), event("N", "2026-03-03 06:02")]
    assert _row(_report(on_time), "N", "night@2026-03-02").status == "present"


def test_a_day_without_check_out_under_both_rules():
    events = [event("A", "2026-03-02 09:20")]
    kept = _row(_report(events), "A")
    assert (kept.departure_verdict, kept.missing_checkout) == ("missing_checkout", True)
    assert (kept.early_minutes, kept.absence, kept.status) == (0, "half_day", "late")
    entry_only = _row(_report(events, no_checkout="entry_only"), "A")
    assert entry_only.missing_checkout and entry_only.departure is None
    assert (entry_only.early_minutes, entry_only.absence) == (520, "full_day")


def test_directions_pick_the_first_entry_and_the_last_exit():
    directed = [
        event("A", "2026-03-02 08:55", direction="in"),
        event("A", "2026-03-02 12:00", direction="out"),
        event("A", "2026-03-02 13:00", direction="in"),
        event("A", "2026-03-02 17:58", direction="in"),
    ]
    day = _row(_report(directed), "A")
    assert day.arrival is directed[0] and day.departure is directed[1]
    assert (day.departure_verdict, day.early_minutes, day.absence) == (
        "early_leave",
        360,
        "full_day",
    )
    plain = [event("A", "2026-03-02 08:55"), event("A", "2026-03-02 12:00")]
    plain.append(event("A", "2026-03-02 18:00"))
    day = _row(_report(plain), "A")
    assert day.departure is plain[2] and day.status == "present" and day.check_ins == 3


def test_unsynchronised_clocks_give_no_verdict():
    events = [event("A", "2026-03-02 09:45", synced=False), event("A", "2026-03-02 18:00")]
    day = _row(_report(events), "A")
    assert (day.arrival_verdict, day.late_minutes, day.absence) == ("no_verdict_clock", 0, "none")
    assert (day.status, day.unverified) == ("no_verdict_clock", True)
    events = [event("B", "2026-03-02 08:59"), event("B", "2026-03-02 16:00", synced=False)]
    day = _row(_report(events), "B")
    assert (day.departure_verdict, day.early_minutes, day.absence) == (
        "no_verdict_clock",
        0,
        "none",
    )


def _late_on(person: str, days: list[int], synced: bool = True) -> list[CheckInEvent]:
    found = []
    for day in days:
        found += [event(person, f"2026-03-{day:02d} 09:01", synced=synced)]
        found += [event(person, f"2026-03-{day:02d} 18:00")]
    return found


def test_three_lates_or_early_leaves_in_a_month_flag_the_person():
    early = [event("A", "2026-03-04 09:00"), event("A", "2026-03-04 17:50")]
    events = [*_late_on("A", [2, 3]), *early]
    events += _late_on("B", [2, 3]) + _late_on("B", [4], synced=False)
    events += _late_on("C", [2, 3, 4, 5])
    report = _report(events, MONDAY, date(2026, 3, 6))
    assert [(f.person_id, f.month, f.lates, f.early_leaves) for f in report.flagged] == [
        ("A", "2026-03", 2, 1),
        ("C", "2026-03", 4, 0),
    ]
    assert (
        _report(events, MONDAY, date(2026, 3, 6), monthly_flag_count=4).flagged[0].person_id == "C"
    )
    columns, rows = report.flags_table()
    assert columns[0] == "person_id" and rows[0] == ["A", "2026-03", 2, 1, 3]


def test_unscheduled_check_ins_are_listed_apart():
    report = _report([event("X", "2026-03-02 10:00"), event("A", "2026-03-07 10:00")])
    assert [e.person_id for e in report.unscheduled] == ["X"]  # Saturday: out of the range
    assert all(d.person_id != "X" for d in report.days)


def test_the_report_is_the_same_from_events_stored_out_of_order_and_twice(tmp_path: Path):
    events = [event("A", "2026-03-02 09:16"), event("A", "2026-03-02 12:00", "gate-2")]
    events += [event("A", "2026-03-02 17:40"), event("N", "2026-03-02 22:00")]
    events += [event("N", "2026-03-03 06:00", "gate-2"), event("C", "2026-03-02 09:00")]
    events += [event("B", "2026-03-02 08:00", synced=False), event("B", "2026-03-02 18:00")]
    store = stored_shuffled(tmp_path / "central.db", events)
    assert (store.count(), store.duplicates()) == (len(events), len(events))
    sched = schedule()
    stored = store.events_between(*shift_report_range(sched, MONDAY, MONDAY))
    assert [e.event_id for e in stored] == [
        e.event_id for e in sorted(events, key=lambda e: e.captured_at)
    ]
    from_store = shift_report(stored, sched, MONDAY, MONDAY)
    direct = shift_report(events, sched, MONDAY, MONDAY)
    assert from_store.to_table() == direct.to_table()
    a = _row(from_store, "A")
    assert (a.late_minutes, a.early_minutes, a.absence, a.check_ins) == (16, 20, "half_day", 3)
    columns, rows = from_store.to_table()
    assert all(len(row) == len(columns) for row in rows)
    assert dict(zip(columns, rows[0], strict=True))["arrival"] == "2026-03-02 09:16:00"
    columns, rows = from_store.daily_table()
    assert rows == [["2026-03-02", 4, 4, 1, 1, 0, 1, 0, 1, 1, 0]]  # C: no check-out
    assert columns[:3] == ["day", "scheduled", "present"]


def test_the_store_keeps_the_schedule_fields_and_migrates_old_databases(tmp_path: Path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE events (event_id TEXT PRIMARY KEY, terminal_id TEXT NOT NULL,"
            " seq INTEGER NOT NULL, site TEXT NOT NULL, person_id TEXT NOT NULL,"
            " method TEXT NOT NULL, distance REAL, captured_at TEXT NOT NULL,"
            " clock_synced INTEGER NOT NULL, received_at TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO events VALUES ('6f1c1a52-9d1e-4a9e-8a43-1d2b3c4d5e6f', 'gate-1', 1,"
            " 'hq', 'A', 'qr', NULL, '2026-03-02T01:00:00.000Z', 1, '2026-03-02T01:00:01.000Z')"
        )
    conn.close()
    store = ReceiverStore(db)
    new = event("A", "2026-03-02 18:00", direction="out", ref="day@2026-03-02")
    new = CheckInEvent.model_validate(
        new.model_dump() | {"verdict": "left_on_time", "verdict_minutes": 0}
    )
    store.store([new])
    old_row, new_row = sorted(store.events(), key=lambda r: r["captured_at"])
    assert (old_row["direction"], old_row["verdict"]) == (None, None)
    assert (new_row["direction"], new_row["schedule_ref"]) == ("out", "day@2026-03-02")
    assert (new_row["verdict"], new_row["verdict_minutes"]) == ("left_on_time", 0)
    read = store.events_between(at("2026-03-02 00:00"), at("2026-03-03 00:00"))
    assert [e.direction for e in read] == [None, new.direction] and read[1] == new
    store.close()
    assert len(ReceiverStore(db).events()) == 2  # opening again: nothing to migrate


def test_with_now_a_running_shift_is_not_judged_on_what_has_not_happened_yet():
    events = [event("A", "2026-03-02 09:05")]
    report = shift_report(events, schedule(), MONDAY, date(2026, 3, 3), now=at("2026-03-02 12:00"))
    assert {d.occurrence.day for d in report.days} == {MONDAY}  # Tuesday not started yet
    a, b = _row(report, "A"), _row(report, "B")
    assert (a.status, a.late_minutes, a.departure_verdict, a.missing_checkout) == (
        "late",
        5,
        None,
        False,
    )
    assert (b.status, b.absence, b.arrival_verdict) == ("open", "none", None)
    assert "night@2026-03-02" not in {d.occurrence.ref for d in report.days}  # starts at 22:00
