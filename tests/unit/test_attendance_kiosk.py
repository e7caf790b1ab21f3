"""The kiosk's attendance rules: direction (fixed, auto by shift, by day, by session) and the
verdicts committed with each check-in, on a real outbox (SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.checkin.direction import SESSION_GRACE
from tests.attendance_tools import Kiosk, local, summary, write_schedule


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    desk = Kiosk(tmp_path / "kiosk.db", write_schedule(tmp_path / "schedule.json"))
    yield desk
    desk.close()


@pytest.fixture
def door(tmp_path: Path) -> Iterator[Kiosk]:
    desk = Kiosk(
        tmp_path / "kiosk.db", write_schedule(tmp_path / "schedule.json"), session_mode=True
    )
    yield desk
    desk.close()


def test_auto_with_a_shift_first_is_in_every_later_one_out(kiosk: Kiosk) -> None:
    day = "day@2026-11-23"
    assert summary(kiosk.event("E1001", local(23, 8, 55))) == ("in", day, "on_time", None)
    # Out for lunch: at that moment an early leave (the reports use the last one).
    assert summary(kiosk.event("E1001", local(23, 12))) == ("out", day, "early_leave", 360)
    assert summary(kiosk.event("E1001", local(23, 13))) == ("out", day, "early_leave", 300)
    assert summary(kiosk.event("E1001", local(23, 18, 2))) == ("out", day, "left_on_time", None)
    # A colleague on the same shift: late by 4 min 1 s shows as 5 minutes (rounded up).
    assert summary(kiosk.event("E1002", local(23, 9, 4, 1))) == ("in", day, "late", 5)
    assert summary(kiosk.event("E1002", local(23, 17, 48))) == ("out", day, "early_leave", 12)
    # The next day is a new occurrence: in again.
    assert summary(kiosk.event("E1001", local(24, 9, 4))) == ("in", "day@2026-11-24", "late", 4)


def test_auto_with_an_overnight_shift(kiosk: Kiosk) -> None:
    night = "night@2026-11-23"
    assert summary(kiosk.event("E2001", local(23, 22, 4))) == ("in", night, "late", 4)
    # After midnight it is still Monday's shift, and the check-out ends it.
    assert summary(kiosk.event("E2001", local(24, 6, 1))) == ("out", night, "left_on_time", None)
    assert summary(kiosk.event("E2001", local(24, 21, 50))) == (
        "in", "night@2026-11-24", "on_time", None
    )  # fmt: skip
    assert summary(kiosk.event("E2001", local(25, 5, 40))) == (
        "out", "night@2026-11-24", "early_leave", 20
    )  # fmt: skip


def test_auto_without_a_shift_alternates_over_the_local_day(kiosk: Kiosk) -> None:
    seen = [summary(kiosk.event("E9001", local(23, hour))) for hour in (8, 12, 13, 19)]
    assert seen == [("in", None, None, None), ("out", None, None, None)] * 2
    # 00:30 local is a new day (16:30 UTC the day before: the local day counts, not UTC's).
    assert summary(kiosk.event("E9001", local(24, 0, 30))) == ("in", None, None, None)
    assert summary(kiosk.event("E9001", local(24, 9))) == ("out", None, None, None)


def test_without_any_schedule_only_the_direction_is_set(tmp_path: Path) -> None:
    kiosk = Kiosk(tmp_path / "kiosk.db", None)
    try:
        seen = [kiosk.event("E1001", local(23, hour)) for hour in (9, 18)]
        assert [summary(e) for e in seen] == [("in", None, None, None), ("out", None, None, None)]
    finally:
        kiosk.close()


@pytest.mark.parametrize("direction", ["in", "out"])
def test_a_fixed_terminal_uses_its_direction(tmp_path: Path, direction: str) -> None:
    kiosk = Kiosk(tmp_path / "kiosk.db", write_schedule(tmp_path / "s.json"), direction)
    try:
        first = summary(kiosk.event("E1001", local(23, 9, 2)))
        second = summary(kiosk.event("E1001", local(23, 17, 50)))
        no_shift = [summary(kiosk.event("E9001", local(23, h)))[0] for h in (9, 10, 11)]
    finally:
        kiosk.close()
    assert no_shift == [direction] * 3
    if direction == "in":  # an entrance: the arrival is judged once, a re-entry is not
        assert first == ("in", "day@2026-11-23", "late", 2)
        assert second == ("in", "day@2026-11-23", None, None)
    else:  # an exit: every check-out is a departure
        assert first == ("out", "day@2026-11-23", "early_leave", 538)
        assert second == ("out", "day@2026-11-23", "early_leave", 10)


def test_session_mode_records_entry_exit_and_re_entry(door: Kiosk) -> None:
    session = "session:safety"
    entry = door.check_in("E3001", local(23, 13, 50))  # 10 minutes early: it counts
    assert summary(entry.event) == ("in", session, "on_time", None)  # type: ignore[arg-type]
    assert entry.session_title == "Safety training"
    assert summary(door.event("E3001", local(23, 14, 30))) == ("out", session, None, None)
    assert summary(door.event("E3001", local(23, 14, 45))) == ("in", session, None, None)
    # Leaving a few minutes after the end still closes the session.
    assert summary(door.event("E3001", local(23, 16, 10))) == ("out", session, None, None)
    assert summary(door.event("E3002", local(23, 14, 4))) == ("in", session, "late", 4)
    # An hour before, or someone never in it after its end: the ordinary rules apply.
    assert summary(door.event("E9001", local(23, 12, 59))) == ("in", None, None, None)
    after = local(23, 16) + SESSION_GRACE / 2
    plain = door.check_in("E9002", after)
    assert summary(plain.event) == ("in", None, None, None)  # type: ignore[arg-type]
    assert plain.session_title is None
    # A person on a shift, outside any session, is judged by the shift.
    assert summary(door.event("E1001", local(23, 9))) == ("in", "day@2026-11-23", "on_time", None)


def test_an_unsynchronised_clock_gives_no_verdict(kiosk: Kiosk) -> None:
    kiosk.clock.synced = False
    assert summary(kiosk.event("E1001", local(23, 9, 30))) == (
        "in", "day@2026-11-23", "no_verdict_clock", None
    )  # fmt: skip
    # On a shift, but none at this moment by the kiosk's clock: still no verdict, said so.
    assert summary(kiosk.event("E1002", local(23, 3))) == ("in", None, "no_verdict_clock", None)
    # Not on any shift: nothing to judge, nothing said.
    assert summary(kiosk.event("E9001", local(23, 9))) == ("in", None, None, None)
    kiosk.clock.synced = True
    assert summary(kiosk.event("E1001", local(23, 18))) == (
        "out", "day@2026-11-23", "left_on_time", None
    )  # fmt: skip
    (first, *_) = kiosk.outbox.rows()
    assert first.event.clock_synced is False
