"""``kiosk doctor``'s checks of key material: TLS files, secret files, signed-code keys.

Uses ``cryptography`` to read certificates and keys, never a network connection (the broker
check does the handshake).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from common.code_keys import MAX_KEY_FILE_BYTES, SUFFIX
from models.signed_code import KEY_ID_PATTERN, load_public_key
from terminal.config import Config
from terminal.doctor.result import CheckResult, Findings, Status, failed, passed

EXPIRY_WARN_DAYS = 30
SERVICE_USER = "kiosk"
"""The user systemd/kiosk.service runs the kiosk as."""

_RENEW_HINT = "issue a new certificate before it expires and install it"
_DATES_HINT = "check the clock (see the clock line) or the certificate's dates"


def _read(label: str, path: Path, findings: Findings) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        hint = f"make {path} readable by the kiosk user"
        findings.add(Status.FAIL, f"{label} {path}: cannot read: {exc.strerror}", hint)
        return None


def _common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else "?"
    return value.decode() if isinstance(value, bytes) else value


def _validity(cert: x509.Certificate, label: str, findings: Findings) -> None:
    now = datetime.now(UTC)
    until = cert.not_valid_after_utc
    day = until.date().isoformat()
    if until <= now:
        hint = f"{_RENEW_HINT} ({_DATES_HINT})"
        findings.add(Status.FAIL, f"{label} expired on {day}", hint)
    elif cert.not_valid_before_utc > now:
        since = cert.not_valid_before_utc.date().isoformat()
        findings.add(Status.FAIL, f"{label} is not valid before {since}", _DATES_HINT)
    else:
        left = until - now
        status = Status.WARN if left.days < EXPIRY_WARN_DAYS else Status.PASS
        remaining = (
            f"{left.days} days" if left.days >= 2 else f"{left.total_seconds() / 3600:.0f} h"
        )
        findings.add(status, f"{label} valid until {day} ({remaining} left)", _RENEW_HINT)


def _load_certificates(label: str, path: Path, findings: Findings) -> list[x509.Certificate]:
    data = _read(label, path, findings)
    if data is None:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        findings.add(Status.FAIL, f"{label} {path}: not a PEM certificate", f"replace {path}")
        return []


def _public_der(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _check_identity(cert_file: Path, key_file: Path, terminal_id: str, findings: Findings) -> str:
    """Check the client certificate and its key; return the certificate's CN ("" if unread)."""
    certs = _load_certificates("cert_file", cert_file, findings)
    cert = certs[0] if certs else None
    common_name = ""
    if cert is not None:
        common_name = _common_name(cert)
        _validity(cert, f"cert_file CN={common_name}", findings)
        if common_name != terminal_id:
            hint = (
                f"the broker takes the CN as the user name for its ACL: issue the certificate"
                f" for CN={terminal_id}"
            )
            findings.add(Status.WARN, f"CN is not the terminal id {terminal_id!r}", hint)
    data = _read("key_file", key_file, findings)
    if data is None:
        return common_name
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        hint = f"the kiosk needs an unencrypted key: openssl pkey -in {key_file} -out NEW.key"
        findings.add(Status.FAIL, f"key_file {key_file} is encrypted", hint)
        return common_name
    except (ValueError, UnsupportedAlgorithm):
        findings.add(Status.FAIL, f"key_file {key_file}: not a PEM private key", "replace it")
        return common_name
    if cert is not None:
        if _public_der(key.public_key()) == _public_der(cert.public_key()):
            findings.add(Status.PASS, "key matches")
        else:
            hint = "install the key made together with this certificate, or a certificate for it"
            findings.add(Status.FAIL, "key_file does not belong to cert_file", hint)
    return common_name


def check_tls(config: Config) -> CheckResult:
    """The ``[mqtt]`` TLS files: readable, in date (warning under 30 days), key matching cert."""
    mqtt = config.mqtt
    if mqtt is None:
        return passed("tls", "not used: no [mqtt] section (offline-only)")
    if urlsplit(mqtt.url).scheme != "mqtts":
        return passed("tls", "not used: [mqtt] url is mqtt:// (no TLS)")
    if mqtt.ca_file is None and mqtt.cert_file is None:
        return passed("tls", "mqtts:// with the system CAs, no client certificate")
    findings = Findings()
    data: dict[str, Any] = {}
    if mqtt.ca_file is not None:
        cas = _load_certificates("ca_file", mqtt.ca_file, findings)
        if cas:
            first = min(cas, key=lambda cert: cert.not_valid_after_utc)
            _validity(first, f"ca_file CN={_common_name(first)}", findings)
    if mqtt.cert_file is not None and mqtt.key_file is not None:
        data["cn"] = _check_identity(mqtt.cert_file, mqtt.key_file, config.terminal.id, findings)
    return findings.result("tls", **data)


def _service_user_can_read(info: os.stat_result) -> bool | None:
    """Whether the kiosk's service user may read a file, by its mode bits; None: cannot tell."""
    try:
        user = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    if user.pw_uid in (0, os.geteuid()):
        return None  # root, or we are that user: reading it here was the answer
    if info.st_uid == user.pw_uid:
        return bool(info.st_mode & stat.S_IRUSR)
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IRGRP)
    return bool(info.st_mode & stat.S_IROTH)


def _check_secret(label: str, path: Path, findings: Findings) -> None:
    install = f"chown {SERVICE_USER} {path} && chmod 600 {path}"
    try:
        info = path.stat()
        content = path.read_bytes()
    except OSError as exc:
        findings.add(Status.FAIL, f"{label} {path}: cannot read: {exc.strerror}", install)
        return
    mode = stat.S_IMODE(info.st_mode)
    if not content.strip():
        findings.add(Status.FAIL, f"{label} {path} is empty", "write the secret into it")
    elif _service_user_can_read(info) is False:
        detail = f"{label} {path}: the {SERVICE_USER} user cannot read it (mode {mode:04o})"
        findings.add(Status.FAIL, detail, install)
    elif mode & 0o077:
        detail = f"{label} {path}: mode {mode:04o}, group or others may read it"
        findings.add(Status.WARN, detail, f"chmod 600 {path}")
    else:
        findings.add(Status.PASS, f"{label} {path}: mode {mode:04o}")


def check_credentials(config: Config) -> CheckResult:
    """Secret files (password_file, key_file): readable, not open to group or others."""
    mqtt = config.mqtt
    secrets = [] if mqtt is None else [
        (label, path)
        for label, path in (("password_file", mqtt.password_file), ("key_file", mqtt.key_file))
        if path is not None
    ]  # fmt: skip
    if not secrets:
        return passed("credentials", "no secret files configured")
    findings = Findings()
    for label, path in secrets:
        _check_secret(label, path, findings)
    return findings.result("credentials")


def _key_problem(path: Path) -> str | None:
    """Why the kiosk would skip this key file (the rules of common.code_keys), or None."""
    if not re.fullmatch(KEY_ID_PATTERN, path.name.removesuffix(SUFFIX)):
        return "the key id (file name) must be 1-16 characters of A-Z a-z 0-9 _ -"
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            return "too large for a public key file"
        load_public_key(path.read_bytes())
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    except ValueError as exc:
        return str(exc).partition(" (")[0]
    return None


def check_signing_keys(config: Config) -> CheckResult:
    """``[qr] public_keys_dir``: readable, and every ``*.pub`` an Ed25519 public key (PEM)."""
    directory = config.qr.public_keys_dir
    if directory is None:
        return passed("qr-keys", "not configured: signed QR codes are refused")
    setup = f"put the HR system's <key id>.pub files (PEM, Ed25519) in {directory}"
    try:
        files = sorted(path for path in directory.iterdir() if path.name.endswith(SUFFIX))
    except OSError as exc:
        return failed("qr-keys", f"{directory}: cannot list: {exc.strerror}", setup)
    findings = Findings()
    good: list[str] = []
    for path in files:
        problem = _key_problem(path)
        if problem is None:
            good.append(path.name.removesuffix(SUFFIX))
        else:
            findings.add(Status.FAIL, f"{path.name}: {problem}, the kiosk skips it", setup)
    if not files:
        findings.add(Status.WARN, f"{directory}: no *.pub key, signed codes are refused", setup)
    elif good:
        findings.add(Status.PASS, f"{directory}: {len(good)} Ed25519 keys ({', '.join(good)})")
    return findings.result("qr-keys", keys=good)
