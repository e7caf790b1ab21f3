"""``kiosk loadgen`` without a broker: how a fleet splits into processes, commit-only runs,
a bad broker URL. Against a real mosquitto: tests/integration/test_loadgen.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main
from devtools.loadgen_fleet import shares
from terminal.store.outbox import Outbox


@pytest.mark.parametrize(
    ("terminals", "per_process", "expected"),
    [(3, 50, [(0, 3)]), (200, 50, [(0, 50), (50, 100), (100, 150), (150, 200)]),
     (5, 2, [(0, 1), (1, 3), (3, 5)])],
)  # fmt: skip
def test_a_fleet_splits_into_near_equal_process_shares(
    terminals: int, per_process: int, expected: list[tuple[int, int]]
):
    assert shares(terminals, per_process) == expected


def test_loadgen_without_a_broker_only_commits(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["--data-dir", str(tmp_path), "loadgen", "--count", "5", "--terminals", "2"]) == 0
    assert "5 check-ins from 2 terminals committed" in capsys.readouterr().out
    outbox = Outbox.open(tmp_path / "load-001" / "kiosk.db", "load-001", "default")
    assert outbox.counts() == {"pending": 3, "sent": 0, "acked": 0}
    outbox.close()


def test_loadgen_refuses_a_bad_broker_url_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    args = ["loadgen", "--count", "1", "--broker", "http://x", "--data-dir", str(tmp_path)]
    assert main(args) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("kiosk: error: loadgen: mqtt.url") and "\n" not in error
