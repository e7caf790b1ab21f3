"""A large ``kiosk loadgen`` fleet spread over several processes.

Every synthetic terminal holds two outbox connections, a socket and its selector (the MQTT
link uses epoll, so descriptors past 1023 work), and one process runs all its terminals' sync
under one GIL: past a few dozen terminals one process is CPU-bound and near its open-file limit.
A real kiosk runs one terminal per process, so the fleet is split the same way at a smaller
scale: at most :data:`TERMINALS_PER_PROCESS` terminals per child process, every child on the
fleet's common schedule (see :attr:`~devtools.loadgen.LoadPlan.share`).
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import signal
import threading
import time
from dataclasses import replace
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from common.errors import KioskError
from devtools.loadgen import LoadGenerator, LoadPlan, LoadResult
from terminal.config import Config

log = logging.getLogger(__name__)

TERMINALS_PER_PROCESS = 50
RESULT_POLL_S = 0.5


def shares(terminals: int, per_process: int = TERMINALS_PER_PROCESS) -> list[tuple[int, int]]:
    """Split ``terminals`` into as few near-equal ``[first, end)`` ranges as ``per_process``
    allows, e.g. 200 -> four ranges of 50."""
    processes = -(-terminals // per_process)
    bounds = [terminals * n // processes for n in range(processes + 1)]
    return list(itertools.pairwise(bounds))


def run_load(
    plan: LoadPlan,
    base: Config,
    stop: threading.Event,
    per_process: int = TERMINALS_PER_PROCESS,
) -> LoadResult:
    """Run ``plan`` in this process, or over child processes when it has more than
    ``per_process`` terminals and a broker to deliver to."""
    parts = shares(plan.terminals, per_process)
    if len(parts) == 1 or plan.broker_url is None:
        return LoadGenerator(plan, base, stop).run()
    return _run_in_children(plan, base, stop, parts)


def _run_in_children(
    plan: LoadPlan, base: Config, stop: threading.Event, parts: list[tuple[int, int]]
) -> LoadResult:
    context = multiprocessing.get_context("spawn")
    halt = context.Event()
    results: Any = context.Queue()
    level = logging.getLogger().getEffectiveLevel()
    children = [
        context.Process(
            target=_child,
            args=(replace(plan, share=part), base, halt, results, level),
            name=f"loadgen-{part[0] + 1}-{part[1]}",
            daemon=True,
        )
        for part in parts
    ]
    began = time.monotonic()
    for child in children:
        child.start()
    log.info("loadgen: %d terminals in %d processes", plan.terminals, len(children))
    done: list[LoadResult] = []
    try:
        while len(done) < len(children):
            if stop.is_set():
                halt.set()
            try:
                done.append(results.get(timeout=RESULT_POLL_S))
            except queue.Empty:
                if not any(child.is_alive() for child in children) and results.empty():
                    raise KioskError("loadgen: a worker process died without a result") from None
    finally:
        halt.set()
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    return LoadResult(
        terminals=sum(r.terminals for r in done),
        committed=sum(r.committed for r in done),
        unacknowledged=sum(r.unacknowledged for r in done),
        commit_s=max(r.commit_s for r in done),
        total_s=time.monotonic() - began,
        delivered=all(r.delivered for r in done),
        broker=plan.broker_url,
        data_dir=str(plan.data_dir),
        processes=len(children),
    )


def _child(
    plan: LoadPlan, base: Config, halt: ProcessEvent, results: Any, level: int
) -> None:  # pragma: no cover - runs in a child process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()

    def follow_the_parent() -> None:
        # Polled, not halt.wait(): a process that dies inside Event.wait() leaves
        # multiprocessing's Event.set() in the parent blocked for ever.
        while not stop.wait(RESULT_POLL_S):
            if halt.is_set():
                stop.set()

    threading.Thread(target=follow_the_parent, daemon=True).start()
    try:
        results.put(LoadGenerator(plan, base, stop).run())
    finally:
        stop.set()
