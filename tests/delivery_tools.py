"""Helpers for the delivery tests: threads sharing a stop event, waiting, a test MQTT client,
the reference receiver in a thread."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from central.receiver.service import Receiver
from common.errors import StoreFullError
from common.mqtt.broker_url import BrokerAddress
from models.messages import CheckInEvent, Method
from terminal.config import Config
from terminal.store.outbox import CheckInDraft, Outbox


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "it") -> None:
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def broker_readable_dir() -> Iterator[Path]:
    """A temporary directory mosquitto can read even after dropping root to its own user."""
    directory = Path(tempfile.mkdtemp(prefix="kiosk-broker-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def make_config(data_dir: Path, url: str, terminal_id: str = "kiosk-01", **mqtt: Any) -> Config:
    """A config for one terminal delivering to ``url`` with fast reconnects."""
    section = {"url": url, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5, **mqtt}
    return Config.model_validate(
        {
            "terminal": {"id": terminal_id, "site": "hq"},
            "storage": {"data_dir": str(data_dir)},
            "mqtt": section,
        }
    )


def commit(outbox: Outbox, count: int, start: int = 1) -> list[CheckInEvent]:
    """Commit ``count`` face check-ins of people E{start}... and return them."""
    return [
        outbox.commit_checkin(
            CheckInDraft(f"E{start + i}", Method.FACE, datetime.now(UTC), 0.3812), True
        )
        for i in range(count)
    ]


def fill_until_full(outbox: Outbox, refusals: int = 300) -> list[int]:
    """Commit check-ins into a capped outbox until ``refusals`` in a row are refused as full.

    One refusal is not enough: a new ``event_id`` lands at a random place in its index, where
    a page may still have room. Returns the committed seqs.
    """
    seqs: list[int] = []
    in_a_row = 0
    while in_a_row < refusals:
        assert len(seqs) < 100_000, "the outbox never filled up: is it capped?"
        try:
            event = outbox.commit_checkin(
                CheckInDraft(f"E{len(seqs) % 9000 + 1000}", Method.QR, datetime.now(UTC)), True
            )
        except StoreFullError:
            in_a_row += 1
        else:
            seqs.append(event.seq)
            in_a_row = 0
    return seqs


class Threads:
    """Runs callables in threads that stop together; re-raises the first error on exit."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Start ``target`` in a new thread."""

        def guarded() -> None:
            try:
                target()
            except BaseException:
                self.errors.append(f"{name}: {traceback.format_exc()}")

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def __enter__(self) -> Threads:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
            assert not thread.is_alive(), f"{thread.name} did not stop"
        if kind is None:
            assert not self.errors, "\n".join(self.errors)


class Probe:
    """A test-side MQTT client (paho's background thread): raw publishes, collected messages."""

    def __init__(self, url: str, client_id: str = "test-probe") -> None:
        address = BrokerAddress.parse(url)
        self.received: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        wait_for(self.client.is_connected, 10, "the probe to connect")

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.received.append(message)

    def subscribe(self, topic: str) -> None:
        """Subscribe at QoS 1 and wait for the SUBACK."""
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout=10)
        assert info.is_published(), f"publish on {topic} not acknowledged"

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads received so far on ``topic``."""
        with self._lock:
            return [bytes(m.payload) for m in self.received if m.topic == topic]

    def close(self) -> None:
        """Disconnect and stop paho's thread."""
        self.client.disconnect()
        self.client.loop_stop()


class ReceiverThread:
    """The reference receiver in a thread, stopped and started again with the same persistent
    session (client id), so batches published while it is down wait at the broker."""

    def __init__(self, url: str, db: Path, client_id: str = "central-kill") -> None:
        self.url, self.db, self.client_id = url, db, client_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start receiving; return once subscribed."""
        receiver = Receiver(self.url, self.db, client_id=self.client_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=receiver.run, args=(self._stop,), name="receiver", daemon=True
        )
        self._thread.start()
        assert receiver.ready.wait(15), "the receiver did not subscribe"

    def stop(self) -> None:
        """Stop receiving (a no-op when not running)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the receiver did not stop"
        self._thread = None


@contextmanager
def running_receiver(url: str, db: Path, client_id: str) -> Iterator[ReceiverThread]:
    """The reference receiver (persistent session ``client_id``) in a thread, subscribed when
    the block starts, stopped when it ends."""
    receiver = ReceiverThread(url, db, client_id)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
