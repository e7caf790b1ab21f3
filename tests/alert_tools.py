"""Shared by the alert and report tests: a small schedule and check-in events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from central.receiver.store import ReceiverStore
from models.messages import CheckInEvent
from models.schedule import Schedule

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2025, 3, 3, tzinfo=ZONE)
"""A Monday, local midnight."""

_seq = iter(range(1, 1_000_000))


def local(day: datetime, hh: int, mm: int, ss: int = 0) -> datetime:
    """``day`` (local midnight) at ``hh:mm:ss`` local, as an aware UTC datetime."""
    return (day + timedelta(hours=hh, minutes=mm, seconds=ss)).astimezone(UTC)


def make_schedule(
    session_start: datetime | None = None,
    session_minutes: int = 120,
    participants: tuple[str, ...] = ("E1", "E2", "E3", "E4"),
    threshold: float = 0.8,
) -> Schedule:
    """Day shift 09:00-18:00 Mon-Fri for E1 and the team (E2, 张伟); one session in room-1."""
    start = session_start or local(MONDAY, 14, 0)
    return Schedule.model_validate(
        {
            "version": 1,
            "timezone": "Asia/Shanghai",
            "groups": {"team": ["E2", "张伟"]},
            "shifts": [
                {
                    "shift_id": "day",
                    "name": "Day",
                    "start": "09:00",
                    "end": "18:00",
                    "people": ["E1"],
                    "groups": ["team"],
                }
            ],
            "sessions": [
                {
                    "session_id": "fire-101",
                    "title": "消防安全 Fire safety",
                    "terminal_ids": ["room-1"],
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=session_minutes)).isoformat(),
                    "participants": list(participants),
                }
            ],
            "rules": {"absent_alert_after_min": 10, "participation_threshold": threshold},
        }
    )


def check_in(
    person_id: str,
    at: datetime,
    terminal_id: str = "kiosk-01",
    direction: str | None = "in",
    schedule_ref: str | None = None,
    clock_synced: bool = True,
) -> CheckInEvent:
    """A check-in of ``person_id`` at ``at`` (aware)."""
    return CheckInEvent.model_validate(
        {
            "event_id": str(uuid.uuid4()),
            "seq": next(_seq),
            "terminal_id": terminal_id,
            "site": "hq",
            "person_id": person_id,
            "method": "qr",
            "captured_at": at,
            "clock_synced": clock_synced,
            "direction": direction,
            "schedule_ref": schedule_ref,
        }
    )


def running_session_db(directory: Path, database: str | None = None) -> tuple[Path, Path]:
    """``central.db`` (or the ``database`` URL given) with E1's check-in and ``schedule.json``
    whose only item, a 30 min session for E1, E2 and E3, started 20 min ago: three alerts are
    due (E2, E3 absent; participation)."""
    now = datetime.now(UTC)
    with_shift = make_schedule(now - timedelta(minutes=20), 30, ("E1", "E2", "E3"))
    schedule = with_shift.model_copy(update={"shifts": []})  # the shift may be running now
    db = Path(database) if database else directory / "central.db"
    store = ReceiverStore(database or db)
    store.store([check_in("E1", now - timedelta(minutes=19), terminal_id="room-1")])
    store.close()
    schedule_file = directory / "schedule.json"
    schedule_file.write_text(schedule.model_dump_json(), encoding="utf-8")
    return db, schedule_file
