"""Checks on a terminal's TLS files before they are installed (uses ``cryptography``)."""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from common.errors import ConfigError


def load_certificate(pem: bytes, what: str) -> x509.Certificate:
    """Parse a PEM certificate or raise a one-line :class:`ConfigError` naming ``what``."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ConfigError(f"{what} is not a PEM certificate") from None


def common_name(certificate: x509.Certificate) -> str | None:
    """The subject's Common Name, if it has one."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def check_client_pair(
    cert_pem: bytes, key_pem: bytes, terminal_id: str, ca_pem: bytes | None = None
) -> x509.Certificate:
    """Check a terminal's client certificate and key belong together and to ``terminal_id``.

    Refused: a key that is not the certificate's, a key protected by a passphrase (the daemon
    starts unattended), an expired or not yet valid certificate, a Common Name other than the
    terminal id (the broker's ACL maps the CN to the topics), and, when ``ca_pem`` is given,
    a certificate that CA did not issue.
    """
    certificate = load_certificate(cert_pem, "--cert")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise ConfigError("--key has a passphrase: the daemon cannot unlock it") from None
    except ValueError:
        raise ConfigError("--key is not a PEM private key") from None
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, raw) != certificate.public_key().public_bytes(
        encoding, raw
    ):
        raise ConfigError("--key is not the private key of --cert")
    now = datetime.now(UTC)
    if certificate.not_valid_after_utc < now:
        raise ConfigError(f"--cert expired on {certificate.not_valid_after_utc:%Y-%m-%d}")
    if certificate.not_valid_before_utc > now:
        raise ConfigError(f"--cert is not valid before {certificate.not_valid_before_utc:%Y-%m-%d}")
    name = common_name(certificate)
    if name != terminal_id:
        raise ConfigError(
            f"--cert is issued to {name!r}, not to terminal {terminal_id!r}: the broker's ACL"
            " would refuse its topics"
        )
    if ca_pem is not None:
        authority = load_certificate(ca_pem, "--ca")
        try:
            certificate.verify_directly_issued_by(authority)
        except (InvalidSignature, ValueError, TypeError) as exc:
            raise ConfigError(f"--cert was not issued by --ca ({type(exc).__name__})") from None
    return certificate
