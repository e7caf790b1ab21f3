"""Progress of long commands: a bar when standard error is a terminal, nothing in a pipe or a
file, ``KIOSK_PROGRESS`` to force either, and the output itself the same in every case."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from central.receiver.store import ReceiverStore
from common.progress import PROGRESS_ENV, progress_wanted
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


def _run(command: list[str], progress: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != PROGRESS_ENV}
    if progress is not None:
        env[PROGRESS_ENV] = progress
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_a_report_draws_its_bar_only_when_asked_and_writes_the_same_file(tmp_path: Path):
    piped = _run(_report_command(tmp_path, "pipe.csv"), None)
    assert piped.returncode == 0, piped.stderr
    assert "check-ins read" not in piped.stderr and "\r" not in piped.stderr
    assert piped.stderr.startswith("wrote ")
    forced = _run(_report_command(tmp_path, "forced.csv"), "always")
    assert forced.returncode == 0, forced.stderr
    assert "check-ins read" in forced.stderr and "/12" in forced.stderr
    csv_file = (tmp_path / "pipe.csv").read_bytes()
    assert csv_file and csv_file == (tmp_path / "forced.csv").read_bytes()


class _Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("setting", "terminal", "wanted"),
    [(None, True, True), (None, False, False), ("auto", True, True), ("never", True, False),
     ("always", False, True), ("nonsense", False, False)],
)  # fmt: skip
def test_bars_follow_the_terminal_unless_the_setting_says_otherwise(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, terminal: bool, wanted: bool
):
    monkeypatch.setattr(sys, "stderr", _Stream(terminal))
    if setting is None:
        monkeypatch.delenv(PROGRESS_ENV, raising=False)
    else:
        monkeypatch.setenv(PROGRESS_ENV, setting)
    assert progress_wanted() is wanted
