"""``kiosk bench report``: the shift report of a year, streamed against the way it was.

The data set is a site's (:func:`build_dataset`, stored through a :class:`ReceiverStore` so
that another database can be given): a day shift for two departments (groups), a night shift
(22:00-06:00, overnight), a rotating team on days Monday to Wednesday and on nights Thursday and
Friday (people on two shifts), and a few visitors on none. Every working day each person checks
in and out at one of the terminals, with what real days bring: lates, early leaves, absences,
missing check-outs, a second check-in now and then, terminals that send no direction (older
firmware), a terminal whose clock is not synchronised some days. The same sizes and seed give
the same data.

Each report then runs in a process of its own, so that its CPU time and peak memory
(``os.wait4``'s rusage: ``ru_maxrss`` is that process's alone) are its own: the baseline
(:mod:`devtools.bench.report_baseline`, the report as it was, with ``--csv``) and
``kiosk report shifts`` with ``--csv``, ``--json`` and the text table. The CSV files must hold
the same cells in the baseline's columns (the streamed report has more: leave, hours worked,
corrections).
"""

from __future__ import annotations

import csv
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time as clock
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.receiver.store import ReceiverStore
from devtools.bench.ingest import server_io
from devtools.local_postgres import LocalPostgres
from models.messages import CheckInEvent, Direction, Method
from models.schedule import Schedule, ShiftPlan

FIRST_DAY = date(2025, 1, 6)
"""A Monday: the data set's first working day."""
TIMEZONE = "Asia/Shanghai"
STORE_BATCH = 500
"""Events stored per :meth:`ReceiverStore.store` call."""
VISITORS = 20


def working_days(count: int) -> list[date]:
    """The first ``count`` weekdays (Monday to Friday) from :data:`FIRST_DAY`."""
    days: list[date] = []
    day = FIRST_DAY
    while len(days) < count:
        if day.isoweekday() <= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def site_schedule(people: int) -> Schedule:
    """Day shift for 70 % (groups ``assembly`` and ``office``), night shift for 20 % (group
    ``night``), and the rest rotating: days Monday to Wednesday, nights Thursday and Friday."""
    ids = [f"E{n:05d}" for n in range(people)]
    day_count, night_count = people * 7 // 10, people * 2 // 10
    groups = {
        "assembly": ids[: day_count // 2],
        "office": ids[day_count // 2 : day_count],
        "night": ids[day_count : day_count + night_count],
        "rotating": ids[day_count + night_count :],
    }
    shifts = [
        ShiftPlan(shift_id="day", name="Day", start=time(9), end=time(18),
                  groups=["assembly", "office"]),
        ShiftPlan(shift_id="night", name="Night", start=time(22), end=time(6),
                  groups=["night"]),
        ShiftPlan(shift_id="rot-day", name="Rotation day", start=time(8), end=time(17),
                  weekdays=[1, 2, 3], groups=["rotating"]),
        ShiftPlan(shift_id="rot-night", name="Rotation night", start=time(21), end=time(5),
                  weekdays=[4, 5], groups=["rotating"]),
    ]  # fmt: skip
    return Schedule(version=1, timezone=TIMEZONE, groups=groups, shifts=shifts)


class Terminals:
    """Per terminal seq counters, and which terminals send a direction."""

    def __init__(self, count: int) -> None:
        self.ids = [f"gate-{n:02d}" for n in range(count)]
        self.seq = dict.fromkeys(self.ids, 0)
        self.directed = set(self.ids[: (count + 1) // 2])
        """Terminals that decide and send a direction; the others send none."""


def _person_day(
    rng: random.Random, start: datetime, end: datetime
) -> list[tuple[datetime, Direction]]:
    """One person's check-ins for a shift occurrence from ``start`` to ``end``."""
    if rng.random() < 0.03:
        return []  # absent
    late = rng.random() < 0.08
    arrival = start + timedelta(minutes=rng.uniform(1, 45) if late else -rng.uniform(0, 25))
    found = [(arrival, Direction.IN)]
    if rng.random() < 0.01:
        found.append((arrival + timedelta(seconds=rng.uniform(5, 60)), Direction.IN))
    if rng.random() < 0.03:
        return found  # missing check-out
    early = rng.random() < 0.05
    leave = end + timedelta(minutes=-rng.uniform(3, 60) if early else rng.uniform(0, 30))
    if rng.random() < 0.02:
        found.append((arrival + (leave - arrival) / 2, Direction.OUT))  # out for lunch
        found.append((arrival + (leave - arrival) / 2 + timedelta(minutes=40), Direction.IN))
    found.append((leave, Direction.OUT))
    return found


def day_events(
    schedule: Schedule, day: date, terminals: Terminals, rng: random.Random
) -> list[CheckInEvent]:
    """The check-ins of everyone on a shift starting on ``day``, and the visitors', by time."""
    zone = ZoneInfo(schedule.timezone)
    unsynced = terminals.ids[-1] if rng.random() < 0.1 else None
    moments: list[tuple[datetime, str, Direction]] = []
    for shift in schedule.shifts:
        if day.isoweekday() not in shift.weekdays:
            continue
        start = datetime.combine(day, shift.start, zone)
        end = datetime.combine(day + timedelta(days=1) if shift.overnight else day, shift.end, zone)
        for person in sorted(schedule.members(shift.people, shift.groups)):
            moments += [(at, person, d) for at, d in _person_day(rng, start, end)]
    for visitor in range(VISITORS):
        at = datetime.combine(day, time(12), zone) + timedelta(minutes=rng.uniform(-180, 180))
        moments.append((at, f"V{visitor:03d}", Direction.IN))
    events = []
    for at, person, direction in sorted(moments):
        terminal = rng.choice(terminals.ids)
        terminals.seq[terminal] += 1
        events.append(
            CheckInEvent(
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                seq=terminals.seq[terminal],
                terminal_id=terminal,
                site="hq",
                person_id=person,
                method=Method.FACE,
                distance=round(rng.uniform(0.2, 0.45), 3),
                captured_at=at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000),
                clock_synced=terminal != unsynced and rng.random() > 0.005,
                direction=direction if terminal in terminals.directed else None,
            )
        )
    return events


def build_dataset(
    store: ReceiverStore,
    people: int,
    days: int,
    terminals: int,
    seed: int = 0,
    progress: Callable[[int, int, int], None] | None = None,
) -> tuple[Schedule, list[date], int]:
    """Store the check-ins of ``days`` working days of a ``people``-person site into
    ``store`` (through :meth:`ReceiverStore.store`, :data:`STORE_BATCH` at a time); the
    schedule, the days and the number of events. ``progress(day, days, events)`` after each
    day."""
    schedule = site_schedule(people)
    rng = random.Random(seed)
    gates = Terminals(terminals)
    chosen = working_days(days)
    total = 0
    for number, day in enumerate(chosen, start=1):
        events = day_events(schedule, day, gates, rng)
        for first in range(0, len(events), STORE_BATCH):
            store.store(events[first : first + STORE_BATCH])
        total += len(events)
        if progress is not None:
            progress(number, len(chosen), total)
    return schedule, chosen, total


def _measured(argv: list[str], stdout: Path, server: LocalPostgres | None = None) -> dict[str, Any]:
    """Run ``argv`` in a child process (standard output to ``stdout``): its CPU-seconds, peak
    RSS and wall time, and with a PostgreSQL ``server`` the CPU-seconds its processes spent
    meanwhile (reading the events for the report)."""
    server_cpu = server_io(server)[0]
    started = clock.monotonic()
    with stdout.open("wb") as out:
        child = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {errors.decode(errors='replace')[-2000:]}")
    figures = {
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "wall_s": round(clock.monotonic() - started, 2),
    }
    if server is not None:
        figures["server_cpu_s"] = round(server_io(server)[0] - server_cpu, 2)
    return figures


def same_cells(baseline_csv: Path, streamed_csv: Path) -> bool:
    """Whether ``streamed_csv`` holds ``baseline_csv``'s cells in its columns (read a row at a
    time: a year's files are large)."""
    with (
        baseline_csv.open(encoding="utf-8-sig", newline="") as old_file,
        streamed_csv.open(encoding="utf-8-sig", newline="") as new_file,
    ):
        old_rows, new_rows = csv.reader(old_file), csv.reader(new_file)
        old_head, new_head = next(old_rows, []), next(new_rows, [])
        if not set(old_head) <= set(new_head):
            return False
        picks = [new_head.index(name) for name in old_head]
        for old, new in itertools.zip_longest(old_rows, new_rows):
            if old is None or new is None or old != [new[i] for i in picks]:
                return False
    return True


def _ratio(baseline: float, streamed: float) -> float | None:
    return round(baseline / streamed, 2) if streamed else None


def run_report_benchmark(
    people: int,
    days: int,
    terminals: int,
    db_url: str | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    postgresql: bool = False,
) -> dict[str, Any]:
    """Build the data set (into ``db_url``, an empty receiver database; with ``postgresql`` a
    database on a throwaway PostgreSQL server; otherwise an SQLite file in a temporary folder)
    and measure the baseline and the streamed report on it."""
    say = progress or (lambda _message: None)
    server = LocalPostgres().start() if postgresql else None
    try:
        if server is not None:
            db_url = server.create_database("report")
        return _run(people, days, terminals, db_url, seed, say, server)
    finally:
        if server is not None:
            server.stop()


def _run(
    people: int,
    days: int,
    terminals: int,
    db_url: str | None,
    seed: int,
    say: Callable[[str], None],
    server: LocalPostgres | None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-report-") as folder:
        work = Path(folder)
        location = db_url or str(work / "central.db")
        store = ReceiverStore(location)
        started = clock.monotonic()

        def built(day: int, total: int, events: int) -> None:
            if day % 10 == 0 or day == total:
                say(f"stored day {day}/{total}: {events} events")

        try:
            schedule, chosen, events = build_dataset(store, people, days, terminals, seed, built)
        finally:
            store.close()
        build_s = round(clock.monotonic() - started, 1)
        schedule_path = work / "schedule.json"
        schedule_path.write_text(schedule.model_dump_json(indent=2), encoding="utf-8")
        first, last = chosen[0].isoformat(), chosen[-1].isoformat()
        report = [sys.executable, "-m", "cli", "report", "shifts", "--db", location,
                  "--schedule", str(schedule_path), "--from", first, "--to", last]  # fmt: skip
        say("baseline report (CSV) ...")
        baseline = _measured(
            [sys.executable, "-m", "devtools.bench.report_baseline", location,
             str(schedule_path), first, last, str(work / "baseline.csv")],
            work / "baseline.out",
            server,
        )  # fmt: skip
        streamed: dict[str, Any] = {}
        for name, extra in (("csv", ["--csv", str(work / "streamed.csv")]),
                            ("json", ["--json"]), ("text", [])):  # fmt: skip
            say(f"streamed report ({name}) ...")
            streamed[name] = _measured(report + extra, work / f"streamed-{name}.out", server)
        identical = same_cells(work / "baseline.csv", work / "streamed.csv")
        rows = int((work / "baseline.out").read_text().strip())
    return {
        "people": people,
        "days": days,
        "terminals": terminals,
        "events": events,
        "rows": rows,
        "database": "sqlite" if db_url is None else db_url.split(":", 1)[0],
        "build_s": build_s,
        "baseline_csv": baseline,
        "streamed": streamed,
        "cpu_ratio": _ratio(baseline["cpu_s"], streamed["csv"]["cpu_s"]),
        "memory_ratio": _ratio(baseline["peak_rss_mb"], streamed["csv"]["peak_rss_mb"]),
        "identical": identical,
    }
