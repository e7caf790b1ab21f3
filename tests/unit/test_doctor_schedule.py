"""``kiosk doctor``'s schedule line: the file, the roster's, none, and what is wrong."""

from __future__ import annotations

from pathlib import Path

from terminal.config import Config, parse_config
from terminal.doctor.result import Status
from terminal.doctor.schedule import check_schedule
from terminal.store.database import open_database
from tests.attendance_tools import SCHEDULE, TERMINAL, write_schedule


def _config(tmp_path: Path, attendance: str = "", terminal: str = "kiosk-01") -> Config:
    """A kiosk with its database in ``tmp_path / "data"`` and ``attendance`` lines."""
    return parse_config(
        f'[terminal]\nid = "{terminal}"\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
        f"[attendance]\n{attendance}"
    )


def test_no_schedule_passes_and_says_so(tmp_path: Path) -> None:
    result = check_schedule(_config(tmp_path))
    assert result.status == Status.PASS and result.detail.startswith("none (no database yet)")


def test_a_schedule_file_is_read_and_a_bad_one_fails(tmp_path: Path) -> None:
    path = write_schedule(tmp_path / "schedule.json")
    good = check_schedule(_config(tmp_path, f'schedule_file = "{path}"\n'))
    assert good.status == Status.PASS, good
    assert "version 1 from file" in good.detail and "2 shifts, 1 sessions" in good.detail
    path.write_text('{"version": 0}')
    bad = check_schedule(_config(tmp_path, f'schedule_file = "{path}"\n'))
    assert bad.status == Status.FAIL and "not a valid schedule" in bad.detail


def test_the_roster_schedule_and_session_mode_without_a_session_here(tmp_path: Path) -> None:
    config = _config(tmp_path, "session_mode = true\n", terminal=TERMINAL)
    db = open_database(config.database_path)
    assert check_schedule(config).detail.startswith("none (the roster in force carries none)")
    with db.conn:
        db.conn.execute(
            "INSERT INTO roster_schedule VALUES (1, 5, ?, '2026-11-23T00:00:00Z')",
            (SCHEDULE.model_dump_json(),),
        )
    db.close()
    here = check_schedule(config)
    assert here.status == Status.PASS and "from roster version 5" in here.detail
    assert "(1 at this terminal)" in here.detail
    elsewhere = _config(tmp_path, "session_mode = true\n", terminal="lobby-9")
    warned = check_schedule(elsewhere)
    assert warned.status == Status.WARN and warned.hint is not None
    assert "no session lists terminal lobby-9" in warned.hint
