"""Helpers for the kiosk's attendance tests: a schedule, local times, a desk on a real outbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from common.schedule_file import ScheduleFile
from drivers.camera.base import Frame
from models.messages import CheckInEvent, Method
from models.schedule import Schedule, ShiftPlan, TrainingSession
from terminal.checkin.attendance import Attendance
from terminal.checkin.code_checker import CodeChecker
from terminal.checkin.decisions import Decision, ThrottledLog
from terminal.checkin.desk import CheckInDesk
from terminal.checkin.rules import RepeatGuard
from terminal.config import QrSection
from terminal.config.attendance import AttendanceSection
from terminal.store.outbox import Outbox
from tests.signed_code_tools import Clock

ZONE = ZoneInfo("Asia/Shanghai")
TERMINAL = "kiosk-01"

SCHEDULE = Schedule(
    version=1,
    groups={"front": ["E1001", "E1002"]},
    shifts=[
        ShiftPlan(shift_id="day", name="Day", start=time(9), end=time(18), groups=["front"]),
        ShiftPlan(
            shift_id="night", name="Night", start=time(22), end=time(6),
            weekdays=[1, 2, 3, 4, 5, 6, 7], people=["E2001"],
        ),
    ],
    sessions=[
        TrainingSession(
            session_id="safety", title="Safety training", terminal_ids=[TERMINAL],
            start=datetime(2026, 11, 23, 6, 0, tzinfo=UTC),  # 14:00 local
            end=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),  # 16:00 local
            participants=["E3001", "E3002"],
        ),
    ],
)  # fmt: skip
"""Day shift 09:00-18:00 (E1001, E1002), night shift 22:00-06:00 (E2001), all Asia/Shanghai;
the safety training 14:00-16:00 local on Monday 2026-11-23 at :data:`TERMINAL`."""


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """November ``day``, 2026 at that local (Asia/Shanghai) time, as UTC."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=ZONE).astimezone(UTC)


def write_schedule(path: Path, schedule: Schedule = SCHEDULE) -> Path:
    """Write ``schedule`` as the JSON file a kiosk reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schedule.model_dump_json(indent=2), encoding="utf-8")
    return path


class Kiosk:
    """A check-in desk committing to a real outbox, with a switchable clock state."""

    def __init__(
        self,
        db_file: Path,
        schedule_file: Path | None,
        direction: str = "auto",
        session_mode: bool = False,
        from_config: bool = False,
    ) -> None:
        self.outbox = Outbox.open(db_file, TERMINAL, "hq")
        section = AttendanceSection.model_validate(
            {"direction": direction, "schedule_file": schedule_file, "session_mode": session_mode}
        )
        if from_config:  # as the kiosk builds it: the file if set, else the roster's schedule
            self.attendance = Attendance.from_config(section, TERMINAL, self.outbox.db)
            self.attendance.zone = ZONE
        else:
            schedules = ScheduleFile(schedule_file) if schedule_file is not None else None
            self.attendance = Attendance(section, TERMINAL, schedules, zone=ZONE)
        self.clock = Clock()
        codes = CodeChecker(QrSection(), self.outbox.db, self.clock)
        throttled = ThrottledLog(logging.getLogger(__name__))
        self.desk = CheckInDesk(
            self.outbox, RepeatGuard(0), codes, self.clock, throttled, self.attendance
        )
        self._frames = 0

    def check_in(self, person_id: str, at: datetime) -> Decision:
        """A check-in of ``person_id`` by badge, captured at ``at``."""
        self._frames += 1
        frame = Frame(np.zeros((4, 4, 3), np.uint8), self._frames, float(self._frames), at)
        decision = self.desk.check_in(person_id, Method.QR, frame)
        assert decision.kind == "checked_in", decision
        return decision

    def event(self, person_id: str, at: datetime) -> CheckInEvent:
        """The committed event of a check-in of ``person_id`` at ``at``."""
        event = self.check_in(person_id, at).event
        assert event is not None
        return event

    def close(self) -> None:
        """Close the outbox's connection."""
        self.outbox.close()


def summary(event: CheckInEvent) -> tuple[str | None, str | None, str | None, int | None]:
    """``(direction, schedule_ref, verdict, verdict_minutes)`` of an event, as plain values."""
    direction = event.direction.value if event.direction is not None else None
    verdict = event.verdict.value if event.verdict is not None else None
    return direction, event.schedule_ref, verdict, event.verdict_minutes
