"""Signed short-lived QR codes: the format, and every answer of the kiosk's CodeChecker."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from models.signed_code import (
    CodeFormatError,
    issue_code,
    parse_code,
    sign_claims,
    verify_signature,
)
from terminal.checkin.badges import QrClaim, QrRefusal, RefusalCode
from tests.signed_code_tools import NOW, Clock, at, hr_keys, make_checker

RFC8032_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
VECTOR = (
    "ATT1:S:E1001.1767225600.1767225630.AAAQEAYEAUDAO.HR1.JVD2BCCQGI746JCXFSIEKWEBZ7F64TEVBKE"
    "CUFPPP5E4Z5DHUHRBVTAUD3OKVFCXCVMC2K75ZDGVTMGFWFWH6CPQLGFM6HE44RCEUAA"
)
QR_ALPHANUMERIC = set(string.ascii_uppercase + string.digits + " $%*+-./:")


def test_the_test_vector_of_the_spec_is_reproduced_and_verifies() -> None:
    text = sign_claims(RFC8032_KEY, "HR1", "E1001", 1767225600, 1767225630, bytes(range(8)))
    assert text == VECTOR
    assert len(text) == 156
    code = parse_code(text)
    assert (code.person_id, code.key_id, code.nonce) == ("E1001", "HR1", "AAAQEAYEAUDAO")
    assert (code.issued_at, code.expires_at, code.validity_s) == (1767225600, 1767225630, 30)
    assert code.signed_text == text[: text.rindex(".")]
    assert verify_signature(code, RFC8032_KEY.public_key())
    assert not verify_signature(code, Ed25519PrivateKey.generate().public_key())


def test_unusual_ids_round_trip_in_qr_alphanumeric_text() -> None:
    pem = RFC8032_KEY.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    text = issue_code(pem, "hr_2025-b", "张三/01.a b", ttl_s=45, now=NOW)
    assert set(text) <= QR_ALPHANUMERIC
    code = parse_code(text)
    assert (code.person_id, code.key_id) == ("张三/01.a b", "hr_2025-b")
    assert (code.issued_at, code.expires_at) == (int(NOW.timestamp()), int(NOW.timestamp()) + 45)
    assert verify_signature(code, RFC8032_KEY.public_key())
    other = parse_code(issue_code(RFC8032_KEY, "hr_2025-b", "张三/01.a b", ttl_s=45, now=NOW))
    assert other.nonce != code.nonce  # 64 random bits each time


@pytest.mark.parametrize(
    ("key_id", "person_id", "ttl_s", "message"),
    [
        ("HR.1", "E1001", 30, "key id"),
        ("K" * 17, "E1001", 30, "key id"),
        ("HR1", "", 30, "person id"),
        ("HR1", " E1001", 30, "person id"),
        ("HR1", "E1001", 0, "ttl_s"),
        ("HR1", "E1001", 2.5, "ttl_s"),
    ],
)
def test_issue_code_refuses_bad_arguments(
    key_id: str, person_id: str, ttl_s: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issue_code(RFC8032_KEY, key_id, person_id, ttl_s=ttl_s, now=NOW)
    with pytest.raises(ValueError, match="PEM"):
        issue_code(b"not a key", "HR1", "E1001")


def _field(index: int, value: str) -> str:
    fields = VECTOR.removeprefix("ATT1:S:").split(".")
    fields[index] = value
    return "ATT1:S:" + ".".join(fields)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ATT1:S:hello", "has 1 fields instead of 6"),
        (VECTOR + ".X", "has 7 fields"),
        (VECTOR.replace("ATT1:S:", "ATT1:B:"), "does not start with ATT1:S:"),
        (VECTOR + "A" * 400, "longer than 512"),
        (_field(0, "e1001"), "person id is not percent-encoded"),
        (_field(0, "%451001"), "person id is not in canonical form"),
        (_field(0, "%FF"), "person id is not UTF-8"),
        (_field(0, "E%0A1"), "control characters"),
        (_field(0, "%20E1001"), "must not start or end with a space"),
        (_field(0, "E" * 65), "1-64 characters"),
        (_field(1, "01767225600"), "issue time is not a decimal unix time"),
        (_field(2, "-1"), "expiry is not a decimal unix time"),
        (_field(2, "1767225600"), "expiry is not after the issue time"),
        (_field(3, "aaaqeayeaudao"), "nonce is not base32"),
        (_field(3, "AAAQEAYEAUDAP"), "nonce is not in canonical base32"),  # a stray low bit
        (_field(3, "AAAQEAYEAUD"), "nonce is not base32"),  # impossible length
        (_field(3, "AAAQEAYEAUDA"), "nonce has 7 bytes"),
        (_field(4, "K" * 17), "key id"),
        (_field(4, "HR%2E1"), "key id"),
        (_field(5, "JVD2BCCQ"), "signature has 5 bytes"),
    ],
)
def test_garbled_codes_are_refused_with_a_reason(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(CodeFormatError, match=reason) as raised:
        parse_code(text)
    assert reason in raised.value.reason
    if text.startswith("ATT1:S:"):
        checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")
        refusal = checker.check(text, now=NOW)
        assert refusal == QrRefusal(f"garbled signed code: {raised.value.reason}", "malformed")


def test_each_refusal_has_its_own_code_and_sentence(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", static_badges=False)
    stranger = Ed25519PrivateKey.generate()
    good = issue_code(keys["HR1"], "HR1", "E1001", now=NOW)
    cases = {
        RefusalCode.MALFORMED: "ATT1:S:garbage",
        RefusalCode.UNKNOWN_KEY: issue_code(stranger, "HR9", "E1001", now=NOW),
        RefusalCode.BAD_SIGNATURE: issue_code(stranger, "HR1", "E1001", now=NOW),
        RefusalCode.VALIDITY_TOO_LONG: issue_code(keys["HR1"], "HR1", "E1001", 601, now=NOW),
        RefusalCode.EXPIRED: issue_code(keys["HR1"], "HR1", "E1001", now=at(-600)),
        RefusalCode.NOT_YET_VALID: issue_code(keys["HR1"], "HR1", "E1001", now=at(600)),
        RefusalCode.STATIC_DISABLED: "ATT1:B:E1001",
        RefusalCode.NOT_A_BADGE: "https://example.com/E1001",
    }
    reasons = set()
    for code, text in cases.items():
        result = checker.check(text, now=NOW)
        assert isinstance(result, QrRefusal), code
        assert result.code == code, (code, result)
        reasons.add(result.reason)
    relabelled = good.replace("E1001", "E1002", 1)  # someone else's id on a genuine code
    assert checker.check(relabelled, now=NOW) == QrRefusal(
        "forged code: the signature does not match key 'HR1'", "bad_signature"
    )
    claim = checker.check(good, now=NOW)
    assert isinstance(claim, QrClaim)
    assert (claim.kind, claim.person_id, claim.key_id) == ("signed", "E1001", "HR1")
    assert claim.expires_at == at(30)
    assert checker.consume(claim, now=NOW)
    replayed = checker.check(good, now=at(1))
    assert replayed == QrRefusal("code was already used; show a fresh code", "replayed")
    checker.clock_synced = Clock(synced=False)
    late = checker.check(cases[RefusalCode.EXPIRED], now=NOW)
    assert isinstance(late, QrRefusal) and late.code == "clock_not_synchronised"
    assert late.reason.startswith("kiosk clock not synchronised: by its clock the code expired")
    disabled = make_checker(tmp_path / "kiosk.db", None).check(good, now=NOW)
    assert isinstance(disabled, QrRefusal) and disabled.code == "signed_disabled"
    reasons |= {replayed.reason, late.reason, disabled.reason}
    assert len(reasons) == len(cases) + 3  # one sentence per reason, none shared


def test_static_badges_share_the_entry_point_and_need_no_consuming(tmp_path: Path) -> None:
    checker = make_checker(tmp_path / "kiosk.db", None)
    claim = checker.check("ATT1:B:E1001", now=NOW)
    assert claim == QrClaim("E1001")
    assert isinstance(claim, QrClaim) and checker.consume(claim) and checker.consume(claim)
    refusal = checker.check("ATT2:B:E1001")
    assert isinstance(refusal, QrRefusal) and refusal.code == "unsupported_version"
    garbled = make_checker(tmp_path / "kiosk.db", tmp_path).check("ATT1:S")
    assert garbled == QrRefusal("garbled signed code: does not start with ATT1:S:", "malformed")


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-60.001, "not_yet_valid"),  # issued more than clock_skew_s ahead of this clock
        (-60.0, "ok"),
        (0.0, "ok"),
        (89.999, "ok"),  # expires at +30, plus 60 s of skew
        (90.0, "expired"),
    ],
)
def test_clock_skew_edges(tmp_path: Path, offset: float, expected: str) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", clock_skew_s=60)
    result = checker.check(issue_code(keys["HR1"], "HR1", "E1001", now=NOW), now=at(offset))
    assert (result.code if isinstance(result, QrRefusal) else "ok") == expected


def test_validity_limit_is_inclusive_and_configurable(tmp_path: Path) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1")
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys", max_validity_s=120)
    assert isinstance(checker.check(issue_code(keys["HR1"], "HR1", "E1", 120, NOW), NOW), QrClaim)
    refusal = checker.check(issue_code(keys["HR1"], "HR1", "E1", 121, NOW), NOW)
    assert isinstance(refusal, QrRefusal)
    assert refusal.reason == "code is valid for 121 s, longer than the 120 s this terminal allows"
