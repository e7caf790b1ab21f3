"""A report pointed at a kiosk's own ``kiosk.db`` says so in one line and leaves it unchanged."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from central.receiver.store import ReceiverStore
from central.reports.inputs import open_store
from cli.main import main
from common.errors import KioskError
from models.messages import Method
from terminal.store.outbox import CheckInDraft, Outbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _kiosk_db(path: Path) -> Path:
    outbox = Outbox.open(path, "kiosk-01", "hq")
    draft = CheckInDraft("E1001", Method.QR, datetime(2026, 12, 1, 9, tzinfo=UTC))
    outbox.commit_checkin(draft, clock_synced=True)
    outbox.close()
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_open_store_refuses_a_kiosk_database_before_opening_it(tmp_path: Path) -> None:
    path = _kiosk_db(tmp_path / "kiosk" / "kiosk.db")
    before = _digests(path.parent)
    with pytest.raises(KioskError) as refused:
        open_store(path)
    assert str(refused.value) == (
        f"{path} is a kiosk's own database (kiosk.db); reports read the central database"
        " that `kiosk receive --db` writes"
    )
    with pytest.raises(KioskError, match="is a kiosk's own database"):
        open_store(f"sqlite:///{path}")
    assert _digests(path.parent) == before, "the kiosk's database must not be touched"


def test_open_store_still_opens_a_receiver_database(tmp_path: Path) -> None:
    db = tmp_path / "central.db"
    ReceiverStore(db).close()
    open_store(db).close()


def test_report_on_a_kiosk_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _kiosk_db(tmp_path / "kiosk.db")
    args = ["report", "shifts", "--db", str(path), "--schedule", str(EXAMPLES / "schedule.json")]
    status = main([*args, "--from", "2026-12-01", "--to", "2026-12-02"])
    captured = capsys.readouterr()
    assert status == 1
    assert captured.err == (
        f"kiosk: error: {path} is a kiosk's own database (kiosk.db); reports read the central"
        " database that `kiosk receive --db` writes\n"
    )
