"""What the attendance reports share: the table shape, event order, and local time text.

Every report has ``to_table() -> (columns, rows)``: column names, then one list of cells per
row. Cells are ``str`` (ids, verdicts, ISO dates and local times), ``int``, ``float``, ``bool``
or ``None`` (nothing to show), so the CSV, XLSX and chart exports need no knowledge of the
report behind a table. Times are rendered in the schedule's zone as ``YYYY-MM-DD HH:MM:SS``
(no offset: the zone is the schedule's, named in the report).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Protocol, TypeAlias, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from models.messages import Direction

Table: TypeAlias = tuple[list[str], list[list[object]]]
"""Column names, and the rows (one cell per column)."""


class CheckIn(Protocol):
    """What the reports read of a check-in: a :class:`~models.messages.CheckInEvent`, or the
    lighter :class:`~central.receiver.store.StoredCheckIn` a report reads from the database."""

    @property
    def event_id(self) -> UUID | str:
        """The idempotency key."""

    @property
    def terminal_id(self) -> str:
        """The terminal that recorded it."""

    @property
    def seq(self) -> int:
        """The terminal's counter."""

    @property
    def person_id(self) -> str:
        """Who checked in."""

    @property
    def captured_at(self) -> datetime:
        """When (aware)."""

    @property
    def clock_synced(self) -> bool:
        """Whether the terminal's clock was synchronised."""

    @property
    def direction(self) -> Direction | None:
        """in, out, or not known."""

    @property
    def schedule_ref(self) -> str | None:
        """The schedule item the terminal counted it for."""


C = TypeVar("C", bound=CheckIn)
T = TypeVar("T")


def event_order(event: CheckIn) -> tuple[datetime, str, int]:
    """The order reports read events in: capture time, then terminal and seq."""
    return (event.captured_at, event.terminal_id, event.seq)


def unique_events(events: Iterable[C]) -> Iterator[C]:
    """``events`` with each ``event_id`` once (the first given), as the receiver stores them."""
    seen: set[str] = set()
    for event in events:
        key = str(event.event_id)
        if key not in seen:
            seen.add(key)
            yield event


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """``moment`` (aware) as local ``YYYY-MM-DD HH:MM:SS`` in ``zone``."""
    # isoformat is several times faster than strftime, and the same for years 1000 to 9999.
    return moment.astimezone(zone).isoformat(" ", "seconds")[:19]


def minutes_between(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end`` (negative when ``end`` is first)."""
    return (end - start).total_seconds() / 60


def overlap_minutes(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    """Minutes the intervals ``a`` and ``b`` have in common (0 when they do not meet)."""
    return max(0.0, minutes_between(max(a[0], b[0]), min(a[1], b[1])))


def chosen_by_id(
    items: Sequence[T], ids: Iterable[str] | None, id_of: Callable[[T], str], what: str
) -> list[T]:
    """The ``items`` whose id (``id_of``) is among ``ids``, in their own order (all when
    None); ValueError naming the unknown ids, e.g. ``unknown session(s): s9``."""
    if ids is None:
        return list(items)
    wanted = list(ids)
    known = {id_of(item) for item in items}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        raise ValueError(f"unknown {what}(s): {', '.join(unknown)}")
    return [item for item in items if id_of(item) in wanted]
