"""Helpers for the command tests: a terminal's sync running, the central side's key and CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from models.command import CommandResult
from terminal.config import Config
from terminal.doctor import diagnostics
from terminal.sync.uplink import SyncWorker
from tests.delivery_tools import Probe, Threads, wait_for
from tests.roster_tools import make_key, roster_config, wait_online, write_private_key

VERSION = "9.9.9-test"
COMMANDS = "attendance/v1/kiosk-01/commands"
RESULTS = "attendance/v1/kiosk-01/results"
STATUS = "attendance/v1/kiosk-01/status"
EVENTS = "attendance/v1/kiosk-01/events"


@dataclass
class Central:
    """The HR side: its signing key (trusted by the terminal as HR1) and a probe client."""

    url: str
    key: Ed25519PrivateKey
    key_file: Path
    probe: Probe

    def results(self) -> list[CommandResult]:
        """Every result the terminal published so far."""
        return [CommandResult.model_validate_json(p) for p in self.probe.payloads(RESULTS)]

    def publish_raw(self, message: bytes) -> None:
        """Publish ``message`` on the terminal's commands topic as it is."""
        self.probe.publish(COMMANDS, message)

    def wait_results(self, count: int) -> list[CommandResult]:
        """Wait until ``count`` results have come; return them in order."""
        wait_for(lambda: len(self.probe.payloads(RESULTS)) >= count, what=f"{count} results")
        return self.results()

    def send(self, capsys: pytest.CaptureFixture[str], kind: str, *args: str) -> tuple[int, Any]:
        """``kiosk command send --wait`` as the HR system; its exit status and printed result."""
        command = ["command", "send", "--broker", self.url, "--terminal", "kiosk-01"]
        command += ["--kind", kind, "--key", str(self.key_file), "--key-id", "HR1"]
        for arg in args:
            command += ["--arg", arg]
        capsys.readouterr()
        status = main([*command, "--wait", "30"])
        out = capsys.readouterr().out
        return status, json.loads(out) if out.strip() else None


def terminal_config(tmp_path: Path, url: str, **mqtt: Any) -> Config:
    """kiosk-01 delivering to ``url`` and trusting the central key HR1 in ``tmp_path/keys``."""
    return roster_config(tmp_path / "kiosk", url, tmp_path / "keys", **mqtt)


@contextmanager
def running_terminal(
    tmp_path: Path, config: Config, key: Ed25519PrivateKey | None = None
) -> Iterator[tuple[Central, SyncWorker]]:
    """The terminal's sync in a thread (online, subscribed) and the central side, its key
    (new unless given) trusted as HR1; stops both at the end."""
    assert config.mqtt is not None
    url = config.mqtt.url
    key = key or make_key(tmp_path / "keys", "HR1")
    key_file = write_private_key(key, tmp_path / "hr1.pem")
    probe = Probe(url, client_id="central-probe")
    probe.subscribe(RESULTS)
    probe.subscribe(STATUS)
    probe.subscribe(EVENTS)
    try:
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION, diagnose=diagnostics)
            threads.start(worker.run, "sync")
            wait_online(probe)
            yield Central(url, key, key_file, probe), worker
    finally:
        probe.close()
