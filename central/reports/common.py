"""What the attendance reports share: the table shape, event order, and local time text.

Every report has ``to_table() -> (columns, rows)``: column names, then one list of cells per
row. Cells are ``str`` (ids, verdicts, ISO dates and local times), ``int``, ``float``, ``bool``
or ``None`` (nothing to show), so the CSV, XLSX and chart exports need no knowledge of the
report behind a table. Times are rendered in the schedule's zone as ``YYYY-MM-DD HH:MM:SS``
(no offset: the zone is the schedule's, named in the report).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TypeAlias
from zoneinfo import ZoneInfo

from models.messages import CheckInEvent

Table: TypeAlias = tuple[list[str], list[list[object]]]
"""Column names, and the rows (one cell per column)."""


def event_order(event: CheckInEvent) -> tuple[datetime, str, int]:
    """The order reports read events in: capture time, then terminal and seq."""
    return (event.captured_at, event.terminal_id, event.seq)


def unique_events(events: Iterable[CheckInEvent]) -> Iterator[CheckInEvent]:
    """``events`` with each ``event_id`` once (the first given), as the receiver stores them."""
    seen: set[str] = set()
    for event in events:
        key = str(event.event_id)
        if key not in seen:
            seen.add(key)
            yield event


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` (aware) as local ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def minutes_between(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end`` (negative when ``end`` is first)."""
    return (end - start).total_seconds() / 60


def overlap_minutes(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    """Minutes the intervals ``a`` and ``b`` have in common (0 when they do not meet)."""
    return max(0.0, minutes_between(max(a[0], b[0]), min(a[1], b[1])))
