"""``kiosk keys generate`` and ``kiosk qr issue`` through the real CLI; QR size of signed codes."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import segno
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cli.main import main
from drivers.qr.base import QrDecoder
from drivers.qr.pyzbar_decoder import PyzbarDecoder
from drivers.qr.zxing_decoder import ZxingDecoder
from models.signed_code import issue_code, load_public_key, parse_code, verify_signature
from terminal.checkin.badges import QrClaim
from tests.signed_code_tools import NOW, make_checker


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with umask 0, so only the mode the code asks for protects a file."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_keys_generate_writes_a_0600_private_key_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hr-keys"
    assert main(["keys", "generate", "--out", str(out), "--key-id", "HR1"]) == 0
    assert "HR1.key (private" in capsys.readouterr().out
    private, public = out / "HR1.key", out / "HR1.pub"
    assert _mode(private) == 0o600
    assert _mode(public) == 0o644
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    load_public_key(public.read_bytes())
    before = private.read_bytes(), public.read_bytes()

    assert main(["keys", "generate", "--out", str(out), "--key-id", "HR1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("kiosk: error: ") and "already exists; not overwritten" in err
    assert (private.read_bytes(), public.read_bytes()) == before

    public.unlink()  # only the public half left over would still be refused
    (out / "HR1.pub").write_bytes(b"left over")
    private.unlink()
    assert main(["keys", "generate", "--out", str(out), "--key-id", "HR1"]) == 1
    assert not private.exists()

    assert main(["keys", "generate", "--out", str(out), "--key-id", "HR 1"]) == 1
    assert "key id 'HR 1' must be 1-16 characters" in capsys.readouterr().err


@pytest.mark.parametrize("decoder_type", [PyzbarDecoder, ZxingDecoder], ids=["pyzbar", "zxing"])
def test_qr_issue_prints_a_code_that_verifies_and_a_png_that_scans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], decoder_type: type[QrDecoder]
) -> None:
    keys = tmp_path / "keys"
    assert main(["keys", "generate", "--out", str(keys), "--key-id", "HR1"]) == 0
    capsys.readouterr()
    png = tmp_path / "code.png"
    args = ["qr", "issue", "--id", "E1001", "--key", str(keys / "HR1.key"), "--png", str(png)]
    assert main(args) == 0
    captured = capsys.readouterr()
    text = captured.out.strip()
    code = parse_code(text)
    assert (code.person_id, code.key_id, code.validity_s) == ("E1001", "HR1", 30)
    assert verify_signature(code, load_public_key((keys / "HR1.pub").read_bytes()))
    assert "QR version 7, level M" in captured.err

    image = cv2.imread(str(png))
    assert image is not None
    assert decoder_type().decode(image) == [text]
    checker = make_checker(tmp_path / "kiosk.db", keys)
    claim = checker.check(text)
    assert isinstance(claim, QrClaim) and claim.person_id == "E1001" and checker.consume(claim)

    issued = ["qr", "issue", "--id", "E1002", "--key", str(keys / "HR1.key")]
    assert main([*issued, "--key-id", "HR2", "--ttl", "90"]) == 0
    other = parse_code(capsys.readouterr().out.strip())
    assert (other.key_id, other.validity_s) == ("HR2", 90)


def test_qr_issue_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "HR1.key"
    garbage.write_text("not a key")
    ec_key = tmp_path / "EC1.key"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    cases = [
        (garbage, "HR1.key: not an unencrypted PEM private key"),
        (ec_key, "EC1.key: not an Ed25519 key"),
        (tmp_path / "none.key", "none.key: cannot read key"),
    ]
    for key, expected in cases:
        assert main(["qr", "issue", "--id", "E1001", "--key", str(key)]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("kiosk: error: ") and captured.err.count("\n") == 1
        assert expected in captured.err


@pytest.mark.parametrize(
    ("person_id", "key_id", "version"),
    [
        ("E1001", "HR1", 7),  # the typical code: 156 characters
        ("EMP-0000123456", "HR-2026-01", 7),
        ("EMPLOYEE-0000123456789012", "HR-ROTATION-2026", 8),  # 25 + 16 characters
        ("jdoe", "HR1", 7),  # lower case costs 3 characters a letter
        ("张三", "hr_2026", 8),
    ],
)
def test_signed_codes_fit_a_low_qr_version_at_level_m(
    person_id: str, key_id: str, version: int
) -> None:
    text = issue_code(Ed25519PrivateKey.generate(), key_id, person_id, now=NOW)
    symbol = segno.make_qr(text, error="m", boost_error=False)
    assert (symbol.version, symbol.mode) == (version, "alphanumeric"), len(text)
