"""Consent and the processing log through the real CLI: ``kiosk enroll --consent``, ``kiosk
people list|consent|remove`` and ``kiosk privacy log``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from cli.main import main
from tests.recognition_tools import person_photo


def _kiosk(data_dir: Path, *args: str) -> int:
    return main(["--data-dir", str(data_dir), *args])


def _log(data: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    assert _kiosk(data, "privacy", "log") == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_consent_is_needed_recorded_withdrawn_and_logged(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    photo = str(person_photo(faces_dir, "barack_obama", 1))
    # Photos without consent: one line, nothing stored, nothing read.
    assert _kiosk(data, "enroll", "--id", "E1", "--name", "Obama", photo) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no consent to face recognition" in err
    assert _kiosk(data, "enroll", "--id", "E1", "--name", "Obama", "--consent", "on_device",
                  "--consent-by", "hr-li", "--consent-date", "2026-12-01", photo) == 0  # fmt: skip
    capsys.readouterr()
    assert _kiosk(data, "people", "list") == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[:4] == [
        "E1",
        "Obama",
        "1 template",
        "consent on_device 2026-12-01 by hr-li",
    ]
    assert _kiosk(data, "people", "list", "--json") == 0
    record = json.loads(capsys.readouterr().out)
    assert record["consent"] == {"scope": "on_device", "given_at": "2026-12-01",
                                 "recorded_by": "hr-li"}  # fmt: skip
    assert (record["consent_source"], record["face"]) == ("enroll", True)
    # Withdrawn: the templates go at once.
    assert (
        _kiosk(data, "people", "consent", "E1", "--consent", "none", "--consent-by", "hr-li") == 0
    )
    out = capsys.readouterr().out
    assert "recorded: consent none" in out and "QR only; 0 face templates" in out
    steps = [(r["action"], r["person_id"], r["templates"]) for r in _log(data, capsys)]
    assert steps == [
        ("consent_recorded", "E1", "0"),
        ("template_created", "E1", "1"),
        ("consent_recorded", "E1", "0"),
        ("template_deleted", "E1", "1"),
    ]
    # Removed: the log keeps its rows, by the person's keyed hash only.
    assert _kiosk(data, "people", "remove", "E1") == 0
    capsys.readouterr()
    rows = _log(data, capsys)
    assert len(rows) == 4 and {r["person_id"] for r in rows} == {""}
    assert len({r["person_ref"] for r in rows}) == 1


def test_privacy_log_without_a_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _kiosk(tmp_path / "none", "privacy", "log") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no processing log" in err
    assert not (tmp_path / "none" / "kiosk.db").exists()
