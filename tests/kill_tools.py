"""Helpers for the kill -9 tests: ``kiosk loadgen`` as a real process, and a look into an outbox
that writes nothing (so the test never does the kiosk's recovery). The restartable receiver is
:class:`tests.delivery_tools.ReceiverThread`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

CONFIG = """\
[terminal]
site = "lab"
[mqtt]
url = "mqtt://127.0.0.1:1883"
ack_timeout_s = 2
reconnect_min_s = 0.1
reconnect_max_s = 0.5
keepalive_s = 5
"""


def write_config(path: Path) -> Path:
    """A config with fast reconnects and resends; ``--broker`` supplies the real URL."""
    path.write_text(CONFIG)
    return path


class Loadgens:
    """Starts ``kiosk loadgen`` for one terminal (``kiosk-001``) again and again, each run
    logging to its own file; :meth:`kill_all` is for the test's ``finally``."""

    def __init__(self, config: Path, data_dir: Path, logs: Path) -> None:
        self.config, self.data_dir, self.logs = config, data_dir, logs
        self.runs: list[subprocess.Popen[bytes]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, url: str, *args: str) -> subprocess.Popen[bytes]:
        """A new run delivering to ``url`` with the extra ``args`` (``--count`` ...)."""
        command = [sys.executable, "-m", "cli", "--config", str(self.config), "loadgen"]
        command += ["--terminals", "1", "--id-prefix", "kiosk", "--data-dir", str(self.data_dir)]
        with (self.logs / f"run-{len(self.runs) + 1}.log").open("wb") as out:
            process = subprocess.Popen(
                [*command, "--broker", url, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.runs.append(process)
        return process

    def log(self) -> Path:
        """The log file of the latest run."""
        return self.logs / f"run-{len(self.runs)}.log"

    def tail(self, lines: int = 15) -> str:
        """The end of the latest run's log, for assertion messages."""
        log = self.log()
        if not log.exists():
            return f"({log.name} missing)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def kill_all(self) -> None:
        """SIGKILL every run still alive."""
        for process in self.runs:
            kill9(process)


def kill9(process: subprocess.Popen[bytes]) -> int | None:
    """SIGKILL ``process`` (no clean shutdown) and reap it; its exit status if it had ended."""
    ended = process.poll()
    if ended is None:
        process.kill()
        process.wait(timeout=10)
    return ended


def outbox_state(db: Path) -> dict[str, int]:
    """Events per state and ``last_seq``, read through a read-only connection (all zero while
    the database or its schema does not exist yet)."""
    state = {"pending": 0, "sent": 0, "acked": 0, "last_seq": 0}
    if not db.exists():
        return state
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        for name, count in conn.execute("SELECT state, count(*) FROM events GROUP BY state"):
            state[str(name)] = int(count)
        row = conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        state["last_seq"] = int(row[0]) if row else 0
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
    finally:
        conn.close()
    return state
