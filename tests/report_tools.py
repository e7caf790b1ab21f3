"""Building schedules and check-in events for the report tests (times local to Shanghai)."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.receiver.store import ReceiverStore
from models.messages import CheckInEvent, Direction, Method
from models.schedule import AttendanceRules, Schedule, ShiftPlan, TrainingSession

ZONE = ZoneInfo("Asia/Shanghai")
_SEQ = itertools.count(1)


def at(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM[:SS]`` in Shanghai, as an aware datetime."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=ZONE)


def event(
    person: str,
    when: str,
    terminal: str = "gate-1",
    *,
    synced: bool = True,
    direction: str | None = None,
    ref: str | None = None,
) -> CheckInEvent:
    """One check-in of ``person`` at local time ``when`` (a fresh event id and seq)."""
    return CheckInEvent(
        event_id=uuid.uuid4(),
        seq=next(_SEQ),
        terminal_id=terminal,
        site="hq",
        person_id=person,
        method=Method.FACE,
        distance=0.3,
        captured_at=at(when),
        clock_synced=synced,
        direction=Direction(direction) if direction else None,
        schedule_ref=ref,
    )


def schedule(**rules: Any) -> Schedule:
    """The fixed test schedule: a day shift, a night shift and two sessions in one room.

    - ``day``: 09:00-18:00, Monday to Friday, A, B and group ``ops`` (C);
    - ``night``: 22:00-06:00 (overnight), every day, N;
    - ``s1``: 2026-03-02 10:00-12:00 (120 min) at room-1 / room-1b, P1-P4, 2 class hours;
    - ``s2``: 2026-03-02 12:10-13:10 at room-1, P1.
    """
    return Schedule(
        version=1,
        timezone="Asia/Shanghai",
        groups={"ops": ["C"]},
        shifts=[
            ShiftPlan(
                shift_id="day",
                name="Day",
                start=time(9),
                end=time(18),
                people=["A", "B"],
                groups=["ops"],
            ),
            ShiftPlan(
                shift_id="night",
                name="Night",
                start=time(22),
                end=time(6),
                weekdays=[1, 2, 3, 4, 5, 6, 7],
                people=["N"],
            ),
        ],
        sessions=[
            TrainingSession(
                session_id="s1",
                title="Safety",
                terminal_ids=["room-1", "room-1b"],
                start=at("2026-03-02 10:00"),
                end=at("2026-03-02 12:00"),
                participants=["P1", "P2", "P3", "P4"],
                class_hours=2.0,
            ),
            TrainingSession(
                session_id="s2",
                title="First aid",
                terminal_ids=["room-1"],
                start=at("2026-03-02 12:10"),
                end=at("2026-03-02 13:10"),
                participants=["P1"],
            ),
        ],
        rules=AttendanceRules(**rules),
    )


def stored_shuffled(db: Path, events: Sequence[CheckInEvent], seed: int = 7) -> ReceiverStore:
    """A real receiver database at ``db`` holding ``events``, stored in a shuffled order, in
    several batches, every event delivered twice."""
    twice = list(events) * 2
    random.Random(seed).shuffle(twice)
    store = ReceiverStore(db)
    for start in range(0, len(twice), 3):
        store.store(twice[start : start + 3])
    return store
