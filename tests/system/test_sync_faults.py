"""The sync when things go wrong: refused publishes, a broken database, a killed process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from central.receiver.service import Receiver
from models.messages import TerminalState, TerminalStatus
from terminal.store.outbox import Outbox
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import (
    Probe,
    Threads,
    broker_readable_dir,
    commit,
    make_config,
    wait_for,
)
from tests.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
VERSION = "9.9.9-test"
STATUS = "attendance/v1/{}/status"

RUN_WORKER = """
import sys, threading
from pathlib import Path
from terminal.config import load_config
from terminal.sync.uplink import SyncWorker
SyncWorker(load_config(Path(sys.argv[1])), threading.Event(), sys.argv[2]).run()
"""


def _statuses(probe: Probe, terminal_id: str) -> list[TerminalStatus]:
    return [
        TerminalStatus.model_validate_json(p) for p in probe.payloads(STATUS.format(terminal_id))
    ]


def _retained_status(url: str, terminal_id: str) -> TerminalStatus:
    probe = Probe(url, client_id="retained-reader")
    try:
        probe.subscribe(STATUS.format(terminal_id))
        wait_for(lambda: _statuses(probe, terminal_id), 10, "the retained status")
        return _statuses(probe, terminal_id)[-1]
    finally:
        probe.close()


def test_a_batch_the_broker_refuses_stays_in_the_outbox(tmp_path: Path):
    with broker_readable_dir() as readable:
        acl = readable / "acl"
        acl.write_text(
            "topic readwrite attendance/v1/+/status\ntopic readwrite attendance/v1/+/ack\n"
        )
        acl.chmod(0o644)
        server = Mosquitto(tmp_path / "broker", extra_conf=f"acl_file {acl}\n")
        server.start()
        try:
            config = make_config(tmp_path / "kiosk", server.url)
            outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
            commit(outbox, 2)
            with Threads() as threads:
                worker = SyncWorker(config, threads.stop, VERSION)
                threads.start(worker.run, "sync")
                wait_for(lambda: "Not authorized" in (worker.state.last_error or ""))
                assert "refused a batch of 2 events" in (worker.state.last_error or "")
                wait_for(lambda: outbox.rows()[0].attempts >= 2, what="a second attempt")
                assert outbox.counts()["acked"] == 0
                assert worker.state.connected
        finally:
            server.kill()


def test_the_worker_logs_in_with_the_password_from_its_file(tmp_path: Path):
    with broker_readable_dir() as readable:
        passwords = readable / "passwords"
        command = ["mosquitto_passwd", "-b", "-c", str(passwords), "kiosk-01", "s3cret"]
        subprocess.run(command, check=True)
        passwords.chmod(0o644)
        extra = f"allow_anonymous false\npassword_file {passwords}\n"
        server = Mosquitto(tmp_path / "broker", extra_conf=extra)
        server.start()
        try:
            with Threads() as threads:
                good = _worker_with_password(tmp_path / "good", server.url, "s3cret", threads)
                bad = _worker_with_password(tmp_path / "bad", server.url, "guess", threads)
                wait_for(lambda: good.state.connected, what="the right password to work")
                wait_for(lambda: "Not authorized" in (bad.state.last_error or ""))
                assert not bad.state.connected
        finally:
            server.kill()


def _worker_with_password(data: Path, url: str, password: str, threads: Threads) -> SyncWorker:
    secret = data.with_suffix(".secret")
    secret.write_text(password + "\n")
    config = make_config(
        data, url, username="kiosk-01", password_file=str(secret), client_id=data.name
    )
    worker = SyncWorker(config, threads.stop, VERSION)
    threads.start(worker.run, data.name)
    return worker


def test_the_worker_survives_a_database_it_cannot_open(tmp_path: Path, broker: Mosquitto):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    config = make_config(blocker / "data", broker.url)
    with Threads() as threads:
        worker = SyncWorker(config, threads.stop, VERSION)
        thread = threads.start(worker.run, "sync")
        wait_for(lambda: "cannot create data directory" in (worker.state.last_error or ""))
        assert thread.is_alive()
        blocker.unlink()
        wait_for(lambda: worker.state.connected, what="the worker to recover")


def test_the_worker_survives_database_errors_while_running(tmp_path: Path, broker: Mosquitto):
    config = make_config(tmp_path / "kiosk", broker.url)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    with Threads() as threads:
        receiver = Receiver(broker.url, tmp_path / "central.db", client_id="central-test")
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(10)
        worker = SyncWorker(config, threads.stop, VERSION)
        thread = threads.start(worker.run, "sync")
        wait_for(lambda: worker.state.connected, what="the worker to connect")
        outbox.db.conn.execute("ALTER TABLE events RENAME TO events_away")
        wait_for(lambda: "no such table" in (worker.state.last_error or ""), what="a DB error")
        assert thread.is_alive()
        outbox.db.conn.execute("ALTER TABLE events_away RENAME TO events")
        commit(outbox, 3)
        wait_for(lambda: outbox.counts()["acked"] == 3, what="delivery after the DB recovered")


def test_status_is_offline_after_a_clean_stop(tmp_path: Path, broker: Mosquitto):
    config = make_config(tmp_path / "kiosk", broker.url)
    outbox = Outbox.open(config.database_path, "kiosk-01", "hq")
    commit(outbox, 2)
    with Threads() as threads:
        receiver = Receiver(broker.url, tmp_path / "central.db", client_id="central-test")
        threads.start(lambda: receiver.run(threads.stop), "rx")
        assert receiver.ready.wait(10)
        worker = SyncWorker(config, threads.stop, VERSION)
        threads.start(worker.run, "sync")
        wait_for(lambda: outbox.counts()["acked"] == 2, what="delivery")
    status = _retained_status(broker.url, "kiosk-01")
    assert (status.state, status.version, status.backlog) == (TerminalState.OFFLINE, VERSION, 0)
    assert status.at is not None


def test_status_online_then_last_will_when_the_process_is_killed(tmp_path: Path, broker: Mosquitto):
    data = tmp_path / "kiosk"
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(
        f'[terminal]\nid = "kiosk-07"\nsite = "hq"\n[storage]\ndata_dir = "{data}"\n'
        f'[mqtt]\nurl = "{broker.url}"\nack_timeout_s = 3600\n'
    )
    outbox = Outbox.open(data / "kiosk.db", "kiosk-07", "hq")
    commit(outbox, 3)
    probe = Probe(broker.url)
    probe.subscribe(STATUS.format("kiosk-07"))
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_WORKER, str(config_file), VERSION], cwd=ROOT
    )
    try:
        wait_for(lambda: _statuses(probe, "kiosk-07"), what="the online status")
        online = _statuses(probe, "kiosk-07")[0]
        assert (online.state, online.version, online.backlog) == ("online", VERSION, 3)
        assert online.at is not None
        wait_for(lambda: outbox.counts()["sent"] == 3, what="the events to be published")
        process.kill()
        process.wait(timeout=10)
        wait_for(lambda: len(_statuses(probe, "kiosk-07")) == 2, what="the last will")
    finally:
        process.kill()
        process.wait(timeout=10)
        probe.close()
    will = _retained_status(broker.url, "kiosk-07")
    assert (will.state, will.version, will.backlog, will.at) == ("offline", VERSION, None, None)
    assert json.loads(probe.payloads(STATUS.format("kiosk-07"))[1])["state"] == "offline"
