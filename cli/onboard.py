"""``kiosk onboard``: the central side of scan-to-provision (provisioning codes, enrollment).

``onboard code`` signs a provisioning code for one terminal with the organisation's key (from
``kiosk keys generate``) and prints it (and writes it as a QR PNG); ``onboard serve`` runs the
enrollment service that answers kiosks that scanned one (:mod:`central.onboarding.serve`).
"""

from __future__ import annotations

import threading
from pathlib import Path

import click
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from central.onboarding.serve import DEFAULT_CLIENT_ID, EnrollServer
from central.onboarding.service import EnrollService
from central.onboarding.tokens import TokenStore
from cli.central_options import (
    EXISTING_FILE,
    broker_login,
    broker_login_options,
    database_option,
    load_signing_key,
    stop_on_signals,
)
from cli.codes import write_code_png
from common.code_keys import PublicKeys
from common.errors import KioskError
from common.mqtt.types import LinkOptions
from models.provisioning_code import (
    DEFAULT_TOPIC_PREFIX,
    DEFAULT_TTL_S,
    MAX_VALIDITY_S,
    ca_fingerprint,
    issue_provisioning_code,
)

EXISTING_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_CA_KEYS = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


@click.group("onboard")
def onboard() -> None:
    """Scan-to-provision: provisioning codes and the enrollment service."""


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KioskError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None


@onboard.command("code")
@click.option("--terminal-id", required=True, help="The terminal id the kiosk takes.")
@click.option("--site", required=True, help="Its site or building.")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="mqtts://host:port")
@click.option("--enroll", "enroll_url", required=True, metavar="URL", help="mqtts://host:port")
@click.option("--ca", "ca_file", required=True, type=EXISTING_FILE, help="Broker CA (PEM).")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=EXISTING_FILE,
    help="The organisation's Ed25519 private key (PEM, from `kiosk keys generate`).",
)
@click.option("--key-id", help="Id the service knows the key by [the file's stem].")
@click.option(
    "--ttl",
    type=click.IntRange(1, MAX_VALIDITY_S),
    default=DEFAULT_TTL_S,
    show_default=True,
    help="Seconds the code is valid.",
)
@click.option("--prefix", default=DEFAULT_TOPIC_PREFIX, show_default=True, help="Topic prefix.")
@click.option("--issuer", default=None, help="Who issues it (shown in the kiosk's log).")
@click.option("--png", type=click.Path(path_type=Path, dir_okay=False), help="Also write a PNG.")
def code(
    terminal_id: str,
    site: str,
    broker_url: str,
    enroll_url: str,
    ca_file: Path,
    key_path: Path,
    key_id: str | None,
    ttl: int,
    prefix: str,
    issuer: str | None,
    png: Path | None,
) -> None:
    """Print a signed provisioning code for one terminal (and write it as a QR PNG).

    The code is ATT1:P:<JWT>; its one-time token is accepted once by `kiosk onboard serve`.
    """
    key_id = key_id or key_path.stem
    private_key = load_signing_key(key_path, key_id)
    try:
        ca_sha256 = ca_fingerprint(_read(ca_file, "the CA certificate"))
    except ValueError as exc:
        raise KioskError(f"{ca_file}: not a PEM certificate: {exc}") from None
    try:
        text = issue_provisioning_code(
            private_key,
            key_id,
            terminal_id=terminal_id,
            site=site,
            broker_url=broker_url,
            enroll_url=enroll_url,
            ca_sha256=ca_sha256,
            ttl_s=ttl,
            topic_prefix=prefix,
            issuer=issuer,
        )
    except ValueError as exc:
        raise KioskError(f"cannot issue the code: {exc}") from None
    click.echo(text)
    if png is not None:
        write_code_png(text, png)


def _load_ca(cert_file: Path, key_file: Path) -> tuple[x509.Certificate, object]:
    try:
        certificate = x509.load_pem_x509_certificate(_read(cert_file, "the CA certificate"))
    except ValueError as exc:
        raise KioskError(f"{cert_file}: not a PEM certificate: {exc}") from None
    try:
        key = load_pem_private_key(_read(key_file, "the CA key"), password=None)
    except (ValueError, TypeError) as exc:
        raise KioskError(f"{key_file}: not an unencrypted PEM private key: {exc}") from None
    return certificate, key


@onboard.command("serve")
@click.option("--broker", "broker_url", required=True, metavar="URL", help="The main listener.")
@click.option("--ca-cert", required=True, type=EXISTING_FILE, help="The broker CA (PEM).")
@click.option("--ca-key", required=True, type=EXISTING_FILE, help="Its private key (PEM).")
@click.option(
    "--org-keys", required=True, type=EXISTING_DIR, help="Folder of <key id>.pub public keys."
)
@database_option("The used tokens' database (an SQLite file is created if needed).")
@click.option("--prefix", default=DEFAULT_TOPIC_PREFIX, show_default=True, help="Topic prefix.")
@click.option(
    "--cert-days",
    default=397,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Days the issued client certificates are valid (at most as long as the CA).",
)
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True, help="MQTT client id.")
@broker_login_options
def serve(
    broker_url: str,
    ca_cert: Path,
    ca_key: Path,
    org_keys: Path,
    database: str,
    prefix: str,
    cert_days: int,
    client_id: str,
    username: str | None,
    password_file: Path | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
) -> None:
    """Answer kiosks' enrollment requests with client certificates signed by --ca-cert.

    Connects to the broker's main listener as the central side (--cert-file/--key-file of
    user "central", --ca-file to verify the broker), publishes the CA certificate for the
    enrollment listener and runs until SIGINT or SIGTERM, one log line per request.
    """
    login = broker_login(broker_url, username, password_file, ca_file, cert_file, key_file)
    certificate, key = _load_ca(ca_cert, ca_key)
    if not isinstance(key, _CA_KEYS):
        raise KioskError(f"{ca_key}: the CA key must be an EC, RSA or Ed25519 key")
    issuer: CertificateIssuerPrivateKeyTypes = key
    keys = PublicKeys(org_keys)
    if not keys.key_ids:
        raise KioskError(f"{org_keys}: no usable <key id>.pub organisation keys")
    tokens = TokenStore(database)
    try:
        try:
            service = EnrollService(keys.get, certificate, issuer, tokens, cert_days=cert_days)
        except ValueError as exc:
            raise KioskError(f"{ca_key}: {exc}") from None
        options = LinkOptions(
            url=broker_url,
            client_id=client_id,
            username=login.username,
            password=login.password,
            reconnect_min_s=0.5,
            reconnect_max_s=30.0,
            tls=login.tls,
        )
        pem = certificate.public_bytes(Encoding.PEM)
        server = EnrollServer(service, options, pem, prefix)
        stop = threading.Event()
        with stop_on_signals(stop):
            server.run(stop)
    finally:
        tokens.close()
