"""``kiosk loadgen``: synthetic check-ins through the real store-and-sync path.

Every synthetic terminal (``load-001``, ``load-002``, ...) has its own outbox database
(``DATA_DIR/<terminal id>/kiosk.db``) written with
:meth:`~terminal.store.outbox.Outbox.commit_checkin`,
exactly as the camera pipeline writes, and, when a broker is given, its own
:class:`~terminal.sync.uplink.SyncWorker` thread (its own MQTT connection, client id = terminal id)
delivering it. Check-ins are spread round-robin over the terminals, optionally paced at a total
rate. The run ends when every outbox has nothing left unacknowledged (or the timeout passes).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from common.errors import ConfigError
from models.messages import Method
from terminal import __version__
from terminal.config import Config
from terminal.config import _describe as describe_validation_error
from terminal.store.outbox import CheckInDraft, Outbox
from terminal.sync.uplink import SyncWorker
from terminal.system.clock import ClockState

log = logging.getLogger(__name__)

POLL_S = 0.2
JOIN_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class LoadPlan:
    """What to generate: ``count`` check-ins in all over ``terminals`` terminal identities."""

    count: int
    """0: commit nothing, only deliver what the outboxes already hold."""
    terminals: int
    data_dir: Path
    rate: float | None = None
    """Check-ins per second over all terminals; None: as fast as they commit."""
    broker_url: str | None = None
    """Deliver to this broker with the real sync; None: only commit."""
    timeout_s: float = 600.0
    id_prefix: str = "load"
    share: tuple[int, int] | None = None
    """Run only terminals ``[first, end)`` (0-based) of the fleet, and only their check-ins,
    on the fleet's schedule (one process of several); None: all of them."""

    def terminal_ids(self) -> list[str]:
        """The ids of the terminals this plan runs, e.g. ``load-001`` ... ``load-200``."""
        width = max(3, len(str(self.terminals)))
        first, end = self.share or (0, self.terminals)
        return [f"{self.id_prefix}-{n + 1:0{width}d}" for n in range(first, end)]


@dataclass(frozen=True)
class LoadResult:
    """What happened: committed, still unacknowledged at the end, and how long it took."""

    terminals: int
    committed: int
    unacknowledged: int
    commit_s: float
    total_s: float
    delivered: bool
    broker: str | None
    data_dir: str
    processes: int = 1

    def as_dict(self) -> dict[str, object]:
        """The result with its derived rates, ready for JSON."""
        rates = {
            "commit_events_per_s": self.committed / self.commit_s if self.commit_s else None,
            "events_per_s": self.committed / self.total_s if self.total_s else None,
        }
        return {**asdict(self), **rates}

    def line(self) -> str:
        """One readable summary line."""
        what = f"{self.committed} check-ins from {self.terminals} terminals"
        if self.broker is None:
            return f"{what} committed in {self.commit_s:.1f} s under {self.data_dir} (not sent)"
        if self.delivered:
            return f"{what} committed and acknowledged by {self.broker} in {self.total_s:.1f} s"
        return f"{what}: {self.unacknowledged} still unacknowledged after {self.total_s:.1f} s"


def terminal_config(base: Config, terminal_id: str, data_dir: Path, url: str | None) -> Config:
    """``base`` for one synthetic terminal: its id, its own data dir, the broker at ``url``.

    Raises :class:`~common.errors.ConfigError` when the result is not a valid config (e.g. a
    terminal id or broker URL of the wrong shape).
    """
    raw = base.model_dump()
    raw["terminal"]["id"] = terminal_id
    raw["storage"]["data_dir"] = data_dir / terminal_id
    raw["mqtt"] = None if url is None else {**(raw["mqtt"] or {}), "url": url, "client_id": None}
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"loadgen: {describe_validation_error(exc)}") from None


def synthetic_draft(number: int) -> CheckInDraft:
    """The ``number``-th synthetic check-in: faces and QR badges of 1,000 people."""
    person = f"E{1000 + number % 1000}"
    if number % 4 == 3:
        return CheckInDraft(person, Method.QR, datetime.now(UTC))
    return CheckInDraft(person, Method.FACE, datetime.now(UTC), 0.25 + (number % 13) / 100)


class LoadGenerator:
    """Runs one :class:`LoadPlan` with the settings of ``base`` (e.g. ``[mqtt] batch_size``)."""

    def __init__(self, plan: LoadPlan, base: Config, stop: threading.Event | None = None) -> None:
        self.plan = plan
        self.stop = stop or threading.Event()
        self.configs = [
            terminal_config(base, terminal_id, plan.data_dir, plan.broker_url)
            for terminal_id in plan.terminal_ids()
        ]
        self.clock = ClockState()

    def run(self) -> LoadResult:
        """Commit every check-in (syncing meanwhile if a broker is set) and wait for delivery."""
        outboxes = [
            Outbox.open(
                c.database_path,
                c.terminal.id,
                c.terminal.site,
                c.storage.max_size_mb,
                c.storage.reserve_mb,
            )
            for c in self.configs
        ]
        workers = self._start_workers()
        began = time.monotonic()
        try:
            committed = self._commit(outboxes)
            commit_s = time.monotonic() - began
            unacknowledged = self._wait(outboxes) if workers else sum(o.backlog() for o in outboxes)
            total_s = time.monotonic() - began
        finally:
            self.stop.set()
            for thread in workers:
                thread.join(JOIN_TIMEOUT_S)
            for outbox in outboxes:
                outbox.close()
        return LoadResult(
            terminals=len(outboxes),
            committed=committed,
            unacknowledged=unacknowledged,
            commit_s=commit_s,
            total_s=total_s,
            delivered=bool(workers) and unacknowledged == 0,
            broker=self.plan.broker_url,
            data_dir=str(self.plan.data_dir),
        )

    def _start_workers(self) -> list[threading.Thread]:
        if self.plan.broker_url is None:
            return []
        threads = []
        for config in self.configs:
            worker = SyncWorker(config, self.stop, __version__)
            thread = threading.Thread(target=worker.run, name=f"sync-{config.terminal.id}")
            thread.daemon = True
            thread.start()
            threads.append(thread)
        return threads

    def _commit(self, outboxes: list[Outbox]) -> int:
        """Commit this plan's check-ins round-robin over the fleet, paced at ``plan.rate``."""
        began = time.monotonic()
        first, end = self.plan.share or (0, self.plan.terminals)
        committed = 0
        for number in range(self.plan.count):
            terminal = number % self.plan.terminals
            if not first <= terminal < end:
                continue
            if self.stop.is_set():
                break
            if self.plan.rate is not None:
                delay = began + number / self.plan.rate - time.monotonic()
                if delay > 0 and self.stop.wait(delay):
                    break
            outboxes[terminal - first].commit_checkin(
                synthetic_draft(number), clock_synced=self.clock()
            )
            committed += 1
        return committed

    def _wait(self, outboxes: list[Outbox]) -> int:
        """Wait until no outbox has unacknowledged events; return how many are left."""
        deadline = time.monotonic() + self.plan.timeout_s
        while True:
            left = sum(outbox.backlog() for outbox in outboxes)
            if left == 0 or time.monotonic() >= deadline or self.stop.is_set():
                if left:
                    log.warning("loadgen: %d events not acknowledged in time", left)
                return left
            self.stop.wait(POLL_S)
