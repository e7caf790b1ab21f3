"""``kiosk keys generate`` and ``kiosk qr issue``: signing keys and signed codes from the shell.

The private key belongs to the HR system (the issuer); kiosks only get ``<key id>.pub`` in
their ``[qr] public_keys_dir``. ``qr issue`` sits in the ``qr`` group of :mod:`cli.main`,
next to ``qr badge`` (:mod:`cli.people`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from common.errors import KioskError
from models.signed_code import DEFAULT_TTL_S, KEY_ID_PATTERN, issue_code, load_private_key

PNG_SCALE = 8
QUIET_ZONE = 4


@click.group()
def keys() -> None:
    """Ed25519 key pairs for signed QR codes."""


@keys.command("generate")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder for ID.key and ID.pub (created if missing).",
)
@click.option(
    "--key-id",
    required=True,
    help="1-16 characters of A-Z a-z 0-9 _ - (upper case keeps codes shortest).",
)
def generate(out_dir: Path, key_id: str) -> None:
    """Write ID.key (private, mode 0600, for the HR system) and ID.pub (for the kiosks)."""
    if not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise KioskError(f"key id {key_id!r} must be 1-16 characters of A-Z a-z 0-9 _ -")
    private_path, public_path = out_dir / f"{key_id}.key", out_dir / f"{key_id}.pub"
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise KioskError(f"{path} already exists; not overwritten (choose another key id)")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KioskError(f"{out_dir}: cannot create folder: {exc.strerror or exc}") from None
    _write_new(private_path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except KioskError:
        private_path.unlink()
        raise
    click.echo(f"wrote {private_path} (private: keep it on the HR system only)")
    click.echo(f"wrote {public_path} (copy it into each kiosk's [qr] public_keys_dir)")


@click.command("issue")
@click.option("--id", "person_id", required=True, help="The person's id.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The HR system's private key (PEM, from `kiosk keys generate`).",
)
@click.option("--key-id", help="Key id the kiosks know the key by (default: the file's stem).")
@click.option(
    "--ttl",
    type=click.IntRange(min=1),
    default=DEFAULT_TTL_S,
    show_default=True,
    help="Seconds the code is valid (kiosks refuse more than [qr] max_validity_s).",
)
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False), help="Also write a PNG.")
@click.option(
    "--enroll",
    is_flag=True,
    help="An enrollment code (ATT1:E:): shown by an admin at a kiosk, it lets the face in front"
    " of the camera be enrolled as this person, on that kiosk only. Issue it only once the"
    " person has given their separate consent; keep --ttl short (e.g. 300).",
)
def qr_issue(
    person_id: str, key_path: Path, key_id: str | None, ttl: int, png: Path | None, enroll: bool
) -> None:
    """Print a signed short-lived code for a person (and write it as a QR PNG): a check-in
    code, or with --enroll an enrollment code for enrolling their face at a kiosk."""
    try:
        pem = key_path.read_bytes()
    except OSError as exc:
        raise KioskError(f"{key_path}: cannot read key: {exc.strerror or exc}") from None
    try:
        code = issue_code(load_private_key(pem), key_id or key_path.stem, person_id, ttl_s=ttl,
                          kind="enroll" if enroll else "checkin")  # fmt: skip
    except ValueError as exc:
        raise KioskError(f"{key_path}: {exc}") from None
    click.echo(code)
    if png is not None:
        write_code_png(code, png)


def write_code_png(text: str, png: Path) -> None:
    """Write ``text`` as a QR code PNG (level M, a phone-screen scale) and say so on stderr;
    :class:`KioskError` when the file cannot be written."""
    symbol = segno.make_qr(text, error="m")
    try:
        symbol.save(str(png), kind="png", scale=PNG_SCALE, border=QUIET_ZONE)
    except OSError as exc:
        raise KioskError(f"{png}: cannot write: {exc.strerror or exc}") from None
    click.echo(f"wrote {png} (QR version {symbol.version}, level {symbol.error})", err=True)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (never wider), refusing an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise KioskError(f"{path} already exists; not overwritten") from None
    except OSError as exc:
        raise KioskError(f"{path}: cannot create: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise KioskError(f"{path}: cannot write: {exc.strerror or exc}") from None
