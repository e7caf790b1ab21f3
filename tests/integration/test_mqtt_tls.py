"""TLS on the MQTT link: mutual TLS end to end, wrong CAs refused, the shipped ACL enforced.

Every broker here runs the security settings of ``systemd/mosquitto-kiosk.conf`` and its ACL
file ``systemd/mosquitto-kiosk.acl`` (see tests/tls_tools.py), with certificates made per test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from central.receiver.service import Receiver, ReceiverStore
from cli.main import main
from common.errors import ConfigError
from common.mqtt.types import Connected, Message, PublishResult, Subscribed
from devtools.local_broker import BrokerTls, Mosquitto
from models.messages import CheckInEvent
from terminal.config import Config, parse_config
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from terminal.sync.messages import batch_payload
from terminal.sync.uplink import SyncWorker
from tests.consent_tools import ON_DEVICE
from tests.delivery_tools import Threads, commit, make_config, wait_for
from tests.tls_tools import (
    REPO,
    SHIPPED_ACL,
    Identity,
    Pki,
    link,
    poll_until,
    shipped_sections,
    shipped_settings,
)

VERSION = "9.9.9-test"


def _terminal(
    tmp_path: Path, url: str, terminal_id: str, ca: Path, identity: Identity | None, **mqtt: Any
) -> Config:
    files = {"cert_file": str(identity.cert), "key_file": str(identity.key)} if identity else {}
    return make_config(tmp_path / terminal_id, url, terminal_id, ca_file=str(ca), **files, **mqtt)


def _central(url: str, pki: Pki, db: Path, **kwargs: object) -> Receiver:
    tls = pki.tls(pki.client("central"))
    return Receiver(url, db, client_id="central-test", tls=tls, **kwargs)  # type: ignore[arg-type]


def test_check_ins_travel_over_mutual_tls_end_to_end(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto
):
    assert tls_broker.url.startswith("mqtts://")
    config = _terminal(tmp_path, tls_broker.url, "kiosk-01", pki.ca_file, pki.client("kiosk-01"))
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    events = commit(outbox, 7)
    seen: list[CheckInEvent] = []
    with Threads() as threads:
        receiver = _central(tls_broker.url, pki, tmp_path / "central.db", on_event=seen.append)
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(20), "the receiver did not subscribe over TLS"
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_for(lambda: outbox.counts()["acked"] == 7, what="7 events acked over TLS")
        assert worker.state.connected and worker.state.last_error is None
    rows = ReceiverStore(tmp_path / "central.db").events()
    assert [r["event_id"] for r in rows] == [str(e.event_id) for e in events]
    assert sorted(e.seq for e in seen) == list(range(1, 8))


@pytest.mark.parametrize("case", ["wrong CA file", "certificate of another CA", "no certificate"])
def test_a_terminal_that_fails_tls_delivers_nothing_and_keeps_its_events(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto, case: str
):
    rogue = Pki(pki.directory.parent / "rogue", "Rogue CA")
    identity: Identity | None = pki.client("kiosk-01")
    if case == "certificate of another CA":  # the broker cannot verify the terminal
        identity = rogue.client("kiosk-01")
    elif case == "no certificate":
        identity = None
    ca = rogue.ca_file if case == "wrong CA file" else pki.ca_file  # cannot verify the broker
    config = _terminal(tmp_path, tls_broker.url, "kiosk-01", ca, identity)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    commit(outbox, 3)
    store = ReceiverStore(tmp_path / "central.db")
    with Threads() as threads:
        receiver = _central(tls_broker.url, pki, tmp_path / "central.db")
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(20), "the receiver did not subscribe over TLS"
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_for(lambda: "cannot connect" in (worker.state.last_error or ""), what="a failure")
        error = worker.state.last_error or ""
        assert ("CERTIFICATE_VERIFY_FAILED" in error) == (case == "wrong CA file"), error
        assert not worker.state.connected
    assert outbox.counts() == {"pending": 3, "sent": 0, "acked": 0}
    assert store.count() == 0


def test_the_acl_confines_a_terminal_to_its_own_topics(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto
):
    db = tmp_path / "central.db"
    kiosk_a = pki.client("kiosk-a")
    own = _terminal(tmp_path, tls_broker.url, "kiosk-a", pki.ca_file, kiosk_a)
    own_outbox = Outbox.open(own.database_path, "kiosk-a", "hq")
    own_events = commit(own_outbox, 3)
    Gallery(own_outbox.db).add_person("E1", "Wei", [np.ones(128, np.float32)], "sface", "d",
                                      ["camera"], consent=ON_DEVICE)  # fmt: skip
    # A terminal configured as kiosk-b but holding kiosk-a's certificate.
    fake = _terminal(tmp_path, tls_broker.url, "kiosk-b", pki.ca_file, kiosk_a)
    fake_outbox = Outbox.open(fake.database_path, "kiosk-b", "hq")
    forged = commit(fake_outbox, 2, start=100)
    intruder = link(tls_broker.url, "intruder", pki.tls(kiosk_a))
    poll_until(intruder, Connected, "kiosk-a's raw client to connect")
    refused = {}
    forbidden = ("kiosk-b/events", "kiosk-b/status", "kiosk-b/results", "kiosk-b/ack",
                 "kiosk-b/enrollments/E1")  # fmt: skip
    for topic in (*forbidden, "kiosk-a/ack"):
        intruder.publish(f"attendance/v1/{topic}", batch_payload("kiosk-b", forged))
        refused[topic] = poll_until(intruder, PublishResult, f"the PUBACK on {topic}").reason_code
    assert refused == dict.fromkeys(refused, 0x87)  # Not authorized
    with Threads() as threads:
        receiver = _central(tls_broker.url, pki, db)
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(20), "the receiver did not subscribe over TLS"
        worker = SyncWorker(own, threads.stop, VERSION)
        impostor = SyncWorker(fake, threads.stop, VERSION)
        threads.start(worker.run, "sync-a")
        threads.start(impostor.run, "sync-fake-b")
        wait_for(lambda: own_outbox.counts()["acked"] == 3, what="kiosk-a's own events acked")
        published = "SELECT published FROM enrollment_notices WHERE person_id = 'E1'"
        wait_for(lambda: own_outbox.db.conn.execute(published).fetchone() == (1,),
                 what="kiosk-a's enrollment notice published")  # fmt: skip
        refusal = "refused a batch of 2 events (Not authorized)"
        wait_for(lambda: refusal in (impostor.state.last_error or ""), what="the refusal")
    intruder.close()
    rows = ReceiverStore(db).events()
    assert [r["event_id"] for r in rows] == [str(e.event_id) for e in own_events]
    assert {r["terminal_id"] for r in rows} == {"kiosk-a"}
    assert fake_outbox.counts()["acked"] == 0


@pytest.mark.parametrize("kind", ["ack", "roster", "commands"])
def test_a_terminal_reads_only_its_own_acks_roster_and_commands(
    pki: Pki, tls_broker: Mosquitto, kind: str
):
    wildcard = ((f"attendance/v1/+/{kind}", 1), (f"attendance/v1/kiosk-b/{kind}", 1))
    reader = link(tls_broker.url, "kiosk-a", pki.tls(pki.client("kiosk-a")), subscriptions=wildcard)
    poll_until(reader, Subscribed, "kiosk-a's subscriptions")
    reader.publish(f"attendance/v1/kiosk-a/{kind}", b"forged")  # only the central user writes
    assert poll_until(reader, PublishResult, "the PUBACK").reason_code == 0x87
    answer = "results" if kind == "commands" else "status"  # the central user reads it
    statuses = ((f"attendance/v1/+/{answer}", 1),)
    central_tls = pki.tls(pki.client("central"))
    central = link(tls_broker.url, "central-test", central_tls, subscriptions=statuses)
    poll_until(central, Subscribed, "the central client's subscription")
    for terminal_id in ("kiosk-b", "kiosk-a"):  # in this order: kiosk-b's would arrive first
        central.publish(f"attendance/v1/{terminal_id}/{kind}", terminal_id.encode())
        assert poll_until(central, PublishResult, "the PUBACK").ok
    first = poll_until(reader, Message, f"kiosk-a's {kind}")
    assert (first.topic, first.payload) == (f"attendance/v1/kiosk-a/{kind}", b"kiosk-a")
    reader.publish(f"attendance/v1/kiosk-a/{answer}", b"online")
    assert poll_until(central, Message, answer).topic == f"attendance/v1/kiosk-a/{answer}"
    reader.close()
    central.close()


def _password_config(tmp_path: Path, url: str, pki: Pki, user: str, password: str) -> Config:
    secret = tmp_path / f"{user}.secret"
    secret.write_text(password + "\n")
    return make_config(
        tmp_path / user, url, user, ca_file=str(pki.ca_file), username=user, password_file=secret
    )


def test_a_terminal_logs_in_with_a_password_over_tls(tmp_path: Path, pki: Pki):
    passwords = pki.directory / "passwords"
    for user, create in (("kiosk-01", ["-c"]), ("central", [])):
        command = ["mosquitto_passwd", *create, "-b", str(passwords), user, f"{user}-pw"]
        subprocess.run(command, check=True)
    passwords.chmod(0o644)
    server = pki.server()
    tls = BrokerTls(pki.ca_file, server.cert, server.key)  # no client certificates
    broker = Mosquitto(tmp_path / "broker", tls=tls, password_file=passwords, acl_file=SHIPPED_ACL)
    broker.start()
    good = _password_config(tmp_path, broker.url, pki, "kiosk-01", "kiosk-01-pw")
    bad = _password_config(tmp_path, broker.url, pki, "kiosk-02", "guess")
    outbox = Outbox.open(good.database_path, "kiosk-01", "hq")
    commit(outbox, 2)
    db = tmp_path / "central.db"
    try:
        with Threads() as threads:
            receiver = Receiver(
                broker.url, db, username="central", password="central-pw", tls=pki.tls(None)
            )
            threads.start(lambda: receiver.run(threads.stop), "rx")
            assert receiver.ready.wait(20), "the receiver did not log in and subscribe"
            threads.start(SyncWorker(good, threads.stop, VERSION).run, "good")
            refused = SyncWorker(bad, threads.stop, VERSION)
            threads.start(refused.run, "bad")
            wait_for(lambda: outbox.counts()["acked"] == 2, what="delivery with a password")
            wait_for(lambda: "Not authorized" in (refused.state.last_error or ""), what="refusal")
            assert not refused.state.connected
    finally:
        broker.kill()
    assert ReceiverStore(db).count() == 2


def test_tls_keys_in_the_config(tmp_path: Path):
    base = '[mqtt]\nurl = "mqtts://broker.example:8883"\nca_file = "/etc/kiosk/ca.crt"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(base + 'cert_file = "/etc/kiosk/kiosk-01.crt"\n', "kiosk.toml")
    message = str(caught.value)
    assert message.startswith("kiosk.toml: mqtt: key_file is missing") and "\n" not in message
    with pytest.raises(ConfigError, match="cert_file is missing"):
        parse_config(base + 'key_file = "/etc/kiosk/kiosk-01.key"\n')
    with pytest.raises(ConfigError, match="mqtt: ca_file is set but the url is not mqtts://"):
        parse_config(base.replace("mqtts://broker.example:8883", "mqtt://broker.example"))
    both = 'cert_file = "/etc/kiosk/kiosk-01.crt"\nkey_file = "/etc/kiosk/kiosk-01.key"\n'
    mqtt = parse_config(base + both).mqtt
    assert mqtt is not None and mqtt.key_file == Path("/etc/kiosk/kiosk-01.key")
    assert (mqtt.ca_file, mqtt.cert_file) == (
        Path("/etc/kiosk/ca.crt"),
        Path("/etc/kiosk/kiosk-01.crt"),
    )


def test_the_shipped_broker_conf_is_the_one_tested():
    assert shipped_settings() == {
        "per_listener_settings": "true",
        "listener": "8883",
        "cafile": "/etc/mosquitto/certs/kiosk/ca.crt",
        "certfile": "/etc/mosquitto/certs/kiosk/server.crt",
        "keyfile": "/etc/mosquitto/certs/kiosk/server.key",
        "tls_version": "tlsv1.2",
        "require_certificate": "true",
        "use_identity_as_username": "true",
        "allow_anonymous": "false",
        "acl_file": "/etc/mosquitto/kiosk.acl",
        "max_queued_messages": "100000",
    }
    assert shipped_sections()["8884"] == {
        "listener": "8884",
        "cafile": "/etc/mosquitto/certs/kiosk/ca.crt",
        "certfile": "/etc/mosquitto/certs/kiosk/server.crt",
        "keyfile": "/etc/mosquitto/certs/kiosk/server.key",
        "tls_version": "tlsv1.2",
        "require_certificate": "false",
        "use_identity_as_username": "false",
        "allow_anonymous": "true",
        "acl_file": "/etc/mosquitto/kiosk-enroll.acl",
    }
    guide = (REPO / "docs" / "fleet-operators.md").read_text(encoding="utf-8")
    assert "systemd/mosquitto-kiosk.acl /etc/mosquitto/kiosk.acl" in guide


def test_kiosk_receive_connects_with_the_tls_flags(
    tmp_path: Path, pki: Pki, tls_broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    db = tmp_path / "central.db"
    central = pki.client("central")
    args = [
        "receive",
        "--broker",
        tls_broker.url,
        "--db",
        str(db),
        "--cert-file",
        str(central.cert),
    ]
    assert main(args) == 2
    assert "--cert-file and --key-file go together" in capsys.readouterr().err
    assert main([*args[:5], "--password-file", str(central.key)]) == 2
    assert "--password-file needs --username" in capsys.readouterr().err
    command = [*args, "--key-file", str(central.key), "--ca-file", str(pki.ca_file)]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", *command, "--client-id", "cli-test"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    kiosk = pki.client("kiosk-01")  # resends after 1 s: the receiver may subscribe late
    config = _terminal(tmp_path, tls_broker.url, "kiosk-01", pki.ca_file, kiosk, ack_timeout_s=1)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    events = commit(outbox, 2)
    try:
        with Threads() as threads:
            threads.start(SyncWorker(config, threads.stop, VERSION).run, "sync")
            wait_for(lambda: outbox.counts()["acked"] == 2 or process.poll() is not None)
        assert process.poll() is None, process.communicate()[1].decode()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err.decode()
    assert len(out.decode().splitlines()) == len(events)
