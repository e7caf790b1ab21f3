"""Progress of long commands: a bar when standard error is a terminal (a real pseudo-terminal
here), nothing when it is a pipe or a file, and the output itself the same either way."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from central.receiver.store import ReceiverStore
from tests.report_tools import event, schedule


def _report_command(tmp_path: Path, csv_name: str) -> list[str]:
    db, schedule_file = tmp_path / "central.db", tmp_path / "schedule.json"
    if not db.exists():
        store = ReceiverStore(db)
        store.store([event(p, f"2026-03-0{d} 0{h}:5{d}") for p in "ABC" for d in (2, 3)
                     for h in (8, 9)])  # fmt: skip
        store.close()
        schedule_file.write_text(schedule().model_dump_json(), encoding="utf-8")
    return [sys.executable, "-m", "cli", "report", "shifts", "--db", str(db), "--schedule",
            str(schedule_file), "--from", "2026-03-02", "--to", "2026-03-03", "--csv",
            str(tmp_path / csv_name)]  # fmt: skip


def _on_a_terminal(command: list[str]) -> tuple[int, str]:
    """Run ``command`` with standard error on a pseudo-terminal: its status and what the
    terminal showed."""
    master, slave = pty.openpty()
    # A terminal window of 100x30 (a new pseudo-terminal is 0x0: no room for a bar).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return process.wait(timeout=60), shown.decode("utf-8", "replace")


def test_a_report_shows_its_progress_on_a_terminal_and_nothing_in_a_pipe(tmp_path: Path):
    status, shown = _on_a_terminal(_report_command(tmp_path, "terminal.csv"))
    assert status == 0, shown
    assert "check-ins read" in shown and "0/12" in shown
    assert "wrote" in shown
    piped = subprocess.run(_report_command(tmp_path, "pipe.csv"), capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr
    assert "check-ins read" not in piped.stderr and "\r" not in piped.stderr
    assert piped.stderr.startswith("wrote ")
    terminal_csv = (tmp_path / "terminal.csv").read_bytes()
    assert terminal_csv == (tmp_path / "pipe.csv").read_bytes() and terminal_csv
