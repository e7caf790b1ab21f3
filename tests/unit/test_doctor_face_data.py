"""``kiosk doctor``'s face-data check on real kiosk databases: nobody without a way in, no
face as the only way, no templates without consent, the notice on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from terminal.config import Config
from terminal.doctor.face_data import check_face_data
from terminal.doctor.result import Status
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.template_seal import TemplateSeal
from tests.consent_tools import ON_DEVICE

TEMPLATE = np.linspace(-1, 1, 128, dtype=np.float32)


def _kiosk(tmp_path: Path, face_people: int, qr_people: int, **sections: Any) -> Config:
    config = Config.model_validate({"storage": {"data_dir": tmp_path / "data"}, **sections})
    db = open_database(config.database_path)
    gallery = Gallery(db)
    for n in range(face_people):
        gallery.add_person(f"F{n}", f"Face {n}", [TEMPLATE], "sface", "d", ["a.jpg"],
                           consent=ON_DEVICE)  # fmt: skip
    for n in range(qr_people):
        gallery.add_person(f"Q{n}", f"Code {n}", [], "", "", [])
    db.conn.close()
    return config


def test_face_or_qr_with_everyone_consenting_passes(tmp_path: Path) -> None:
    result = check_face_data(_kiosk(tmp_path, 2, 1))
    assert result.status is Status.PASS, result.line()
    assert "3 people, 2 recognisable by face, 1 by QR code only" in result.detail
    assert "file permissions only" in result.detail


def test_a_face_only_terminal_with_qr_only_people_warns(tmp_path: Path) -> None:
    result = check_face_data(_kiosk(tmp_path, 2, 3, verification={"mode": "face"}))
    assert result.status is Status.WARN
    assert "face-only terminal: face is the only way in for the 2 people" in result.detail
    assert "3 without one check in by QR code only" in result.detail
    assert result.hint and "face_or_qr" in result.hint


def test_people_left_without_any_way_in_are_named(tmp_path: Path) -> None:
    no_codes = _kiosk(tmp_path / "a", 1, 2, verification={"mode": "face"}, qr={"enabled": False})
    result = check_face_data(no_codes)
    assert result.status is Status.WARN
    assert "2 people without a face on file have no way in here (no QR code is accepted)" in (
        result.detail
    )
    assert "Q0, Q1" in result.detail
    paired = check_face_data(_kiosk(tmp_path / "b", 1, 1, verification={"mode": "face_and_qr"}))
    assert "1 people without a face on file have no way in here (this mode needs a face too)" in (
        paired.detail
    )


def test_templates_without_consent_and_the_notice_off_are_reported(tmp_path: Path) -> None:
    config = _kiosk(tmp_path, 2, 0, privacy={"notice": False})
    db = open_database(config.database_path)
    db.conn.execute("UPDATE people SET consent_scope = NULL WHERE person_id = 'F1'")
    db.conn.close()
    result = check_face_data(config)
    assert result.status is Status.WARN
    assert "1 people have face templates but no consent recorded" in result.detail
    assert "notice is off" in result.detail
    assert result.data["unconsented"] == 1 and result.data["face"] == 1
    assert result.hint and "kiosk people consent" in result.hint


def test_no_database_yet_passes_and_creates_nothing(tmp_path: Path) -> None:
    config = Config.model_validate({"storage": {"data_dir": tmp_path / "data"}})
    result = check_face_data(config)
    assert result.status is Status.PASS
    assert not config.database_path.exists()


def test_templates_left_in_the_clear_under_a_key_are_reported(tmp_path: Path) -> None:
    config = _kiosk(tmp_path, 2, 0, privacy={"template_key_file": tmp_path / "template.key"})
    result = check_face_data(config)
    assert result.status is Status.WARN
    assert "2 face templates are still in the clear" in result.detail
    assert f"templates sealed with {tmp_path / 'template.key'}" in result.detail
    assert result.hint and "kiosk people seal" in result.hint
    db = open_database(config.database_path)
    Gallery(db, TemplateSeal.from_key_file(tmp_path / "template.key")).seal_plain_templates()
    db.conn.close()
    assert check_face_data(config).status is Status.PASS
