"""The streamed reports give exactly what the reports gave when they held every event.

The baseline is the shift report as it was (:mod:`devtools.bench.report_baseline`, verbatim),
on a generated site (:mod:`devtools.bench.report`: day, night and rotating shifts, groups,
visitors on no shift, lates, early leaves, missing check-outs, unsynchronised clocks), with
duplicates and a Chinese name added, and ``now`` in the middle of a shift.
"""

from __future__ import annotations

import csv
import io
import json
import random
import unicodedata
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

from central.receiver.store import ReceiverStore
from central.reports.common import event_order
from central.reports.export import write_csv
from central.reports.sessions import session_report, stream_session_report
from central.reports.shift_output import ShiftOutputs, write_shift_report
from central.reports.shifts import shift_report, shift_report_range
from devtools.bench import report_baseline
from devtools.bench.report import Terminals, day_events, site_schedule, working_days
from models.messages import CheckInEvent
from models.schedule import AttendanceRules, Schedule, ShiftPlan
from tests.report_tools import at, event
from tests.report_tools import schedule as session_schedule

CHINESE = "张伟"

ADDED_COLUMNS = ["leave", "leave_min", "worked_min", "arrival_by", "departure_by", "corrections"]
"""Shift columns the baseline predates (leave, corrections, hours worked): compared apart."""


def _old_part(table: tuple[list[str], list[list[object]]]) -> tuple[list[str], list[list[object]]]:
    """``table`` without the columns the baseline predates (and checks those are the values of
    a report without leave or corrections)."""
    columns, rows = table
    keep = [i for i, name in enumerate(columns) if name not in (*ADDED_COLUMNS, "on_leave")]
    for name, value in (("leave", None), ("leave_min", 0), ("corrections", 0), ("on_leave", 0)):
        if name in columns:
            assert {row[columns.index(name)] for row in rows} <= {value}, name
    return [columns[i] for i in keep], [[row[i] for i in keep] for row in rows]


def _old_csv(data: bytes) -> list[list[str]]:
    """A shift CSV's cells without the columns the baseline predates."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    if not rows:
        return rows
    return [[row[i] for i, name in enumerate(rows[0]) if name not in ADDED_COLUMNS] for row in rows]


def _old_json(text: str) -> dict[str, object]:
    """A shift JSON document without the columns the baseline predates."""
    document = json.loads(text)
    for key in ("rows", "daily"):
        document[key] = [
            {k: v for k, v in row.items() if k not in (*ADDED_COLUMNS, "on_leave")}
            for row in document[key]
        ]
    return document


def _site(no_checkout: str = "end_of_schedule") -> tuple[Schedule, list[date], list[CheckInEvent]]:
    """A 30-person site over 8 working days, 张伟 in a day-shift group, every 9th event twice."""
    base = site_schedule(30)
    groups = {**base.groups, "office": [*base.groups["office"], CHINESE]}
    schedule = base.model_copy(
        update={
            "groups": groups,
            "rules": AttendanceRules(no_checkout=no_checkout, monthly_flag_count=2),
        }
    )
    days = working_days(8)
    rng, gates = random.Random(3), Terminals(4)
    events = [e for day in days for e in day_events(schedule, day, gates, rng)]
    first = days[0].isoformat()
    events += [
        event(CHINESE, f"{first} 09:20"),
        event(CHINESE, f"{first} 17:20", direction="out"),
        event(CHINESE, f"{first} 17:40", terminal="gate-02", synced=False),
    ]
    events += events[::9]  # delivered twice: counted once
    return schedule, days, events


def _baseline_outputs(
    events: list[CheckInEvent], schedule: Schedule, start: date, end: date, now: datetime | None,
    tmp_path: Path,
) -> tuple[bytes, str, str]:  # fmt: skip
    """CSV bytes, JSON and text as ``kiosk report shifts`` wrote them from the old report."""
    report = report_baseline.shift_report(events, schedule, start, end, now)
    columns, rows = report.to_table()
    write_csv(tmp_path / "baseline.csv", columns, rows)
    records = [dict(zip(columns, row, strict=True)) for row in rows]

    def recs(table: tuple[list[str], list[list[object]]]) -> list[dict[str, object]]:
        return [dict(zip(table[0], row, strict=True)) for row in table[1]]

    document = {
        "report": "shifts", "from": start.isoformat(), "to": end.isoformat(),
        "timezone": schedule.timezone, "rows": records, "daily": recs(report.daily_table()),
        "flagged": recs(report.flags_table()), "unscheduled": recs(report.unscheduled_table()),
    }  # fmt: skip
    as_json = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return (tmp_path / "baseline.csv").read_bytes(), as_json, _old_text(report) + "\n"


def _old_text(report: report_baseline.ShiftReport) -> str:
    """``shift_text`` as it was (widths from every row at once)."""

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

    def show(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else ""
        return f"{value:g}" if isinstance(value, float) else str(value)

    def table(columns: list[str], rows: list[list[object]]) -> str:
        cells = [list(columns), *([show(v) for v in row] for row in rows)]
        widths = [max(width(row[i]) for row in cells) for i in range(len(columns))]
        lines = []
        for number, row in enumerate(cells):
            lines.append("  ".join(t + " " * (widths[i] - width(t)) for i, t in enumerate(row)))
            lines[-1] = lines[-1].rstrip()
            if number == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def clock(value: object, day: object) -> str | None:
        if not isinstance(value, str):
            return None
        return value[11:16] if value[:10] == day else f"{value[11:16]} ({value[5:10]})"

    columns, rows = report.to_table()
    i = {name: index for index, name in enumerate(columns)}
    lines = [
        [r[i["day"]], r[i["person_id"]], r[i["shift_id"]], clock(r[i["arrival"]], r[i["day"]]),
         clock(r[i["departure"]], r[i["day"]]), r[i["arrival_verdict"]], r[i["late_min"]] or None,
         r[i["departure_verdict"]], r[i["early_min"]] or None, r[i["absence"]], r[i["status"]]]
        for r in rows
    ]  # fmt: skip
    shown = ["day", "person", "shift", "in", "out", "arrival", "late", "departure", "early"]
    head = (
        f"Shift attendance {report.start_day} to {report.end_day}"
        f" ({report.schedule.timezone}, minutes late/early rounded up)"
    )
    parts = [head, "", table([*shown, "absence", "status"], lines) if lines else
             "(no scheduled shifts)"]  # fmt: skip
    if report.flagged:
        parts += ["", "Flagged this month:", table(*report.flags_table())]
    if report.unscheduled:
        parts += ["", f"{len(report.unscheduled)} check-in(s) outside any scheduled shift."]
    return "\n".join(parts)


def _streamed(
    events: object, schedule: Schedule, start: date, end: date, now: datetime | None,
    outputs: ShiftOutputs,
) -> str:  # fmt: skip
    out = io.StringIO()
    write_shift_report(events, schedule, start, end, now, outputs, out, lambda *_: None)  # type: ignore[arg-type]
    return out.getvalue()


@pytest.mark.parametrize("no_checkout", ["end_of_schedule", "entry_only"])
@pytest.mark.parametrize("mid_shift", [False, True])
def test_shift_report_is_the_baseline_in_memory(no_checkout, mid_shift):
    schedule, days, events = _site(no_checkout)
    random.Random(5).shuffle(events)
    start, end = days[1], days[-2]
    now = at(f"{days[4].isoformat()} 11:30") if mid_shift else None
    old = report_baseline.shift_report(events, schedule, start, end, now)
    new = shift_report(events, schedule, start, end, now)
    assert _old_part(new.to_table()) == old.to_table()
    assert _old_part(new.daily_table()) == old.daily_table()
    assert new.flags_table() == old.flags_table()
    assert new.unscheduled_table() == old.unscheduled_table()
    assert [d.arrival for d in new.days] == [d.arrival for d in old.days]
    assert any(d.status == "no_verdict_clock" for d in new.days)
    assert any(d.occurrence.shift.overnight and d.check_ins for d in new.days)
    assert new.unscheduled and new.flagged
    if mid_shift:
        assert {d.status for d in new.days if d.occurrence.day == days[4]} >= {"open"}


@pytest.mark.parametrize("chunk_size", [1, 7, 100_000])
@pytest.mark.parametrize("mid_shift", [False, True])
def test_streamed_csv_json_and_text_are_the_baselines(tmp_path, chunk_size, mid_shift):
    schedule, days, events = _site()
    start, end = days[0], days[-1]
    now = at(f"{days[3].isoformat()} 23:00") if mid_shift else None  # a night shift running
    store = ReceiverStore(tmp_path / "central.db")
    store.store(events)
    window = shift_report_range(schedule, start, end)
    stored = store.events_between(*window)
    old_csv, old_json, old_text = _baseline_outputs(stored, schedule, start, end, now, tmp_path)

    def streamed(outputs: ShiftOutputs) -> str:
        events = store.iter_events_between(*window, chunk_size)
        return _streamed(events, schedule, start, end, now, outputs)

    assert streamed(ShiftOutputs(csv_path=tmp_path / "new.csv")) == ""
    assert _old_csv((tmp_path / "new.csv").read_bytes()) == _old_csv(old_csv)
    assert _old_json(streamed(ShiftOutputs(as_json=True))) == json.loads(old_json)
    assert streamed(ShiftOutputs()) == old_text
    assert CHINESE in old_text
    store.close()


def test_chunked_reads_are_the_whole_read(tmp_path):
    schedule, days, events = _site()
    store = ReceiverStore(tmp_path / "central.db")
    store.store(events)
    window = shift_report_range(schedule, days[0], days[-1])
    whole = store.events_between(*window)
    assert list(store.iter_events_between(*window, 3)) == whole
    assert whole == sorted(whole, key=event_order)
    store.close()


def test_empty_range_and_no_events_match_the_baseline(tmp_path):
    schedule = site_schedule(5)
    saturday = date(2025, 1, 11)
    for start, end in ((saturday, saturday + timedelta(days=1)), (saturday, saturday)):
        old_csv, old_json, old_text = _baseline_outputs([], schedule, start, end, None, tmp_path)
        as_json = _streamed(iter(()), schedule, start, end, None, ShiftOutputs(as_json=True))
        assert _old_json(as_json) == json.loads(old_json)
        assert _streamed(iter(()), schedule, start, end, None, ShiftOutputs()) == old_text
        csv_out = ShiftOutputs(csv_path=tmp_path / "new.csv")
        assert _streamed(iter(()), schedule, start, end, None, csv_out) == ""
        assert _old_csv((tmp_path / "new.csv").read_bytes()) == _old_csv(old_csv)


def test_streamed_session_report_is_the_in_memory_one(tmp_path):
    events = [
        event("P1", "2026-03-02 09:50", "room-1"),
        event("P1", "2026-03-02 11:00", "room-1b"),
        event("P1", "2026-03-02 11:10", "room-1"),
        event("P2", "2026-03-02 10:20", "room-1", synced=False),
        event("P3", "2026-03-02 10:05", "room-1", direction="in"),
        event("P3", "2026-03-02 12:20", "room-1", direction="out"),
        event("P1", "2026-03-02 12:12", "room-1", ref="session:s2"),
        event("X", "2026-03-02 10:30", "room-1b"),
        event("A", "2026-03-02 10:30", "gate-1"),
    ]
    schedule = session_schedule()
    store = ReceiverStore(tmp_path / "central.db")
    store.store(events)
    shuffled = events * 2
    random.Random(1).shuffle(shuffled)
    in_memory = session_report(shuffled, schedule)
    for chunk_size in (1, 4, 5000):
        read = store.iter_events_between(at("2026-03-02 00:00"), at("2026-03-03 00:00"), chunk_size)
        streamed = stream_session_report(read, schedule)
        assert streamed.to_table() == in_memory.to_table()
        assert streamed.summary_table() == in_memory.summary_table()
    store.close()


@pytest.mark.parametrize("first", [date(2025, 3, 27), date(2025, 10, 23)])
def test_night_shifts_over_a_clock_change_match_the_baseline(tmp_path, first):
    people = [f"N{n}" for n in range(6)]
    schedule = Schedule(
        version=1,
        timezone="Europe/Berlin",
        shifts=[
            ShiftPlan(shift_id="night", name="Night", start=time(22), end=time(6),
                      weekdays=[1, 2, 3, 4, 5, 6, 7], people=people),
            ShiftPlan(shift_id="early", name="Early", start=time(1, 30), end=time(9),
                      weekdays=[1, 2, 3, 4, 5, 6, 7], people=people[:3]),
        ],
    )  # fmt: skip
    days = [first + timedelta(days=n) for n in range(6)]
    rng, gates = random.Random(2), Terminals(3)
    events = [e for day in days for e in day_events(schedule, day, gates, rng)]
    start, end = days[1], days[-2]
    old = report_baseline.shift_report(events, schedule, start, end)
    assert _old_part(shift_report(events, schedule, start, end).to_table()) == old.to_table()
    store = ReceiverStore(tmp_path / "central.db")
    store.store(events)
    window = shift_report_range(schedule, start, end)
    old_csv, _, _ = _baseline_outputs(store.events_between(*window), schedule, start, end,
                                      None, tmp_path)  # fmt: skip
    outputs = ShiftOutputs(csv_path=tmp_path / "new.csv")
    _streamed(store.iter_events_between(*window, 5), schedule, start, end, None, outputs)
    assert _old_csv((tmp_path / "new.csv").read_bytes()) == _old_csv(old_csv)
    store.close()
