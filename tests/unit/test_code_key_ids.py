"""Per-person QR key ids from the roster: a listed person's codes must come from a listed key."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.roster import RosterChunk, RosterPerson
from models.signed_code import issue_code
from terminal.checkin.badges import QrClaim, QrRefusal, RefusalCode
from terminal.checkin.code_checker import CodeChecker
from terminal.store.database import open_database
from terminal.store.rosters import RosterStore
from tests.signed_code_tools import NOW, at, hr_keys, make_checker

NOT_ALLOWED = "code signed with key 'HR2', which is not allowed for this person"


def apply_roster(db_file: Path, version: int, people: dict[str, list[str]]) -> None:
    """Apply a one-chunk roster of ``people`` (person id -> QR key ids) to ``db_file``."""
    persons = [RosterPerson(person_id=p, name=p, qr_key_ids=ids) for p, ids in people.items()]
    chunk = RosterChunk(
        roster_version=version, issued_at=NOW, chunk_index=0, chunk_count=1, people=persons
    )
    store = RosterStore(open_database(db_file))
    store.stage(chunk, "HR-ROSTER")
    store.apply(version)
    store.db.close()


def outcome(checker: CodeChecker, text: str) -> str:
    """``ok`` for a claim, else the refusal's machine code."""
    result = checker.check(text, now=at(1))
    return "ok" if isinstance(result, QrClaim) else result.code


def test_a_listed_person_needs_a_listed_key(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    db_file = tmp_path / "kiosk.db"
    apply_roster(db_file, 1, {"E1001": ["HR1", "HR9"], "E1002": []})
    checker = make_checker(db_file, tmp_path / "keys")
    assert outcome(checker, issue_code(keys["HR1"], "HR1", "E1001", now=NOW)) == "ok"
    refused = checker.check(issue_code(keys["HR2"], "HR2", "E1001", now=NOW), now=at(1))
    assert refused == QrRefusal(NOT_ALLOWED, RefusalCode.KEY_NOT_ALLOWED)
    # Someone without a listing takes any trusted key, as before rosters listed keys.
    assert outcome(checker, issue_code(keys["HR1"], "HR1", "E1002", now=NOW)) == "ok"
    assert outcome(checker, issue_code(keys["HR2"], "HR2", "E1002", now=NOW)) == "ok"
    # Not in the roster at all: the checker does not decide that (the pipeline says unknown).
    assert outcome(checker, issue_code(keys["HR2"], "HR2", "E7777", now=NOW)) == "ok"


def test_forged_and_unknown_keys_keep_their_own_reasons(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    db_file = tmp_path / "kiosk.db"
    apply_roster(db_file, 1, {"E1001": ["HR1"]})
    checker = make_checker(db_file, tmp_path / "keys")
    stranger = Ed25519PrivateKey.generate()
    assert outcome(checker, issue_code(stranger, "HR2", "E1001", now=NOW)) == "bad_signature"
    assert outcome(checker, issue_code(stranger, "HR1", "E1001", now=NOW)) == "bad_signature"
    assert outcome(checker, issue_code(stranger, "HR9", "E1001", now=NOW)) == "unknown_key"
    expired = issue_code(keys["HR2"], "HR2", "E1001", now=at(-600))
    assert outcome(checker, expired) == "key_not_allowed"  # the key is checked before time
    assert checker.check("ATT1:B:E1001", now=NOW) == QrClaim("E1001")  # static: unaffected


def test_a_database_without_any_roster_accepts_any_trusted_key(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    db_file = tmp_path / "kiosk.db"
    checker = make_checker(db_file, tmp_path / "keys")
    conn = sqlite3.connect(db_file)
    (rows,) = conn.execute("SELECT count(*) FROM person_qr_keys").fetchone()
    conn.close()
    assert rows == 0  # no roster has named any person's keys yet
    for key_id in ("HR1", "HR2"):
        assert outcome(checker, issue_code(keys[key_id], key_id, "E1001", now=NOW)) == "ok"


def test_a_new_roster_applies_from_the_next_code(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    db_file = tmp_path / "kiosk.db"
    checker = make_checker(db_file, tmp_path / "keys")  # made before any roster
    hr2 = issue_code(keys["HR2"], "HR2", "E1001", now=NOW)
    hr1 = issue_code(keys["HR1"], "HR1", "E1001", now=NOW)
    assert outcome(checker, hr2) == "ok"
    apply_roster(db_file, 1, {"E1001": ["HR1"]})  # another connection, as the sync's
    assert outcome(checker, hr2) == "key_not_allowed"
    assert outcome(checker, hr1) == "ok"
    apply_roster(db_file, 2, {"E1001": ["HR2"]})
    assert outcome(checker, hr2) == "ok"
    assert outcome(checker, hr1) == "key_not_allowed"
    apply_roster(db_file, 3, {"E1001": []})
    assert outcome(checker, hr1) == outcome(checker, hr2) == "ok"
