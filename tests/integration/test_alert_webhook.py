"""Alerts POSTed to an HTTP webhook: a real local gateway (http.server in a thread), retries,
the Idempotency-Key, the durable record, and ``kiosk alerts --webhook``.

The MQTT path alone: tests/integration/test_alerts.py. No timing is asserted: the backoff is
a few milliseconds here.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from central.alerts.publish import AlertPublisher, SentAlerts
from central.alerts.webhook import WebhookOptions, retry_after_s
from cli.main import main
from common.mqtt.types import LinkOptions
from models.alert import Alert
from models.schedule import Schedule
from tests.alert_tools import running_session_db
from tests.delivery_tools import Probe, wait_for
from tests.mosquitto import Mosquitto
from tests.tls_tools import Pki

DROP = "drop"
"""A gateway reply: take the alert, then close the connection without answering."""
SLOW = "slow"
"""A gateway reply: take the alert, then answer 200 after :data:`SLOW_S` (past the timeout)."""
SLOW_S = 1.0

Reply = int | str
Script = Callable[[str, int], Reply]
"""What the gateway answers to the ``n``-th POST (from 1) with an Idempotency-Key."""


@dataclass(frozen=True)
class Post:
    """One POST the gateway received."""

    key: str
    headers: dict[str, str]
    alert: dict[str, Any]


class Gateway:
    """The HR system's SMS gateway: records every POST, answers as ``script`` says, and delivers
    each Idempotency-Key once (a repeat is answered 200 and dropped)."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.posts: list[Post] = []
        self.delivered: dict[str, dict[str, Any]] = {}
        self.repeats = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self._server.server_port}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def keys(self) -> Counter[str]:
        """How many POSTs each Idempotency-Key got."""
        with self._lock:
            return Counter(post.key for post in self.posts)

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _receive(self, headers: dict[str, str], body: bytes) -> Reply:
        alert = json.loads(body)
        key = headers.get("Idempotency-Key", "")
        with self._lock:
            self.posts.append(Post(key, headers, alert))
            reply = self.script(key, sum(1 for post in self.posts if post.key == key))
            if reply in (DROP, SLOW) or 200 <= int(reply) < 300:
                if key in self.delivered:
                    self.repeats += 1
                else:
                    self.delivered[key] = alert
        return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reply = gateway._receive(dict(self.headers.items()), body)
                if reply == DROP:
                    self.close_connection = True
                    return
                if reply == SLOW:
                    time.sleep(SLOW_S)
                    reply = 200
                self.send_response(int(reply))
                if reply == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    """The central db and schedule of :func:`running_session_db`: three alerts are due."""
    return running_session_db(tmp_path)


@pytest.fixture
def gateways() -> Iterator[Callable[..., Gateway]]:
    """Start gateways (``Gateway(script, tls)``); all are closed at the end of the test."""
    started: list[Gateway] = []

    def start(script: Script = lambda _key, _n: 200, tls: ssl.SSLContext | None = None) -> Gateway:
        gateway = Gateway(script, tls)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.close()


def _options(url: str, **changes: Any) -> WebhookOptions:
    settings: dict[str, Any] = {"timeout_s": 5.0, "backoff_min_s": 0.01, "backoff_max_s": 0.05}
    return WebhookOptions(url, **{**settings, **changes})


def _run(
    setup: tuple[str | Path, Path],
    webhook: WebhookOptions,
    rounds: int = 2,
    mqtt: LinkOptions | None = None,
) -> AlertPublisher:
    """Run a publisher until it completed ``rounds`` webhook rounds (and MQTT rounds)."""
    db, schedule_file = setup
    schedule = Schedule.model_validate_json(schedule_file.read_text(encoding="utf-8"))
    publisher = AlertPublisher(mqtt, db, schedule, every_s=0.1, webhook=webhook)
    stop = threading.Event()
    thread = threading.Thread(target=publisher.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: publisher.webhook_rounds >= rounds and (mqtt is None or publisher.rounds >= 2),
            what=f"{rounds} rounds of the publisher",
        )
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    return publisher


def _recorded(db: Path) -> dict[str, int]:
    """``webhook_sent``: the attempts of each alert id."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT alert_id, attempts FROM webhook_sent").fetchall())


def test_every_due_alert_arrives_once_with_its_key_and_not_again_after_a_restart(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway]
):
    gateway = gateways()
    publisher = _run(setup, _options(gateway.url))
    assert publisher.posted == 3 and len(gateway.posts) == 3
    for post in gateway.posts:
        alert = Alert.model_validate(post.alert)
        assert post.key == str(alert.alert_id)
        assert post.headers["Content-Type"] == "application/json"
        assert "Authorization" not in post.headers
    kinds = sorted((a["kind"], a["person_id"]) for a in gateway.delivered.values())
    assert kinds == [("absent", "E2"), ("absent", "E3"), ("low_participation", None)]
    assert _recorded(setup[0]) == {key: 1 for key in gateway.delivered}
    # A restart (a new publisher, the same database): nothing is posted again.
    assert _run(setup, _options(gateway.url)).posted == 0
    assert len(gateway.posts) == 3


def test_a_gateway_failing_twice_gets_the_alert_on_the_third_try_recorded_once(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway]
):
    gateway = gateways(lambda _key, n: 500 if n <= 2 else 200)
    _run(setup, _options(gateway.url))
    assert list(gateway.keys().values()) == [3, 3, 3]
    assert len(gateway.delivered) == 3 and gateway.repeats == 0
    assert _recorded(setup[0]) == {key: 3 for key in gateway.delivered}


@pytest.mark.parametrize("lost", [DROP, SLOW])
def test_an_answer_lost_is_posted_again_with_the_same_key_and_the_gateway_drops_it(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway], lost: str
):
    gateway = gateways(lambda _key, n: lost if n == 1 else 200)
    _run(setup, _options(gateway.url, timeout_s=SLOW_S / 4))
    assert list(gateway.keys().values()) == [2, 2, 2]
    assert len(gateway.delivered) == 3 and gateway.repeats == 3
    assert _recorded(setup[0]) == {key: 2 for key in gateway.delivered}


def test_429_is_retried_after_its_retry_after(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway]
):
    gateway = gateways(lambda _key, n: 429 if n == 1 else 201)
    _run(setup, _options(gateway.url))
    assert list(gateway.keys().values()) == [2, 2, 2]
    assert len(_recorded(setup[0])) == 3


def test_retry_after_is_read_in_seconds_or_as_a_date():
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert retry_after_s("120", now) == 120
    assert retry_after_s(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert retry_after_s(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert retry_after_s("soon", now) is None
    assert retry_after_s(None, now) is None


def test_a_refused_alert_is_logged_and_not_posted_again(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway], caplog: pytest.LogCaptureFixture
):
    gateway = gateways(lambda _key, _n: 400)
    with caplog.at_level(logging.ERROR, logger="central.alerts.publish"):
        publisher = _run(setup, _options(gateway.url), rounds=3)
    assert list(gateway.keys().values()) == [1, 1, 1]
    assert publisher.refused == 3 and publisher.posted == 0
    assert _recorded(setup[0]) == {}
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 3 and all("HTTP 400" in line for line in refusals)


def test_alerts_wait_for_the_next_round_while_the_gateway_is_unavailable(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway]
):
    posts = Counter[str]()

    def down_for_four_posts(key: str, _n: int) -> Reply:
        posts["all"] += 1
        return 503 if posts["all"] <= 4 else 200

    gateway = gateways(down_for_four_posts)
    _run(setup, _options(gateway.url, attempts=2), rounds=3)
    first = gateway.posts[0].key
    # Two rounds of two POSTs of the first alert, the others waiting; then every alert.
    assert [post.key for post in gateway.posts[:5]] == [first] * 5
    assert sorted(gateway.keys().values()) == [1, 1, 5]
    assert _recorded(setup[0])[first] == 5 and len(gateway.delivered) == 3


def test_the_bearer_token_goes_over_https_checked_with_the_ca_file(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway], pki: Pki
):
    server = pki.server("gateway")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(server.cert, server.key)
    gateway = gateways(tls=tls)
    assert gateway.url.startswith("https://")
    _run(setup, _options(gateway.url, token="s3cret", ca_file=pki.ca_file))
    assert len(gateway.delivered) == 3
    assert {post.headers["Authorization"] for post in gateway.posts} == {"Bearer s3cret"}


def test_mqtt_and_the_webhook_both_get_every_alert(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway], broker: Mosquitto
):
    gateway = gateways()
    probe = Probe(broker.url)
    probe.subscribe("attendance/v1/alerts")
    try:
        mqtt = LinkOptions(url=broker.url, client_id="alerts-both", reconnect_min_s=0.1)
        publisher = _run(setup, _options(gateway.url), mqtt=mqtt)
        wait_for(lambda: len(probe.payloads("attendance/v1/alerts")) >= 3, what="the alerts")
    finally:
        probe.close()
    published = {json.loads(p)["alert_id"] for p in probe.payloads("attendance/v1/alerts")}
    assert publisher.published == 3 and publisher.posted == 3
    assert published == set(gateway.delivered) and len(gateway.posts) == 3


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--no-mqtt"], "--no-mqtt needs --webhook"),
        ([], "give --broker, --webhook or both"),
        (["--webhook", "ftp://gw.example/a"], "not an http:// or https:// URL"),
        (["--webhook", "http://gw.example/a", "--webhook-ca-file", "{ca}"], "needs an https://"),
        (["--broker", "mqtt://127.0.0.1:1", "--webhook-ca-file", "{ca}"], "need --webhook"),
    ],
)
def test_kiosk_alerts_webhook_usage_errors(
    setup: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
):
    db, schedule_file = setup
    ca = db.parent / "ca.pem"
    ca.write_text("not used", encoding="utf-8")
    base = ["alerts", "--db", str(db), "--schedule", str(schedule_file)]
    assert main([*base, *(flag.format(ca=ca) for flag in flags)]) == 2
    assert message in capsys.readouterr().err


def test_kiosk_alerts_no_mqtt_posts_with_the_token_file_until_sigterm(
    setup: tuple[Path, Path], gateways: Callable[..., Gateway]
):
    db, schedule_file = setup
    gateway = gateways()
    token_file = db.parent / "webhook.token"
    token_file.write_text("t0ken\n", encoding="utf-8")
    # As the packaged unit runs it: --broker is always given, --no-mqtt turns MQTT off.
    command = [sys.executable, "-m", "cli", "alerts", "--broker", "mqtt://127.0.0.1:1"]
    command += ["--db", str(db), "--schedule", str(schedule_file), "--every", "0.2", "--no-mqtt"]
    command += ["--webhook", gateway.url, "--webhook-token-file", str(token_file)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(lambda: len(gateway.delivered) == 3, what="the alerts at the gateway")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output.decode()
    assert {post.headers["Authorization"] for post in gateway.posts} == {"Bearer t0ken"}
    assert len(gateway.posts) == 3


def test_kiosk_alerts_on_postgresql_posts_each_alert_once_across_a_restart(
    tmp_path: Path, postgres_url: str, gateways: Callable[..., Gateway]
):
    _, schedule_file = running_session_db(tmp_path, postgres_url)
    gateway = gateways()
    command = [sys.executable, "-m", "cli", "alerts", "--db", postgres_url]
    command += ["--schedule", str(schedule_file), "--every", "0.2", "--webhook", gateway.url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: len(gateway.delivered) == 3, what="the alerts at the gateway")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output.decode()
    sent = SentAlerts(postgres_url, "webhook_sent")
    assert sent.ids() == set(gateway.delivered)
    sent.close()
    # A restart on the same database: two full rounds, nothing posted again.
    assert _run((postgres_url, schedule_file), _options(gateway.url), rounds=2).posted == 0
    assert len(gateway.posts) == 3
