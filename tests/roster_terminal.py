"""A terminal without a camera: only its sync, in its own process, for kill -9 and memory tests.

``python -m tests.roster_terminal CONFIG.toml`` runs :class:`~terminal.sync.uplink.SyncWorker` until
SIGTERM (or a kill -9); it logs to stderr. :class:`TerminalProcess` starts it and reads its
peak memory (``VmHWM``) while it runs.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from terminal.config import load_config
from terminal.sync.uplink import SyncWorker

REPO = Path(__file__).resolve().parent.parent


class TerminalProcess:
    """``python -m tests.roster_terminal`` as a child process logging to ``log``."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again)."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.roster_terminal", str(self.config)],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory so far (Linux ``VmHWM``)."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc/<pid>/status")

    def kill9(self) -> None:
        """kill -9 and reap."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> int | None:
        """SIGTERM, wait, return the exit status (kill -9 after 20 s)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.process.returncode

    def output(self) -> str:
        """Everything it logged."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def main(argv: list[str]) -> int:
    """Run the sync of the config ``argv[0]`` until SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    worker = SyncWorker(load_config(Path(argv[0])), stop, "roster-test")
    worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
