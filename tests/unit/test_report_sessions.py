"""Training-session attendance: exits and re-entries, missing exits, threshold, clocks, store,
lateness, leave, supervisors' corrections and pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.reports.adjustments import Adjustments
from central.reports.inputs import read_adjustments, streamed_events
from central.reports.sessions import (
    SessionAttendance,
    SessionReport,
    session_report,
    session_report_range,
    session_window,
    stream_session_report,
)
from models.messages import CheckInEvent
from tests.report_tools import (
    added_check_in,
    at,
    event,
    leave_period,
    programme_schedule,
    records_db,
    schedule,
    stored_correction,
    stored_shuffled,
    voided,
)


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


def test_unsynchronised_events_give_minutes_but_no_verdict():
    events = _visits("P3", "10:00", synced=False) + _visits("P3", "12:00")
    p3 = _person(_report(events), "P3")  # synced alone: an exit while out, nothing counted
    assert (p3.present_minutes, p3.unverified, p3.status) == (120, True, "unverified")
    assert (p3.flagged, p3.credited_hours, p3.late_minutes) == (False, 0.0, 0)
    events = _visits("P4", "09:58") + _visits("P4", "10:30", "10:35", synced=False)
    events += _visits("P4", "12:01")
    p4 = _person(_report(events), "P4")  # the synced ones alone already qualify
    assert (p4.present_minutes, p4.mid_session_exits, p4.unverified) == (120, 0, True)
    assert (p4.status, p4.credited_hours) == ("attended", 2.0)


def test_a_person_seen_only_by_an_unsynchronised_kiosk_shows_minutes_unverified():
    events = _visits("P2", "10:05", "11:35", synced=False)
    p2 = _person(_report(events), "P2")
    assert (p2.present_minutes, p2.participation) == (90, pytest.approx(0.75))
    assert (p2.status, p2.flagged, p2.credited_hours, p2.unverified) == (
        "unverified", False, 0.0, True,
    )  # fmt: skip
    assert p2.late_minutes == 0 and not p2.late  # an unsynchronised entry: no verdict
    (result,) = _report(events).sessions
    assert (result.unverified, result.flagged) == (1, 3)  # P1, P3, P4 absent


@pytest.mark.parametrize(
    ("entry", "late_minutes"),
    [("09:40", 0), ("10:00", 0), ("10:00:01", 1), ("10:04:30", 5), ("10:30", 30)],
)
def test_lateness_is_the_first_entry_after_the_start_rounded_up(entry, late_minutes):
    p1 = _person(_report(_visits("P1", entry, "12:00")), "P1")
    assert (p1.late_minutes, p1.late) == (late_minutes, late_minutes > 0)


def test_lateness_is_judged_only_from_a_synchronised_first_entry():
    events = _visits("P1", "10:20", synced=False) + _visits("P1", "12:00")
    assert _person(_report(events), "P1").late_minutes == 0
    events = _visits("P1", "10:20") + _visits("P1", "12:00", synced=False)
    assert _person(_report(events), "P1").late_minutes == 20


def _adjusted(events, leave=(), corrections=(), session_ids=("s1",)) -> SessionReport:
    adjustments = Adjustments(leave, [stored_correction(c) for c in corrections])
    return session_report(events, schedule(), list(session_ids), adjustments)


def test_leave_covering_the_whole_session_is_on_leave_not_absent():
    sick = leave_period("P3", "2026-03-02 00:00", "2026-03-03 00:00", "sick")
    excused = leave_period("P4", "2026-03-02 09:30", "2026-03-02 12:00", "excused")
    report = _adjusted(_visits("P1", "09:55", "12:00"), [sick, excused])
    for person, kind in (("P3", "sick"), ("P4", "excused")):
        a = _person(report, person)
        assert (a.status, a.flagged, a.credited_hours, a.participation) == (
            "on_leave", False, 0.0, 0.0,
        )  # fmt: skip
        assert (a.leave_text, a.late_minutes) == (kind, 0)
    (result,) = report.sessions
    assert (result.on_leave, result.flagged) == (2, 1)  # P2 absent
    assert result.mean_participation == pytest.approx(0.5)  # P1 1.0, P2 0.0; leave left out
    columns, rows = report.to_table()
    assert columns[-3:] == ["late_min", "leave", "corrections"]
    assert dict(zip(columns, rows[2], strict=True))["leave"] == "sick"


def test_leave_ending_before_the_end_is_not_a_whole_session():
    part = leave_period("P3", "2026-03-02 10:00", "2026-03-02 11:59", "personal")
    p3 = _person(_adjusted([], [part]), "P3")
    assert (p3.status, p3.leave) == ("absent", ("personal",))


@pytest.mark.parametrize(("entry", "late_minutes"), [("10:20", 0), ("10:30", 0), ("10:40", 10)])
def test_an_excused_period_covering_the_start_moves_it(entry, late_minutes):
    rain = leave_period("P1", "2026-03-02 09:00", "2026-03-02 10:30", "excused")
    p1 = _person(_adjusted(_visits("P1", entry, "12:00"), [rain]), "P1")
    assert (p1.late_minutes, p1.leave_text) == (late_minutes, "excused")
    assert p1.status == ("attended" if entry == "10:20" else "flagged")  # time in the room
    without = _person(_adjusted(_visits("P1", entry, "12:00")), "P1")
    assert without.late_minutes == {"10:20": 20, "10:30": 30, "10:40": 40}[entry]


def test_a_supervisor_added_entry_counts_for_its_session():
    exit_only = _visits("P2", "12:00")
    report = _adjusted(exit_only, corrections=[added_check_in("P2", "2026-03-02 10:02",
                                                             ref="session:s1")])  # fmt: skip
    p2 = _person(report, "P2")
    assert (p2.present_minutes, p2.status, p2.corrections, p2.late_minutes) == (
        118, "attended", 1, 2,
    )  # fmt: skip
    untagged = _person(_adjusted(exit_only, corrections=[
        added_check_in("P2", "2026-03-02 09:58")]), "P2")  # fmt: skip
    assert (untagged.present_minutes, untagged.corrections, untagged.late) == (120, 1, False)
    elsewhere = added_check_in("P2", "2026-03-02 10:02", ref="session:s2")
    p2 = _person(_adjusted(exit_only, corrections=[elsewhere]), "P2")
    assert (p2.present_minutes, p2.corrections) == (0, 0)
    shift = added_check_in("P2", "2026-03-02 10:02", ref="shift:day:2026-03-02")
    assert _person(_adjusted(exit_only, corrections=[shift]), "P2").corrections == 0


def test_a_voided_check_in_does_not_count():
    lent = event("P1", "2026-03-02 09:58", "room-1", direction="in")  # someone else's doing
    events = [
        lent,
        *_visits("P1", "10:25", direction="in"),
        *_visits("P1", "12:00", direction="out"),
    ]
    p1 = _person(_adjusted(events, corrections=[voided(lent)]), "P1")
    assert (p1.first_in, p1.late_minutes, p1.corrections) == (at("2026-03-02 10:25"), 25, 1)
    assert p1.present_minutes == 95 and p1.status == "flagged"
    assert _person(_adjusted(events), "P1").present_minutes == 120


def test_pairs_report_who_came_without_their_partner():
    sched = programme_schedule(pairs=(("P1", "P2"), ("P3", "P4"), ("P2", "P3")))
    events = [
        event("P1", "2026-03-03 08:55", "room-2"),
        event("P1", "2026-03-03 10:00", "room-2"),
        event("P2", "2026-03-03 09:40", "room-2"),  # 40 min late, then stays: flagged
    ]
    report = session_report(events, sched, ["t1"])
    assert _person(report, "P4", "t1").expected  # the people of a pair are expected
    columns, rows = report.pairs_table()
    assert columns == ["session_id", "person_a", "person_b", "a_status", "b_status",
                       "pair_status", "missing"]  # fmt: skip
    assert rows == [
        ["t1", "P1", "P2", "attended", "flagged", "one_absent", "P2"],
        ["t1", "P3", "P4", "absent", "absent", "both_absent", "P3+P4"],
        ["t1", "P2", "P3", "flagged", "absent", "both_absent", "P2+P3"],
    ]
    events[2] = event("P2", "2026-03-03 08:59", "room-2")
    (row, *_) = session_report(events, sched, ["t1"]).pairs_table()[1]
    assert row[3:] == ["attended", "attended", "complete", None]


def test_leave_and_corrections_read_from_a_real_database(tmp_path: Path):
    lent = event("P1", "2026-03-02 09:58", "room-1")
    events = [lent, *_visits("P1", "10:10", "12:00"), *_visits("P2", "12:00")]
    db = records_db(
        tmp_path / "central.db",
        events,
        leave=[leave_period("P3", "2026-03-02 08:00", "2026-03-02 18:00", "annual")],
        corrections=[voided(lent), added_check_in("P2", "2026-03-02 10:00", ref="session:s1")],
    )
    sched = schedule()
    window = session_report_range(sched, ["s1"])
    adjustments = read_adjustments(db, *window)
    with streamed_events(db, *window) as stream:
        report = stream_session_report(stream, sched, ["s1"], adjustments)
    people = {a.person_id: a for a in report.sessions[0].attendance}
    assert (people["P1"].late_minutes, people["P1"].corrections) == (10, 1)
    assert (people["P2"].status, people["P2"].present_minutes, people["P2"].corrections) == (
        "attended", 120, 1,
    )  # fmt: skip
    assert (people["P3"].status, people["P4"].status) == ("on_leave", "absent")


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
