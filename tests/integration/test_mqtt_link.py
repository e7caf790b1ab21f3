"""MqttLink against a real mosquitto: an honest connected flag, PUBACK reason codes, TLS.

Broker URLs and topics, without a broker: tests/unit/test_broker_urls.py. A link whose
socket is numbered past 1023 (select() cannot watch it): the last test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from common.mqtt.broker_url import TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.types import (
    Connected,
    Disconnected,
    LinkEvent,
    LinkOptions,
    Message,
    PublishResult,
    Subscribed,
)
from tests.delivery_tools import broker_readable_dir
from tests.mosquitto import Mosquitto, free_port, wait_for_port


def _poll_until(link: MqttLink, *wanted: type, timeout: float = 15.0) -> list[LinkEvent]:
    """Poll until an event of each ``wanted`` type has been seen; return all events seen."""
    seen: list[LinkEvent] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(link.poll(0.05))
        if all(any(isinstance(event, kind) for event in seen) for kind in wanted):
            return seen
    raise AssertionError(f"not all of {wanted} within {timeout} s; saw {seen}")


def _options(url: str, **changes: Any) -> LinkOptions:
    base = LinkOptions(url=url, client_id="link-test", reconnect_min_s=0.05, reconnect_max_s=0.2)
    return dataclasses.replace(base, **changes)


def test_connected_flag_follows_the_broker(broker: Mosquitto):
    broker.kill()
    link = MqttLink(_options(broker.url, subscriptions=(("t/#", 1),)))
    for _ in range(5):
        assert link.poll(0.05) == [] and not link.connected
    assert "Connection refused" in (link.last_error or "")
    assert link.publish("t/x", b"1") is None
    broker.start()
    _poll_until(link, Subscribed)
    assert link.connected and link.last_error is None
    mid = link.publish("t/x", b"hello")
    events = _poll_until(link, Message, PublishResult)
    assert any(isinstance(e, PublishResult) and e.mid == mid and e.ok for e in events)
    assert [e.payload for e in events if isinstance(e, Message)] == [b"hello"]
    broker.kill()
    _poll_until(link, Disconnected)
    assert not link.connected and link.outstanding == 0
    broker.start()
    _poll_until(link, Connected)
    link.close()
    assert not link.connected


def test_a_refused_publish_reports_the_reason_code(broker: Mosquitto):
    link = MqttLink(_options(broker.url))
    _poll_until(link, Connected)
    allowed = link.publish("ok/topic", b"1")
    refused = link.publish("$SYS/not-allowed", b"1")  # mosquitto refuses client $SYS publishes
    results: dict[int, PublishResult] = {}
    deadline = time.monotonic() + 10
    while len(results) < 2 and time.monotonic() < deadline:
        for event in link.poll(0.05):
            if isinstance(event, PublishResult):
                results[event.mid] = event
    assert allowed is not None and refused is not None
    assert results[allowed].ok
    assert not results[refused].ok and results[refused].reason_code >= 0x80
    assert link.outstanding == 0
    link.close()


def test_only_the_owner_thread_may_use_a_link(broker: Mosquitto):
    link = MqttLink(_options(broker.url))
    _poll_until(link, Connected)
    errors: list[BaseException] = []

    def intruder() -> None:
        try:
            link.publish("t/x", b"1")
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=intruder)
    thread.start()
    thread.join(10)
    assert len(errors) == 1
    link.close()


def _make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1, readable by mosquitto."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *curve, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test-ca")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("req", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "san.ext",
    )  # fmt: skip
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


def test_mqtts_verifies_the_broker_certificate(tmp_path: Path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    with broker_readable_dir() as readable:
        ca, cert, key = _make_certificates(readable)
        port = free_port()
        listener = f"listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        server = Mosquitto(tmp_path / "broker", extra_conf=listener)
        server.start()
        try:
            wait_for_port(port)
            _check_tls(f"mqtts://127.0.0.1:{port}", ca)
        finally:
            server.kill()


def _check_tls(url: str, ca: Path) -> None:
    trusted = MqttLink(_options(url, tls=TlsOptions(ca_file=ca)))
    _poll_until(trusted, Connected)
    trusted.close()
    untrusted = MqttLink(_options(url, client_id="untrusted"))  # the system CAs only
    deadline = time.monotonic() + 10
    while "CERTIFICATE_VERIFY_FAILED" not in (untrusted.last_error or ""):
        assert time.monotonic() < deadline, untrusted.last_error
        assert not untrusted.poll(0.05)
    assert not untrusted.connected


def test_a_refused_connection_is_reported(tmp_path: Path):
    server = Mosquitto(tmp_path / "broker", extra_conf="allow_anonymous false\n")
    server.start()
    try:
        link = MqttLink(_options(server.url))
        deadline = time.monotonic() + 10
        while "refused the connection" not in (link.last_error or ""):
            assert time.monotonic() < deadline, link.last_error
            assert not link.poll(0.05)
        assert "Not authorized" in (link.last_error or "") and not link.connected
    finally:
        server.kill()


@contextmanager
def _descriptors_taken_up_to(highest: int) -> Iterator[None]:
    """Every descriptor up to ``highest`` in use (copies of /dev/null), the soft limit raised
    for it, so that the next socket this process opens is numbered above ``highest``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = highest + 256
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.fail(f"the hard limit on open files ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    taken: list[int] = []
    try:
        while not taken or taken[-1] < highest:
            taken.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _socket_descriptors() -> set[int]:
    """This process's open descriptors that are sockets."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                found.add(int(name))
    return found


def test_a_link_connects_and_reconnects_on_descriptors_above_1023(broker: Mosquitto):
    """paho's own loop() waits with select(), which cannot watch a descriptor past 1023: a
    kiosk with that many files open (a flood of screen clients) could never connect again."""
    with _descriptors_taken_up_to(1100):
        before = _socket_descriptors()
        link = MqttLink(_options(broker.url, subscriptions=(("t/#", 1),)))
        _poll_until(link, Subscribed)
        assert min(_socket_descriptors() - before) > 1100  # the premise: its socket is up there
        mid = link.publish("t/high", b"above 1023")
        events = _poll_until(link, Message, PublishResult)
        assert any(isinstance(e, PublishResult) and e.mid == mid and e.ok for e in events)
        assert [e.payload for e in events if isinstance(e, Message)] == [b"above 1023"]
        broker.kill()
        _poll_until(link, Disconnected)
        broker.start()
        _poll_until(link, Subscribed)
        assert link.publish("t/high", b"again") is not None
        _poll_until(link, PublishResult)
        link.close()
