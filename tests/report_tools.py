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
from central.records.store import RecordsStore
from models.hr_records import CheckInCorrection, LeavePeriod, StoredCorrection
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


def programme_schedule(
    lateness_limit: int = 2,
    class_hours_required: float | None = None,
    pairs: Sequence[Sequence[str]] = (("P1", "P2"),),
) -> Schedule:
    """:func:`schedule` plus three one-hour sessions and two programmes:

    - ``t1``, ``t2``, ``t3``: 2026-03-03, -04, -05, 09:00-10:00 at room-2, P1-P3, 1.5 class
      hours each; ``t1`` pairs ``pairs`` (P1 with P2);
    - programme ``induction``: t1, t2, t3 (``lateness_limit``, ``class_hours_required``);
      programme ``safety``: s1, defaults.
    """
    base = schedule().model_dump(mode="json")
    for number, day in enumerate(("2026-03-03", "2026-03-04", "2026-03-05"), start=1):
        base["sessions"].append(
            {
                "session_id": f"t{number}",
                "title": f"Induction {number}",
                "terminal_ids": ["room-2"],
                "start": at(f"{day} 09:00").isoformat(),
                "end": at(f"{day} 10:00").isoformat(),
                "participants": ["P1", "P2", "P3"],
                "class_hours": 1.5,
                "pairs": [list(pair) for pair in pairs] if number == 1 else [],
            }
        )
    base["programmes"] = [
        {
            "programme_id": "induction",
            "title": "新员工入职 Induction",
            "sessions": ["t1", "t2", "t3"],
            "lateness_limit": lateness_limit,
            "class_hours_required": class_hours_required,
        },
        {"programme_id": "safety", "title": "Safety", "sessions": ["s1"]},
    ]
    return Schedule.model_validate(base)


def leave_period(
    person: str, start: str, end: str, kind: str = "excused", leave_id: str | None = None
) -> LeavePeriod:
    """Approved leave of ``person`` from local ``start`` to ``end`` (``YYYY-MM-DD HH:MM``)."""
    return LeavePeriod.model_validate(
        {
            "leave_id": leave_id or f"L-{person}-{next(_SEQ)}",
            "person_id": person,
            "kind": kind,
            "start": at(start),
            "end": at(end),
        }
    )


def added_check_in(
    person: str, when: str, direction: str = "in", ref: str | None = None
) -> CheckInCorrection:
    """A supervisor's added check-in of ``person`` at local ``when``."""
    return CheckInCorrection(
        action="add",
        reason="forgot the card",
        signed_off_by="sup-1",
        person_id=person,
        captured_at=at(when),
        direction=Direction(direction),
        schedule_ref=ref,
    )


def voided(check_in: CheckInEvent | StoredCorrection) -> CheckInCorrection:
    """A supervisor's void of a stored check-in (a terminal's, or an added one)."""
    target = check_in.event_id if isinstance(check_in, CheckInEvent) else check_in.correction_id
    return CheckInCorrection(
        action="void", reason="badge lent to a colleague", signed_off_by="sup-1", event_id=target
    )


def stored_correction(correction: CheckInCorrection) -> StoredCorrection:
    """``correction`` as :class:`RecordsStore` would give it back (a fresh id), for the pure
    report functions."""
    return StoredCorrection(
        **correction.model_dump(), correction_id=uuid.uuid4(), recorded_at=at("2026-03-01 08:00")
    )


def records_db(
    db: Path,
    events: Sequence[CheckInEvent],
    leave: Sequence[LeavePeriod] = (),
    corrections: Sequence[CheckInCorrection] = (),
) -> Path:
    """A real receiver database at ``db`` holding ``events``, ``leave`` and ``corrections``
    (recorded in order, after the events: a void names a stored check-in)."""
    store = ReceiverStore(db)
    store.store(list(events))
    store.close()
    records = RecordsStore(db)
    try:
        if leave:
            records.put_leave(leave)
        for correction in corrections:
            records.add_correction(correction)
    finally:
        records.close()
    return db
