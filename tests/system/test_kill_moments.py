"""``kill -9`` of the sending process at chosen and random moments, then a restart.

``kiosk loadgen`` (one synthetic terminal: the real outbox, the real sync) runs as a real
process against a real mosquitto and the reference receiver, and is killed with SIGKILL:

A. after commit, before publish: the broker is black-holed behind a TCP proxy, events pile up
   ``pending``;
B. after publish, before the central ack: no receiver runs (nor has a session at the broker),
   so the batches go nowhere; events are ``sent``, never acknowledged, and only the terminal's
   resend after its restart can deliver them;
C. at random moments of seeded rounds: during start-up, mid-commit, mid-batch, mid-ack.

A last run with ``--count 0`` (commit nothing, deliver what is left) must end with every
committed event stored centrally exactly once, ``seq`` 1..N without a gap, and nothing
unacknowledged in the outbox.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from central.receiver.store import ReceiverStore
from terminal.store.outbox import Outbox, OutboxRow
from tests.delivery_tools import ReceiverThread, wait_for
from tests.kill_tools import Loadgens, kill9, outbox_state, write_config
from tests.mosquitto import Mosquitto
from tests.tcp_proxy import TcpProxy

TERMINAL = "kiosk-001"
SEED = 20_404
ROUNDS = 8
RATES = (None, 150.0, 400.0)
"""Check-ins per second in the random rounds; None: as fast as they commit."""


def test_kill_9_at_any_moment_loses_and_duplicates_nothing(tmp_path: Path, broker: Mosquitto):
    rng = random.Random(SEED)
    central = tmp_path / "central.db"
    db = tmp_path / "data" / TERMINAL / "kiosk.db"
    config = write_config(tmp_path / "kiosk.toml")
    runs = Loadgens(config, tmp_path / "data", tmp_path / "logs")
    receiver = ReceiverThread(broker.url, central)
    proxy = TcpProxy(broker.port)
    try:
        _kill_after_commit_before_publish(runs, db, proxy)
        _kill_after_publish_before_ack(runs, db, broker.url, central)
        receiver.start()
        moments = [_kill_at_random(runs, db, broker.url, rng) for _ in range(ROUNDS)]
        final = runs.start(broker.url, "--count", "0", "--timeout", "60")
        assert final.wait(timeout=90) == 0, f"kills: {moments}\n{runs.tail()}"
    finally:
        runs.kill_all()
        receiver.stop()
        proxy.close()
    _check_exactly_once(db, central, moments)


def _kill_after_commit_before_publish(runs: Loadgens, db: Path, proxy: TcpProxy) -> None:
    proxy.blackhole()
    process = runs.start(proxy.url, "--count", "1000", "--rate", "100")
    wait_for(lambda: proxy.connections >= 1, 30, "the sync to connect (into the black hole)")
    wait_for(lambda: outbox_state(db)["pending"] >= 20, 30, "20 committed events")
    assert kill9(process) is None, runs.tail()
    state = outbox_state(db)
    assert state["pending"] >= 20 and state["sent"] == state["acked"] == 0, state


def _kill_after_publish_before_ack(runs: Loadgens, db: Path, url: str, central: Path) -> None:
    process = runs.start(url, "--count", "2000", "--rate", "200")
    wait_for(lambda: outbox_state(db)["sent"] >= 50, 30, "50 events published, not acked")
    assert kill9(process) is None, runs.tail()
    state = outbox_state(db)
    assert state["sent"] > 0 and state["acked"] == 0, state  # published, never acknowledged
    assert _stored(central) == [], "the receiver was down: nothing can be stored yet"


def _kill_at_random(runs: Loadgens, db: Path, url: str, rng: random.Random) -> dict[str, int]:
    """One round: start, wait a random moment, kill -9; the outbox state it left behind."""
    rate = rng.choice(RATES)
    args = ["--count", "1500"] + ([] if rate is None else ["--rate", str(rate)])
    before = outbox_state(db)["last_seq"]
    process = runs.start(url, *args)
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.1, 2.0))  # often still starting up
    else:
        wait_for(
            lambda: outbox_state(db)["last_seq"] > before or process.poll() is not None,
            30,
            "the first commit of this run",
        )
        time.sleep(rng.uniform(0.0, 1.0))
    ended = kill9(process)
    assert ended in (None, 0), f"loadgen failed by itself ({ended}):\n{runs.tail()}"
    return {**outbox_state(db), "committed_before": before, "ended": int(ended is not None)}


def _stored(central: Path) -> list[dict[str, Any]]:
    store = ReceiverStore(central)
    try:
        assert store.rejects() == [], "the receiver rejected something"
        return store.events()
    finally:
        store.close()


def _committed(db: Path) -> tuple[list[OutboxRow], dict[str, int]]:
    outbox = Outbox.open(db, TERMINAL, "lab")
    try:
        return outbox.rows(), outbox.counts()
    finally:
        outbox.close()


def _check_exactly_once(db: Path, central: Path, moments: list[dict[str, int]]) -> None:
    rows, counts = _committed(db)
    stored = _stored(central)
    context = f"kills: {moments}, outbox: {counts}"
    assert counts["pending"] == counts["sent"] == 0, context
    assert len(rows) >= 70, context  # phases A and B alone commit that many
    committed = {(str(r.event.event_id), r.event.seq, r.event.person_id) for r in rows}
    received = [(str(e["event_id"]), e["seq"], e["person_id"]) for e in stored]
    assert len({event_id for event_id, _, _ in received}) == len(received), context
    assert set(received) == committed, context  # same ids, same seqs, same people
    assert len(received) == len(committed), context
    assert {e["terminal_id"] for e in stored} == {TERMINAL}, context
    seqs = sorted(seq for _, seq, _ in received)
    assert seqs == list(range(1, len(rows) + 1)), f"seq gaps or repeats; {context}"
    assert outbox_state(db)["last_seq"] == len(rows), f"a seq was handed out and lost; {context}"
