"""``kiosk roster follow``: the central side publishes again to terminals behind on their roster.

Real mosquitto, real terminals (their :class:`~terminal.sync.uplink.SyncWorker`), a probe counting
what
travels on the roster topic. Waits are on events (statuses, the follower's counters and rounds),
never on elapsed time.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from central.rosters.follow import RosterFollower, SignedRoster
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from models.messages import TerminalState, TerminalStatus
from models.roster_codec import build_roster_messages
from terminal.config import Config
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Probe, Threads, wait_for
from tests.mosquitto import Mosquitto
from tests.roster_terminal import REPO
from tests.roster_tools import (
    last_status,
    make_key,
    publish,
    random_people,
    roster_config,
    wait_online,
    write_private_key,
)

VERSION = "9.9.9-test"
STATUS = "attendance/v1/kiosk-01/status"
ROSTER = "attendance/v1/kiosk-01/roster"


def _follower(url: str, roster: SignedRoster, *terminals: str) -> RosterFollower:
    options = LinkOptions(url=url, client_id="central-follower-test", reconnect_min_s=0.1)
    return RosterFollower(options, Topics(), roster, terminals or None)


def _settle(follower: RosterFollower) -> None:
    """Wait for two more rounds: whatever was due when this was called has been published."""
    start = follower.rounds
    wait_for(lambda: follower.rounds >= start + 2, what="the follower's next rounds")


def _run_terminal(config: Config, threads: Threads) -> SyncWorker:
    worker = SyncWorker(config, threads.stop, VERSION)
    threads.start(worker.run, "sync")
    return worker


def test_a_terminal_starting_after_the_follower_gets_the_roster_once(
    tmp_path: Path, broker: Mosquitto
):
    key = make_key(tmp_path / "keys", "HR1")
    people_file = tmp_path / "people.json"
    people = random_people(5)
    people_file.write_text("[" + ",".join(p.model_dump_json() for p in people) + "]")
    key_file = write_private_key(key, tmp_path / "hr1.pem")
    kiosk = str(Path(sys.executable).parent / "kiosk")
    command = [kiosk, "roster", "follow", "--broker", broker.url]
    command += ["--people", str(people_file), "--key", str(key_file), "--key-id", "HR1"]
    command += ["--version", "7", "--chunk-size", "2", "--terminal", "kiosk-01"]
    log_file = tmp_path / "follower.log"
    probe = Probe(broker.url)
    probe.subscribe(ROSTER)
    probe.subscribe(STATUS)
    with log_file.open("wb") as out:
        follower = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "following attendance/v1/+/status" in log_file.read_text(), what="start")
        config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
        with Threads() as threads:
            worker = _run_terminal(config, threads)
            wait_for(lambda: worker.state.roster_version == 7, what="version 7 applied")
            wait_for(lambda: "kiosk-01 has roster version 7: up to date" in log_file.read_text())
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(20) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
        probe.close()
    output = log_file.read_text()
    assert output.count("publishing version 7, 5 people in 3 messages") == 1, output
    assert "kiosk-01 has no roster: publishing version 7" in output
    assert len(probe.payloads(ROSTER)) == 3  # chunked as `roster publish` does, sent once


def test_a_terminal_already_at_the_version_gets_nothing_and_others_are_ignored(
    tmp_path: Path, broker: Mosquitto
):
    key = make_key(tmp_path / "keys", "HR1")
    people = random_people(3)
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    probe.subscribe("attendance/v1/+/roster")
    stranger = TerminalStatus(terminal_id="kiosk-02", state=TerminalState.ONLINE, version="1")
    probe.publish("attendance/v1/kiosk-02/status", stranger.model_dump_json().encode(), True)
    try:
        with Threads() as threads:
            _run_terminal(config, threads)
            wait_online(probe)
            messages = build_roster_messages(people, key, "HR1", 5, terminal_id="kiosk-01")
            publish(broker.url, {"kiosk-01": messages}, 5)
            before = len(probe.payloads(ROSTER))
            follower = _follower(broker.url, SignedRoster(people, key, "HR1", 5), "kiosk-01")
            threads.start(lambda: follower.run(threads.stop), "follower")
            wait_for(lambda: follower.reported("kiosk-01") == 5, what="kiosk-01's status")
            wait_for(lambda: "kiosk-02" in follower.ignored, what="kiosk-02's status")
            _settle(follower)
            assert follower.published == {}
    finally:
        probe.close()
    assert len(probe.payloads(ROSTER)) == before
    assert not probe.payloads("attendance/v1/kiosk-02/roster")


def test_a_terminal_offline_when_the_roster_went_out_gets_it_on_reconnect(
    tmp_path: Path, broker: Mosquitto
):
    key = make_key(tmp_path / "keys", "HR1")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    probe.subscribe(ROSTER)
    try:
        with Threads() as threads:  # the terminal gets version 1, then goes away
            _run_terminal(config, threads)
            wait_online(probe)
            publish(
                broker.url, {"kiosk-01": build_roster_messages(random_people(2), key, "HR1", 1)}, 1
            )
        wait_for(lambda: last_status(probe).state is TerminalState.OFFLINE, what="offline")  # type: ignore[union-attr]
        roster = SignedRoster(random_people(4), key, "HR1", 2)
        with Threads() as central:
            follower = _follower(broker.url, roster)
            central.start(lambda: follower.run(central.stop), "follower")
            wait_for(lambda: follower.statuses_seen.get("kiosk-01") == 1, what="offline status")
            _settle(follower)
            assert follower.published == {}  # nobody to publish to
            with Threads() as threads:
                worker = _run_terminal(config, threads)
                wait_for(lambda: worker.state.roster_version == 2, what="version 2 on reconnect")
                wait_for(lambda: follower.reported("kiosk-01") == 2, what="version 2 reported")
                _settle(follower)
            assert follower.published == {"kiosk-01": 1}
    finally:
        probe.close()


def test_a_terminal_refusing_the_roster_is_not_flooded(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    make_key(tmp_path / "keys", "HR1")  # what the terminal trusts
    impostor = make_key(None, "HR1")  # what the follower signs with: "bad signature"
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    caplog.set_level(logging.INFO, logger="central.rosters.follow")
    probe = Probe(broker.url)
    probe.subscribe(STATUS)
    probe.subscribe(ROSTER)
    try:
        with Threads() as threads:
            _run_terminal(config, threads)
            follower = _follower(broker.url, SignedRoster(random_people(3), impostor, "HR1", 3))
            threads.start(lambda: follower.run(threads.stop), "follower")
            wait_for(lambda: "bad signature" in _error(probe), what="the refusal")
            # Each new refusal reason makes the terminal publish a status: chances to flood.
            forged = build_roster_messages([], impostor, "HR1", 4)[0]
            for bogus, reason in [(b"{not json", "Invalid JSON"), (forged, "bad signature")] * 3:
                seen = follower.statuses_seen.get("kiosk-01", 0)
                probe.publish(ROSTER, bogus)
                wait_for(lambda r=reason: r in _error(probe), what=reason)  # type: ignore[misc]
                wait_for(lambda s=seen: follower.statuses_seen["kiosk-01"] > s)  # type: ignore[misc]
            _settle(follower)
            assert follower.published == {"kiosk-01": 1}
            assert follower.statuses_seen["kiosk-01"] >= 7
    finally:
        probe.close()
    assert len(probe.payloads(ROSTER)) == 1 + 6  # the follower's one message, the probe's six
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("refused the last roster" in w and "bad signature" in w for w in warnings)
    holds = [r.getMessage() for r in caplog.records if "holding for" in r.getMessage()]
    assert holds and all("version 3 was sent" in h for h in holds)


def _error(probe: Probe) -> str:
    status = last_status(probe)
    return (status.roster_error if status else None) or ""
