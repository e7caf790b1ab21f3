"""CodeChecker state: used nonces in the real kiosk.db across restarts, and the key folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from models.signed_code import issue_code, sign_claims
from terminal.checkin.badges import QrClaim, QrRefusal
from terminal.checkin.code_checker import CodeChecker
from tests.signed_code_tools import NOW, Clock, at, hr_keys, make_checker, write_public_key


def _claim(checker: CodeChecker, text: str, seconds: float = 0) -> QrClaim:
    result = checker.check(text, now=at(seconds))
    assert isinstance(result, QrClaim), result
    return result


def _refusal_code(checker: CodeChecker, text: str, seconds: float = 0) -> str:
    result = checker.check(text, now=at(seconds))
    assert isinstance(result, QrRefusal), result
    return result.code


def _used_rows(checker: CodeChecker) -> list[tuple[str, str]]:
    return checker.db.conn.execute("SELECT person_id, nonce FROM used_codes").fetchall()


def test_a_used_code_stays_used_after_a_restart(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    nonce = bytes(range(8))
    first = sign_claims(keys["HR1"], "HR1", "E1001", int(NOW.timestamp()), 1767225630, nonce)
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")
    assert checker.consume(_claim(checker, first), now=NOW)
    checker.db.conn.close()

    restarted = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")
    assert _refusal_code(restarted, first, 5) == "replayed"
    # Keyed by (key id, nonce): the same nonce from the other HR key is another code.
    other = sign_claims(keys["HR2"], "HR2", "E1001", int(NOW.timestamp()), 1767225630, nonce)
    assert restarted.consume(_claim(restarted, other, 5), now=at(5))


def test_two_sightings_racing_for_one_code_consume_it_once(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    text = issue_code(keys["HR1"], "HR1", "E1001", now=NOW)
    one = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")
    two = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")  # its own connection
    claim_one, claim_two = _claim(one, text), _claim(two, text)
    assert one.consume(claim_one, now=NOW)
    assert not two.consume(claim_two, now=NOW)
    assert _refusal_code(two, text, 1) == "replayed"
    assert len(_used_rows(one)) == 1


def test_used_nonces_are_purged_but_a_clock_set_back_cannot_revive_them(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    clock = Clock(synced=True)
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", clock, clock_skew_s=60)
    early = issue_code(keys["HR1"], "HR1", "EARLY", now=NOW)
    assert checker.consume(_claim(checker, early), now=NOW)
    late = issue_code(keys["HR1"], "HR1", "LATE", now=at(4000))
    assert checker.consume(_claim(checker, late, 4000), now=at(4000))
    assert [person for person, _ in _used_rows(checker)] == ["LATE"]  # EARLY can't verify

    # The clock goes back to NOW: EARLY is inside its window again, and forgotten, yet refused.
    assert _refusal_code(checker, early) == "expired"
    clock.synced = False
    assert _refusal_code(checker, early) == "clock_not_synchronised"
    restarted = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", clock)
    assert _refusal_code(restarted, early) == "clock_not_synchronised"

    # Nothing is purged while the clock is not synchronised, even far ahead.
    ahead = issue_code(keys["HR1"], "HR1", "AHEAD", now=at(90000))
    assert restarted.consume(_claim(restarted, ahead, 90000), now=at(90000))
    assert sorted(person for person, _ in _used_rows(restarted)) == ["AHEAD", "LATE"]
    assert _refusal_code(restarted, late, 4001) == "replayed"


def test_unsynchronised_clock_still_accepts_codes_valid_by_the_local_clock(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", Clock(synced=False))
    text = issue_code(keys["HR1"], "HR1", "E1001", now=NOW)
    assert checker.consume(_claim(checker, text, 10), now=at(10))
    assert _refusal_code(checker, text, 11) == "replayed"
    forged = issue_code(Ed25519PrivateKey.generate(), "HR1", "E1001", now=at(-9999))
    assert _refusal_code(checker, forged) == "bad_signature"  # not blamed on the clock


def test_keys_rotate_by_adding_and_removing_files(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    keys = hr_keys(folder, "HR1", "HR2")
    checker = make_checker(tmp_path / "kiosk.db", folder)
    assert checker.keys is not None and checker.keys.key_ids == ["HR1", "HR2"]
    by_one = issue_code(keys["HR1"], "HR1", "E1001", now=NOW)
    by_two = issue_code(keys["HR2"], "HR2", "E1002", now=NOW)
    assert _claim(checker, by_one).person_id == "E1001"
    assert _claim(checker, by_two).person_id == "E1002"

    checker.keys.check_every_s = 1e9  # no look at the folder until the test says so
    (folder / "HR1.pub").unlink()
    keys |= hr_keys(folder, "HR3")
    replaced = write_public_key(folder, "HR2", Ed25519PrivateKey.generate())
    os.utime(replaced, ns=(1, 1))  # replaced in place: a different mtime tells it
    assert _claim(checker, by_one).person_id == "E1001"  # not looked at again yet
    checker.keys.check_every_s = 0  # every use looks now
    assert _refusal_code(checker, by_one) == "unknown_key"
    assert _refusal_code(checker, by_two) == "bad_signature"
    assert _claim(checker, issue_code(keys["HR3"], "HR3", "E1003", now=NOW)).key_id == "HR3"
    assert checker.keys.key_ids == ["HR2", "HR3"]


def test_bad_key_files_are_logged_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "keys"
    keys = hr_keys(folder, "HR1")
    (folder / "garbage.pub").write_text("hello\n")
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (folder / "EC1.pub").write_bytes(
        ec_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    (folder / "PRIV.pub").write_bytes(
        keys["HR1"].private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    write_public_key(folder, "bad name!", Ed25519PrivateKey.generate())
    (folder / "HUGE.pub").write_bytes(b"-" * 100_000)
    (folder / "DIR.pub").mkdir()
    (folder / "notes.txt").write_text("not a key file: ignored quietly\n")
    with caplog.at_level(logging.WARNING, logger="common.code_keys"):
        checker = make_checker(tmp_path / "kiosk.db", folder)
    assert checker.keys is not None and checker.keys.key_ids == ["HR1"]
    skipped = sorted(record.getMessage().split(":")[0] for record in caplog.records)
    names = ["DIR.pub", "EC1.pub", "HUGE.pub", "PRIV.pub", "bad name!.pub", "garbage.pub"]
    assert skipped == [str(folder / name) for name in names]
    assert "not an Ed25519 key but" in caplog.text
    assert _claim(checker, issue_code(keys["HR1"], "HR1", "E1001", now=NOW)).key_id == "HR1"


def test_a_missing_key_folder_means_no_keys_until_it_appears(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "keys"
    checker = make_checker(tmp_path / "kiosk.db", folder)
    assert "key folder missing or unreadable" in caplog.text
    key = Ed25519PrivateKey.generate()
    text = issue_code(key, "HR1", "E1001", now=NOW)
    assert _refusal_code(checker, text) == "unknown_key"
    write_public_key(folder, "HR1", key)
    assert checker.keys is not None
    checker.keys.refresh()
    assert _claim(checker, text).person_id == "E1001"
