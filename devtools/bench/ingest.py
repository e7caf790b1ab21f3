"""``kiosk bench ingest``: what storing one check-in costs the receiver, in an empty database
and in one of a year's events, on SQLite and on PostgreSQL.

For each database kind and each kind of event id, a database is filled to ``rows`` events
(quickly: one transaction, or COPY) and then ``events`` more are stored through
:meth:`ReceiverStore.store`, as the receiver stores them, in batches of each size asked. Figures
per stored event: CPU microseconds (this process, plus the PostgreSQL server's processes), the
bytes the processes wrote (``/proc/<pid>/io`` ``wchar``: the WAL, and the checkpoint that writes
the pages back, forced before and after the measured stores so both are counted), and the bytes
the kernel sent to the disk for them (``write_bytes``: each ``fdatasync`` of a commit adds
filesystem journal blocks, so this is far above the bytes written when every event is its own
commit).

The baseline is what every kiosk sent until now: random (version 4) event ids, whose index
takes each new id at a random leaf page, so a big table's index makes each event write pages of
its own. The kiosk now sends time-ordered ids (UUIDv7, :mod:`terminal.store.outbox`), which
the index takes at its end.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uuid6

from central.receiver.store import ReceiverStore
from common.errors import KioskError
from devtools.local_postgres import LocalPostgres
from models.messages import CheckInEvent, Method, format_rfc3339

TERMINALS = 10
PEOPLE = 2000
ID_KINDS = ("uuid4", "uuid7")
"""uuid4: the baseline (random ids, every kiosk until now); uuid7: time-ordered (now)."""


def _uuid7_at(moment: datetime) -> uuid.UUID:
    """A version 7 id for ``moment`` (RFC 9562: 48-bit Unix milliseconds, then random bits)."""
    millis = int(moment.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62)
    return uuid.UUID(int=value | (rand & ((1 << 62) - 1)))


def _prefill_rows(count: int, id_kind: str) -> Iterator[tuple[Any, ...]]:
    """``count`` stored events of a past year, 10 terminals, in capture order."""
    start = datetime.now(UTC) - timedelta(days=366)
    step = timedelta(days=365) / max(count, 1)
    received = format_rfc3339(start)
    for index in range(count):
        moment = start + step * index
        event_id = _uuid7_at(moment) if id_kind == "uuid7" else uuid.uuid4()
        yield (
            str(event_id), f"kiosk-{index % TERMINALS:02d}", index // TERMINALS + 1, "hq",
            f"E{index % PEOPLE:05d}", "face", 0.31, format_rfc3339(moment), 1, received,
        )  # fmt: skip


_PREFILL_COLUMNS = (
    "event_id, terminal_id, seq, site, person_id, method, distance, captured_at, clock_synced,"
    " received_at"
)


def _new_events(count: int, first_seq: int, id_kind: str) -> list[CheckInEvent]:
    """``count`` check-ins arriving now, round-robin over the terminals."""
    now = datetime.now(UTC)
    return [
        CheckInEvent(
            event_id=uuid6.uuid7() if id_kind == "uuid7" else uuid.uuid4(),
            terminal_id=f"kiosk-{index % TERMINALS:02d}",
            seq=first_seq + index // TERMINALS,
            site="hq",
            person_id=f"E{random.randrange(PEOPLE):05d}",
            method=Method.FACE,
            distance=0.31,
            captured_at=now + timedelta(milliseconds=index),
            clock_synced=True,
        )
        for index in range(count)
    ]


def _own_io() -> tuple[float, int, int]:
    """CPU seconds, bytes written and bytes sent to the disk by this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, *_written(os.getpid())


def _written(pid: int) -> tuple[int, int]:
    """``wchar`` and ``write_bytes`` of ``pid`` (0, 0 if it is gone)."""
    fields: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = int(value)
    except OSError:
        pass
    return fields.get("wchar", 0), fields.get("write_bytes", 0)


def server_io(server: LocalPostgres | None) -> tuple[float, int, int]:
    """CPU seconds, bytes written and sent to the disk by the PostgreSQL server's processes
    (the postmaster, its children alive now, and for CPU those that exited: a connection's
    backend ends with it); zeros without a server."""
    if server is None:
        return 0.0, 0, 0
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    cpu, written, to_disk = 0.0, 0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, parent = int(entry.name), int(fields[1])
        if postmaster not in (pid, parent):
            continue
        times = [int(field) for field in fields[11:15]]  # utime, stime, cutime, cstime
        cpu += sum(times if pid == postmaster else times[:2]) / tick
        wchar, write_bytes = _written(pid)
        written, to_disk = written + wchar, to_disk + write_bytes
    return cpu, written, to_disk


class _Target:
    """One database being measured: its store, how to fill it fast and to checkpoint it."""

    def __init__(self, kind: str, location: str, server: LocalPostgres | None) -> None:
        self.kind, self.location, self.server = kind, location, server
        self.store = ReceiverStore(location)

    def prefill(self, rows: int, id_kind: str) -> None:
        """Add ``rows`` events in one go (not measured)."""
        if rows == 0:
            return
        connection = self.store.database.connection()
        if self.kind == "sqlite":
            marks = ",".join("?" * 10)
            with self.store.database.transaction():
                connection.executemany(
                    f"INSERT INTO events ({_PREFILL_COLUMNS}) VALUES ({marks})",
                    _prefill_rows(rows, id_kind),
                )
        else:
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY events ({_PREFILL_COLUMNS}) FROM STDIN") as copy,
            ):
                for row in _prefill_rows(rows, id_kind):
                    copy.write_row(row)
            connection.execute("VACUUM (ANALYZE) events")  # as autovacuum leaves a year of rows
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write every changed page back to the database files."""
        if self.kind == "sqlite":
            self.store.database.query("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            self.store.database.connection().execute("CHECKPOINT")

    def measure(self, events: Sequence[CheckInEvent], batch: int) -> dict[str, float]:
        """Store ``events`` in batches of ``batch``; CPU microseconds and bytes written per
        event, checkpoint included."""
        self.checkpoint()
        before = [a + b for a, b in zip(_own_io(), server_io(self.server), strict=True)]
        for start in range(0, len(events), batch):
            self.store.store(events[start : start + batch])
        self.checkpoint()
        after = [a + b for a, b in zip(_own_io(), server_io(self.server), strict=True)]
        cpu, written, to_disk = (a - b for a, b in zip(after, before, strict=True))
        count = len(events)
        return {
            "cpu_us_per_event": round(cpu / count * 1e6, 1),
            "kb_written_per_event": round(written / count / 1024, 2),
            "kb_to_disk_per_event": round(to_disk / count / 1024, 2),
        }

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def run_ingest_benchmark(
    rows: int,
    events: int,
    batches: Sequence[int],
    postgresql: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Figures per database kind, id kind, table size (0 and ``rows``) and batch size, and the
    slowdown from the empty table to the full one."""
    say = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    result: dict[str, Any] = {"rows": rows, "events": events, "batches": list(batches)}
    server: LocalPostgres | None = None
    kinds = ["sqlite"]
    if postgresql:
        try:
            server = LocalPostgres().start()
            kinds.append("postgresql")
        except KioskError as exc:
            result["postgresql"] = {"skipped": str(exc)}
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-bench-ingest-") as workdir:
            for kind in kinds:
                result[kind] = _measure_kind(kind, Path(workdir), server, rows, events, batches,
                                             say)  # fmt: skip
    finally:
        if server is not None:
            server.stop()
    return result


def _measure_kind(
    kind: str,
    workdir: Path,
    server: LocalPostgres | None,
    rows: int,
    events: int,
    batches: Sequence[int],
    say: Callable[[str], None],
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for id_kind in ID_KINDS:
        by_size: dict[str, Any] = {}
        for size in (0, rows):
            name = f"{id_kind}_{size}"
            if kind == "sqlite":
                location = f"sqlite:///{workdir / (name + '.db')}"
            else:
                assert server is not None
                location = server.create_database(name)
            target = _Target(kind, location, None if kind == "sqlite" else server)
            started = time.monotonic()
            say(f"{kind}, {id_kind} ids: filling to {size:,} events")
            target.prefill(size, id_kind)
            say(f"  filled in {time.monotonic() - started:.0f} s; storing {events:,} events")
            per_batch: dict[str, Any] = {}
            first_seq = size // TERMINALS + 1
            for batch in batches:
                new = _new_events(events, first_seq, id_kind)
                first_seq += events // TERMINALS + 1
                per_batch[f"batch_{batch}"] = target.measure(new, batch)
            target.close()
            by_size[str(size)] = per_batch
        by_size["slowdown_full_vs_empty"] = {
            key: {
                figure: _ratio(by_size[str(rows)][key][figure], by_size["0"][key][figure])
                for figure in ("cpu_us_per_event", "kb_written_per_event", "kb_to_disk_per_event")
            }
            for key in by_size["0"]
        }
        figures[id_kind] = by_size
    return figures


def _ratio(value: float, base: float) -> float | None:
    return round(value / base, 2) if base else None
