"""The receiver away for longer than the broker will queue for it: nothing is lost.

Mosquitto keeps at most ``max_queued_messages`` for an offline persistent session and drops
the rest without telling the publisher (it already sent PUBACK). The terminal treats only
the receiver's end-to-end ack as delivery, so what the broker dropped is sent again.
"""

from __future__ import annotations

from pathlib import Path

from central.receiver.store import ReceiverStore
from devtools.local_broker import Mosquitto
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Threads, commit, make_config, running_receiver, wait_for

QUEUE_LIMIT = 5
EVENTS = 60
RECEIVER_ID = "central-away"


def test_a_receiver_away_past_the_broker_queue_limit_gets_every_event_once(tmp_path: Path):
    broker = Mosquitto(tmp_path / "broker", extra_conf=f"max_queued_messages {QUEUE_LIMIT}\n")
    broker.start()
    central = tmp_path / "central.db"
    config = make_config(tmp_path / "kiosk", broker.url, batch_size=2, ack_timeout_s=2)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    try:
        with running_receiver(broker.url, central, RECEIVER_ID):
            pass  # the session (and its subscription) now outlives the receiver
        events = commit(outbox, EVENTS)
        with Threads() as threads:
            threads.start(SyncWorker(config, threads.stop, "test").run, "sync")
            log = tmp_path / "broker" / "mosquitto.log"
            wait_for(
                lambda: "Outgoing messages are being dropped" in log.read_text(),
                what="the broker to drop messages past its queue limit",
            )
            assert outbox.counts()["acked"] == 0, "nobody can have acknowledged yet"
            with running_receiver(broker.url, central, RECEIVER_ID):
                wait_for(
                    lambda: outbox.counts()["acked"] == EVENTS,
                    timeout=60,
                    what="every event acknowledged end to end",
                )
        stored = ReceiverStore(central)
        rows = stored.events()
        assert sorted(r["event_id"] for r in rows) == sorted(str(e.event_id) for e in events)
        assert sorted(r["seq"] for r in rows) == list(range(1, EVENTS + 1))
        assert outbox.counts() == {"pending": 0, "sent": 0, "acked": EVENTS}
    finally:
        outbox.close()
        broker.kill()
