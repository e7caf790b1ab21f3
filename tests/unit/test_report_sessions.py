"""Training-session attendance: exits and re-entries, missing exits, threshold, clocks, store."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.reports.sessions import (
    SessionAttendance,
    SessionReport,
    session_report,
    session_report_range,
    session_window,
)
from models.messages import CheckInEvent
from tests.report_tools import at, event, schedule, stored_shuffled


def _report(events: list[CheckInEvent], **rules) -> SessionReport:
    return session_report(events, schedule(**rules), ["s1"])


def _person(report: SessionReport, person: str, session: str = "s1") -> SessionAttendance:
    (result,) = [r for r in report.sessions if r.session.session_id == session]
    (found,) = [a for a in result.attendance if a.person_id == person]
    return found


def _visits(person: str, *times: str, **kwargs) -> list[CheckInEvent]:
    return [event(person, f"2026-03-02 {t}", "room-1", **kwargs) for t in times]


def test_exits_and_re_entries_are_subtracted_and_counted():
    events = _visits("P1", "09:55", "10:30", "10:40", "11:00", "11:05")
    events.append(event("P1", "2026-03-02 12:10", "room-1b"))  # s2 starts then at room-1
    p1 = _person(_report(events), "P1")
    assert p1.present_minutes == pytest.approx(105)  # 30 + 20 + 55
    assert p1.participation == pytest.approx(0.875)
    assert (p1.mid_session_exits, p1.missing_checkout, p1.flagged) == (2, False, False)
    assert (p1.credited_hours, p1.status) == (2.0, "attended")
    assert p1.first_in == at("2026-03-02 09:55") and p1.last_out == at("2026-03-02 12:10")


def test_directions_when_sent_override_the_alternation():
    events = [
        event("P1", "2026-03-02 10:00", "room-1", direction="in"),
        event("P1", "2026-03-02 10:05", "room-1b", direction="in"),  # a second entry: ignored
        event("P1", "2026-03-02 10:50", "room-1b", direction="out"),
        event("P1", "2026-03-02 10:55", "room-1", direction="out"),  # out while out: ignored
        event("P1", "2026-03-02 11:10", "room-1", direction="in"),
        event("P1", "2026-03-02 12:00", "room-1", direction="out"),
    ]
    p1 = _person(_report(events), "P1")
    assert (p1.present_minutes, p1.mid_session_exits) == (pytest.approx(100), 1)
    assert p1.participation == pytest.approx(100 / 120) and not p1.flagged


@pytest.mark.parametrize(
    ("rule", "entry", "minutes", "flagged"),
    [
        ("end_of_schedule", "10:00", 120, False),
        ("end_of_schedule", "10:30", 90, True),
        ("entry_only", "10:00", 0, True),
    ],
)
def test_an_entry_without_exit_follows_the_no_checkout_rule(rule, entry, minutes, flagged):
    p2 = _person(_report(_visits("P2", entry), no_checkout=rule), "P2")
    assert p2.present_minutes == pytest.approx(minutes)
    assert (p2.missing_checkout, p2.flagged, p2.last_out) == (True, flagged, None)
    assert p2.credited_hours == (0.0 if flagged else 2.0)


def test_entry_only_keeps_the_minutes_before_the_last_entry():
    events = _visits("P2", "10:00", "11:00", "11:30")
    p2 = _person(_report(events, no_checkout="entry_only"), "P2")
    assert (p2.present_minutes, p2.mid_session_exits, p2.missing_checkout) == (60, 1, True)


@pytest.mark.parametrize(("exit_at", "flagged"), [("11:36", False), ("11:35:59", True)])
def test_the_threshold_is_80_percent_of_the_session(exit_at, flagged):
    p3 = _person(_report(_visits("P3", "09:50", exit_at)), "P3")  # 96 min = 80 %
    assert p3.flagged is flagged
    assert p3.status == ("flagged" if flagged else "attended")


def test_unsynchronised_events_are_left_out_and_the_person_unverified():
    events = _visits("P3", "10:00", synced=False) + _visits("P3", "12:00")
    p3 = _person(_report(events), "P3")  # the exit alone, while out: nothing counted
    assert (p3.present_minutes, p3.unverified, p3.status) == (0, True, "unverified")
    events = _visits("P4", "09:58") + _visits("P4", "10:30", "10:35", synced=False)
    events += _visits("P4", "12:01")
    p4 = _person(_report(events), "P4")
    assert (p4.present_minutes, p4.mid_session_exits, p4.unverified) == (120, 0, True)
    assert p4.status == "attended"


def test_the_summary_counts_expected_attended_flagged_and_strangers():
    events = _visits("P1", "09:59", "12:00") + _visits("P2", "10:00", "11:00")
    events += [*_visits("Z", "10:10", "11:50"), event("P3", "2026-03-02 10:00", "gate-1")]
    events += [event("P4", "2026-03-02 09:00", "room-1")]  # before the 30 min lead
    report = _report(events)
    (result,) = report.sessions
    assert [(a.person_id, a.expected, a.status) for a in result.attendance] == [
        ("P1", True, "attended"),
        ("P2", True, "flagged"),
        ("P3", True, "absent"),
        ("P4", True, "absent"),
        ("Z", False, "attended"),
    ]
    assert (result.expected, result.attended, result.flagged, result.unexpected) == (4, 2, 3, 1)
    assert result.mean_participation == pytest.approx((1 + 0.5) / 4)
    columns, rows = report.summary_table()
    summary = dict(zip(columns, rows[0], strict=True))
    assert (summary["start"], summary["mean_participation"]) == ("2026-03-02 10:00:00", 0.375)
    columns, rows = report.to_table()
    p2 = dict(zip(columns, rows[1], strict=True))
    assert (p2["person_id"], p2["present_min"], p2["participation"]) == ("P2", 60.0, 0.5)
    assert (p2["first_in"], p2["last_out"], p2["credited_hours"]) == (
        "2026-03-02 10:00:00",
        "2026-03-02 11:00:00",
        0.0,
    )


def test_a_neighbouring_session_at_the_same_door_splits_the_events():
    sched = schedule()
    (s1, s2) = sched.sessions
    assert session_window(sched, s1, "room-1")[1] == at("2026-03-02 12:05")
    assert session_window(sched, s1, "room-1b")[1] == at("2026-03-02 12:30")
    assert session_window(sched, s2)[0] == at("2026-03-02 12:05")
    leaving = event("P1", "2026-03-02 12:07", "room-1", ref="session:s1")  # tagged: s1's exit
    events = [*_visits("P1", "10:00"), leaving, *_visits("P1", "12:08", "13:10")]
    report = session_report(events, sched)
    s1_p1 = _person(report, "P1", "s1")
    assert (s1_p1.present_minutes, s1_p1.last_out, s1_p1.missing_checkout) == (
        120,
        at("2026-03-02 12:07"),
        False,
    )
    s2_p1 = _person(report, "P1", "s2")
    assert (s2_p1.first_in, s2_p1.present_minutes) == (at("2026-03-02 12:08"), pytest.approx(60))
    untagged = session_report([*events[:1], *_visits("P1", "12:07"), *events[2:]], sched)
    assert _person(untagged, "P1", "s2").present_minutes == 0  # 12:07 taken as the entry
    with pytest.raises(ValueError, match="nope"):
        session_report(events, sched, ["nope"])


def test_the_report_is_the_same_from_events_stored_out_of_order_and_twice(tmp_path: Path):
    events = _visits("P1", "09:55", "10:30", "10:40", "12:10") + _visits("P2", "10:20")
    events += _visits("P3", "10:00", "11:00", synced=False) + _visits("Z", "10:05", "10:06")
    events += [event("P4", "2026-03-02 10:01", "room-1b"), event("P4", "2026-03-02 11:59")]
    store = stored_shuffled(tmp_path / "central.db", events, seed=3)
    sched = schedule()
    stored = store.events_between(*session_report_range(sched, ["s1"]))
    assert sorted(str(e.event_id) for e in stored) == sorted(str(e.event_id) for e in events)
    from_store = session_report(stored, sched, ["s1"])
    assert from_store.to_table() == session_report(events, sched, ["s1"]).to_table()
    assert from_store.summary_table() == session_report(events, sched, ["s1"]).summary_table()
    p1 = _person(from_store, "P1")
    assert (p1.present_minutes, p1.mid_session_exits) == (pytest.approx(110), 1)
    p4 = _person(from_store, "P4")  # the exit was at gate-1, not a door of the room
    assert (p4.present_minutes, p4.missing_checkout) == (pytest.approx(119), True)
