"""Signed codes through the whole pipeline: real codes in real frames, a real database.

The frames carry wall-clock times from :data:`tests.recognition_tools.EPOCH`; codes are issued
for those times, so nothing here depends on the machine's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.face.base import FaceEngine
from models.messages import Method
from models.signed_code import issue_code
from terminal.checkin.decisions import Decision
from terminal.checkin.pipeline import Pipeline, build_pipeline
from terminal.config import Config
from terminal.face.enrollment import enroll
from terminal.store.database import open_database
from terminal.store.outbox import Outbox
from tests.consent_tools import TRANSFER
from tests.recognition_tools import EPOCH
from tests.scenes import code_scene
from tests.signed_code_tools import hr_keys
from tests.verification_tools import PEOPLE, face_frames, person_photo, play


class Kiosk:
    """A pipeline reading signed codes only (static badges off), on ``data``'s database."""

    def __init__(self, tmp_path: Path, mode: str, engine: FaceEngine | None = None) -> None:
        self.keys = hr_keys(tmp_path / "keys", "HR1")
        self.config = Config.model_validate(
            {
                "storage": {"data_dir": tmp_path / "data"},
                "recognition": {"enabled": engine is not None},
                "verification": {"mode": mode},
                "qr": {"static_badges": False, "public_keys_dir": tmp_path / "keys"},
                "liveness": {"mode": "off"},
            }
        )
        self.tmp_path = tmp_path
        self.engine = engine
        self.pipeline, self.outbox = self.restart()

    def restart(self) -> tuple[Pipeline, Outbox]:
        """A new pipeline on the same database file, as after a reboot."""
        db = open_database(self.config.database_path)
        outbox = Outbox(db, self.config.terminal.id, self.config.terminal.site)
        self.pipeline = build_pipeline(self.config, outbox, lambda: True, engine=self.engine)
        self.outbox = outbox
        return self.pipeline, outbox

    def show(self, name: str, texts: list[str], start_s: float) -> list[Decision]:
        """``texts`` as QR codes on a phone held up from ``start_s`` seconds after EPOCH."""
        folder = code_scene(self.tmp_path / "scenes" / name, texts)
        images = [cv2.imread(str(path)) for path in sorted(folder.glob("*.png"))]
        return play(self.pipeline, [i for i in images if i is not None], start_s)

    def code(self, person_id: str, issued_s: float = 0.0, key: Ed25519PrivateKey | None = None,
             key_id: str = "HR1", ttl_s: int = 30) -> str:  # fmt: skip
        """A code for ``person_id`` issued ``issued_s`` seconds after EPOCH."""
        signer = key or self.keys["HR1"]
        return issue_code(signer, key_id, person_id, ttl_s, EPOCH.timestamp() + issued_s)


def _outcomes(seen: list[Decision]) -> list[tuple[str, str | None]]:
    return [(d.kind, d.person_id) for d in seen if d.kind in ("checked_in", "refused", "repeat")]


@pytest.fixture
def qr_kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    """A QR-only kiosk with E1001 and E1002 enrolled (no face templates)."""
    kiosk = Kiosk(tmp_path, "qr")
    for person_id in ("E1001", "E1002"):
        enroll(kiosk.outbox.db, None, person_id, person_id, [])
    kiosk.pipeline.reload()
    yield kiosk
    kiosk.outbox.close()


def test_a_valid_code_checks_in_once_and_never_again(qr_kiosk: Kiosk) -> None:
    code = qr_kiosk.code("E1001")
    seen = qr_kiosk.show("valid", [code], start_s=1.0)
    assert [(d.person_id, d.method) for d in seen if d.kind == "checked_in"] == [
        ("E1001", Method.QR)
    ]
    assert {d.kind for d in seen} <= {"checked_in", "repeat"}, "held up: a repeat, not an attack"
    # Forwarded to a colleague and shown again after the repeat window, then after a reboot.
    later = qr_kiosk.show("again", [code], start_s=70.0)
    assert {d.reason for d in later if d.kind == "refused"} == {
        "code was already used; show a fresh code"
    }
    qr_kiosk.restart()
    rebooted = qr_kiosk.show("rebooted", [code], start_s=75.0)
    assert rebooted and {d.kind for d in rebooted} == {"refused"}
    assert [r.event.person_id for r in qr_kiosk.outbox.rows()] == ["E1001"]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", "code expired"),
        ("not yet valid", "not valid yet"),
        ("forged", "forged code"),
        ("unknown key", "does not know"),
        ("static badge", "static badges are disabled"),
    ],
)
def test_bad_codes_are_refused_with_their_reason(qr_kiosk: Kiosk, case: str, expected: str):
    text = {
        "expired": lambda: qr_kiosk.code("E1002", issued_s=-200),
        "not yet valid": lambda: qr_kiosk.code("E1002", issued_s=+300),
        "forged": lambda: qr_kiosk.code("E1002", key=Ed25519PrivateKey.generate()),
        "unknown key": lambda: qr_kiosk.code("E1002", key_id="HR9"),
        "static badge": lambda: "ATT1:B:E1002",
    }[case]()
    seen = qr_kiosk.show(case.replace(" ", "-"), [text], start_s=1.0)
    refused = {d.reason or "" for d in seen if d.kind == "refused"}
    assert refused and all(expected in reason for reason in refused), refused
    assert _outcomes(seen) and all(kind == "refused" for kind, _ in _outcomes(seen))
    assert qr_kiosk.outbox.rows() == []


def test_a_colleagues_code_with_your_own_face_is_refused(
    tmp_path: Path, faces_dir: Path, engine: FaceEngine
) -> None:
    kiosk = Kiosk(tmp_path, "face_and_qr", engine)
    for person_id, identity in PEOPLE.items():
        enroll(
            kiosk.outbox.db,
            engine,
            person_id,
            person_id,
            [person_photo(faces_dir, identity, 1)],
            consent=TRANSFER,
        )
    kiosk.pipeline.reload()
    seen = kiosk.show("colleague", [kiosk.code("E1001")], start_s=1.0)
    assert [(d.kind, d.person_id) for d in seen if d.kind == "paired"] == [("paired", "E1001")]
    seen = play(kiosk.pipeline, face_frames(faces_dir, PEOPLE["E1002"], 3, 12), 3.0)
    refusals = [d.reason for d in seen if d.kind == "refused"]
    assert refusals[0] == "face_mismatch" and set(refusals[1:]) <= {"show_code_first"}
    assert kiosk.outbox.rows() == []
    # The owner, with a fresh code, is checked in by code and face.
    kiosk.show("owner", [kiosk.code("E1001", issued_s=10)], start_s=11.0)
    seen = play(kiosk.pipeline, face_frames(faces_dir, PEOPLE["E1001"], 3, 12), 13.0)
    assert [(d.person_id, d.method) for d in seen if d.kind == "checked_in"] == [
        ("E1001", Method.FACE_AND_QR)
    ]
    kiosk.outbox.close()


def test_a_code_is_burned_only_with_its_stored_check_in(qr_kiosk: Kiosk) -> None:
    """The nonce and the event commit in one transaction: when the event cannot be written
    (here SQLite itself refuses it), the person keeps both their check-in chance and their
    code, which checks in once the store takes writes again."""
    code = qr_kiosk.code("E1001")
    conn = qr_kiosk.outbox.db.conn
    conn.execute(
        "CREATE TRIGGER refuse_events BEFORE INSERT ON events"
        " BEGIN SELECT RAISE(ABORT, 'events refused by the test'); END"
    )
    blocked = _outcomes(qr_kiosk.show("blocked", [code], 1.0))
    assert ("refused", "E1001") in blocked and ("checked_in", "E1001") not in blocked
    assert conn.execute("SELECT count(*) FROM used_codes").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
    conn.execute("DROP TRIGGER refuse_events")
    after = _outcomes(qr_kiosk.show("after", [code], 5.0))
    assert after.count(("checked_in", "E1001")) == 1
    assert conn.execute("SELECT count(*) FROM used_codes").fetchone() == (1,)


def test_a_refused_signed_code_is_logged_with_its_reason_not_as_a_badge(
    qr_kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    expired = qr_kiosk.code("E1001", issued_s=0.0, ttl_s=30)
    with caplog.at_level(logging.INFO, logger="terminal.checkin.pipeline"):
        seen = _outcomes(qr_kiosk.show("expired", [expired], 120.0))
    assert ("checked_in", "E1001") not in seen
    lines = [r.getMessage() for r in caplog.records if "code refused" in r.getMessage()]
    assert lines, caplog.text
    assert all("[expired]" in line and "badge" not in line for line in lines), lines
