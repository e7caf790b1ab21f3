"""The link between kiosk and broker breaking under load: partitions, half-open links, resets.

A real mosquitto, the reference receiver (connected directly) and the kiosk's sync worker
connected through :class:`tests.tcp_proxy.TcpProxy`. After each fault heals, every committed
event is in the receiver's database exactly once, ``seq`` has no gap, and the outbox holds no
unacknowledged event.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from central.receiver.service import Receiver, ReceiverStore
from common.mqtt.broker_url import BrokerAddress
from models.messages import CheckInEvent
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Threads, commit, make_config, wait_for
from tests.mosquitto import Mosquitto
from tests.tcp_proxy import TcpProxy

VERSION = "9.9.9-test"


@pytest.fixture
def proxy(broker: Mosquitto) -> Iterator[TcpProxy]:
    forwarder = TcpProxy(BrokerAddress.parse(broker.url).port)
    yield forwarder
    forwarder.close()


def _everything_once(store: ReceiverStore, outbox: Outbox, events: list[CheckInEvent]) -> None:
    rows = store.events()
    assert len(rows) == store.count() == len(events)
    assert {r["event_id"] for r in rows} == {str(e.event_id) for e in events}
    assert sorted(r["seq"] for r in rows) == list(range(1, len(events) + 1))
    assert [(t.events, t.missing) for t in store.terminals()] == [(len(events), 0)]
    assert outbox.counts() == {"pending": 0, "sent": 0, "acked": len(events)}


def _more_connections_than(proxy: TcpProxy, count: int) -> Callable[[], bool]:
    return lambda: proxy.connections > count


def _start(
    threads: Threads, broker: Mosquitto, proxy: TcpProxy, tmp_path: Path, **mqtt: float
) -> tuple[Outbox, ReceiverStore, SyncWorker]:
    config = make_config(tmp_path / "kiosk", proxy.url, "kiosk-01", **mqtt)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    central = tmp_path / "central.db"
    # A slow central side (5 ms per new event), so delivery lasts long enough to be broken.
    receiver = Receiver(
        broker.url, central, client_id="central-test", on_event=lambda _e: time.sleep(0.005)
    )
    threads.start(lambda: receiver.run(threads.stop), "rx")
    assert receiver.ready.wait(10), "the receiver did not subscribe"
    worker = SyncWorker(config, threads.stop, VERSION)
    threads.start(worker.run, "sync")
    return outbox, ReceiverStore(central), worker


def test_a_half_open_link_is_noticed_and_nothing_is_lost(
    tmp_path: Path, broker: Mosquitto, proxy: TcpProxy
) -> None:
    with Threads() as threads:
        outbox, store, worker = _start(
            threads, broker, proxy, tmp_path, keepalive_s=5, batch_size=10, ack_timeout_s=2
        )
        events = commit(outbox, 30)
        wait_for(lambda: outbox.counts()["acked"] == 30, what="the first 30 acked")
        connections = proxy.connections
        proxy.blackhole()
        # Committed while the link looks up but carries nothing: keepalive must notice.
        events += commit(outbox, 40, start=31)
        wait_for(lambda: not worker.state.connected, timeout=40, what="the dead link noticed")
        assert outbox.counts()["acked"] == 30
        proxy.heal()
        wait_for(lambda: outbox.counts()["acked"] == 70, timeout=60, what="all 70 acked")
        assert proxy.connections > connections, "the kiosk never reconnected"
    _everything_once(store, outbox, events)


def test_repeated_resets_during_delivery_lose_and_duplicate_nothing(
    tmp_path: Path, broker: Mosquitto, proxy: TcpProxy
) -> None:
    with Threads() as threads:
        outbox, store, _worker = _start(
            threads, broker, proxy, tmp_path, batch_size=20, ack_timeout_s=2
        )
        events = commit(outbox, 400)
        resets = 0
        while outbox.counts()["acked"] < 400 and resets < 8:
            wait_for(_more_connections_than(proxy, resets), timeout=30, what="a reconnect")
            time.sleep(0.2)  # let some batches through, then cut them off mid-flight
            proxy.reset()
            resets += 1
            events += commit(outbox, 5, start=len(events) + 1)
        assert resets >= 2, "delivery finished before the link broke: the test proves nothing"
        wait_for(lambda: outbox.backlog() == 0, timeout=90, what="the backlog to drain")
    _everything_once(store, outbox, events)


def test_a_stalled_link_delivers_once_it_flows_again(
    tmp_path: Path, broker: Mosquitto, proxy: TcpProxy
) -> None:
    with Threads() as threads:
        outbox, store, _worker = _start(
            threads, broker, proxy, tmp_path, keepalive_s=30, batch_size=10, ack_timeout_s=1
        )
        events = commit(outbox, 10)
        wait_for(lambda: outbox.counts()["acked"] == 10, what="the first 10 acked")
        proxy.stall()
        events += commit(outbox, 60, start=11)
        # Unacknowledged batches are sent again after ack_timeout_s; they pile up unread.
        wait_for(lambda: max(r.attempts for r in outbox.rows()) >= 2, what="a resend")
        proxy.heal()
        wait_for(lambda: outbox.backlog() == 0, timeout=60, what="the backlog to drain")
    _everything_once(store, outbox, events)
