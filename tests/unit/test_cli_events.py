"""``kiosk events list|count``: a readable table with names, the machine form with ``--json``,
and no database created by reading."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.events import NOT_ENROLLED, display_width
from cli.main import main
from models.messages import SCHEMA_VERSION, Direction, Method, Verdict
from terminal.store.gallery import Gallery
from terminal.store.outbox import CheckInDraft, Outbox

CAPTURED = datetime(2026, 12, 4, 1, 2, 3, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A kiosk database with two enrolled people and three events in three states."""
    outbox = Outbox.open(tmp_path / "kiosk.db", "kiosk-01", "hq")
    gallery = Gallery(outbox.db)
    gallery.add_person("E1001", "张三", [], "", "", [])
    gallery.add_person("E2", "Li Si", [], "", "", [])
    late = CheckInDraft(
        "E1001", Method.FACE, CAPTURED, 0.3, Direction.IN, "day@2026-12-04", Verdict.LATE, 7
    )
    first = outbox.commit_checkin(late, clock_synced=True)
    second = outbox.commit_checkin(CheckInDraft("E2", Method.QR, CAPTURED), clock_synced=True)
    gone = CheckInDraft("E9", Method.FACE_AND_QR, CAPTURED, direction=Direction.OUT)
    outbox.commit_checkin(gone, clock_synced=False)
    outbox.mark_sent([first.seq, second.seq])
    outbox.mark_acked([str(second.event_id)])
    outbox.close()
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_list_is_a_table_with_names_direction_verdict_and_delivery_state(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    import time

    time.tzset()
    try:
        status, out, err = _run(capsys, "--data-dir", str(data_dir), "events", "list")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert status == 0
    header, rule, *rows = out.splitlines()
    assert header.split() == [
        "seq", "time", "(CST)", "person", "name", "direction", "method", "verdict", "state"
    ]  # fmt: skip
    assert set(rule) == {"-", " "}
    assert len(rows) == 3
    assert rows[0].split() == ["1", "2026-12-04", "09:02:03", "E1001", "张三", "in", "face",
                               "late", "7", "min", "sent"]  # fmt: skip
    assert rows[1].split() == ["2", "2026-12-04", "09:02:03", "E2", "Li", "Si", "-", "qr", "-",
                               "acked"]  # fmt: skip
    assert NOT_ENROLLED in rows[2] and rows[2].split()[-3:] == ["face_and_qr", "-", "pending"]
    # Columns line up by display width, Chinese names included.
    cells = ["method", "face ", " qr ", "face_and_qr"]
    method = [
        display_width(line[: line.index(cell)])
        for line, cell in zip([header, *rows], cells, strict=True)
    ]
    assert method[1:] == [method[0], method[0] - 1, method[0]]
    assert err == f"3 events in {data_dir / 'kiosk.db'}\n"

    status, out, err = _run(
        capsys, "--data-dir", str(data_dir), "events", "list", "--state", "pending"
    )
    assert status == 0 and len(out.splitlines()) == 3
    assert err == f"1 pending event in {data_dir / 'kiosk.db'}\n"


def test_json_keeps_the_machine_form_with_the_wire_schema_version(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(capsys, "--data-dir", str(data_dir), "events", "list", "--json")
    assert status == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["state"] for r in records] == ["sent", "acked", "pending"]
    first = records[0]
    # The event as delivered: the 1.1 fields are there, the version number stays the wire's.
    assert first["schema_version"] == SCHEMA_VERSION == 1
    assert (first["direction"], first["verdict"], first["verdict_minutes"]) == ("in", "late", 7)
    assert {"attempts", "acked_at", "event_id", "seq"} <= set(first)


def test_reading_never_creates_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "nothing-here"
    for args in (["events", "list"], ["events", "list", "--json"]):
        status, out, err = _run(capsys, "--data-dir", str(empty), *args)
        assert (status, out) == (0, "")
        nothing = "nothing was checked in here yet"
        assert err == f"no kiosk database at {empty / 'kiosk.db'}: {nothing}\n"
    status, out, _ = _run(capsys, "--data-dir", str(empty), "events", "count", "--json")
    assert status == 0
    assert json.loads(out) == {"pending": 0, "sent": 0, "acked": 0, "total": 0}
    assert not empty.exists()
