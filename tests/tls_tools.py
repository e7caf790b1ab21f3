"""Certificates made at test time, a broker run with the shipped TLS settings and ACL, a link.

:class:`Pki` is a throw-away certificate authority (``cryptography``, EC P-256): a server
certificate for 127.0.0.1/localhost and client certificates whose CN is a terminal id.
:func:`kiosk_broker` starts mosquitto with the security settings of
``systemd/mosquitto-kiosk.conf`` and the ACL file ``systemd/mosquitto-kiosk.acl`` itself (with
``enroll=True`` also its enrollment listener and ``systemd/mosquitto-kiosk-enroll.acl``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.mqtt.broker_url import TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.types import LinkOptions
from devtools.local_broker import BrokerTls, Mosquitto
from tests.delivery_tools import wait_for

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CONF = REPO / "systemd" / "mosquitto-kiosk.conf"
SHIPPED_ACL = REPO / "systemd" / "mosquitto-kiosk.acl"
SHIPPED_ENROLL_ACL = REPO / "systemd" / "mosquitto-kiosk-enroll.acl"
MAIN_LISTENER = "8883"
ENROLL_LISTENER = "8884"

E = TypeVar("E")


@dataclass(frozen=True)
class Identity:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o644)  # test keys: mosquitto may run as another user


class Pki:
    """A certificate authority whose files live in ``directory`` (``ca.crt``)."""

    def __init__(self, directory: Path, name: str = "Kiosk test CA") -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.crt"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    @property
    def certificate(self) -> x509.Certificate:
        """The CA's certificate."""
        return self._cert

    def write_key(self, path: Path | None = None) -> Path:
        """Write the CA's private key (PEM, unencrypted) to ``path`` (default ``ca.key``)."""
        path = path or self.directory / "ca.key"
        _write_key(self._key, path)
        path.chmod(0o600)
        return path

    def server(self, name: str = "server") -> Identity:
        """A server certificate valid for 127.0.0.1 and localhost."""
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return self._issue(name, ExtendedKeyUsageOID.SERVER_AUTH, names)

    def client(self, common_name: str) -> Identity:
        """A client certificate whose CN (the broker's user name for it) is ``common_name``."""
        return self._issue(common_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])

    def _issue(
        self, common_name: str, usage: x509.ObjectIdentifier, names: list[x509.GeneralName]
    ) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        identity = Identity(
            self.directory / f"{common_name}.crt", self.directory / f"{common_name}.key"
        )
        identity.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, identity.key)
        return identity

    def tls(self, identity: Identity | None) -> TlsOptions:
        """Client TLS options trusting this CA, presenting ``identity`` if given."""
        if identity is None:
            return TlsOptions(ca_file=self.ca_file)
        return TlsOptions(self.ca_file, identity.cert, identity.key)


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def shipped_sections() -> dict[str, dict[str, str]]:
    """The directives of ``systemd/mosquitto-kiosk.conf`` by section: ``""`` for the global
    ones (before the first ``listener``), then one per listener port (comments skipped)."""
    sections: dict[str, dict[str, str]] = {"": {}}
    current = sections[""]
    for line in SHIPPED_CONF.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            if key == "listener":
                assert value not in sections, f"listener {value} twice in {SHIPPED_CONF.name}"
                current = sections[value.strip()] = {}
            assert key not in current, f"{key} is set twice in a section of {SHIPPED_CONF.name}"
            current[key] = value.strip()
    return sections


def shipped_settings(listener: str = MAIN_LISTENER) -> dict[str, str]:
    """The global directives of ``systemd/mosquitto-kiosk.conf`` and those of ``listener``."""
    sections = shipped_sections()
    settings = dict(sections[""])
    for key, value in sections[listener].items():
        assert key not in settings, f"{key} is set globally and for listener {listener}"
        settings[key] = value
    return settings


def kiosk_broker(workdir: Path, pki: Pki, enroll: bool = False) -> Mosquitto:
    """mosquitto on a free loopback port with the shipped TLS, identity and ACL settings;
    with ``enroll``, also the shipped enrollment listener and its ACL (``enroll_url``)."""
    shipped = shipped_settings()
    server = pki.server()
    tls = BrokerTls(
        ca_file=pki.ca_file,
        cert_file=server.cert,
        key_file=server.key,
        require_certificate=shipped["require_certificate"] == "true",
        use_identity_as_username=shipped["use_identity_as_username"] == "true",
        tls_version=shipped["tls_version"],
    )
    if not enroll:
        return Mosquitto(workdir, tls=tls, acl_file=SHIPPED_ACL)
    enrolling = shipped_settings(ENROLL_LISTENER)
    assert enrolling["per_listener_settings"] == "true"
    assert enrolling["tls_version"] == shipped["tls_version"]
    assert (enrolling["require_certificate"], enrolling["allow_anonymous"]) == ("false", "true")
    assert enrolling["use_identity_as_username"] == "false"
    return Mosquitto(workdir, tls=tls, acl_file=SHIPPED_ACL, enroll_acl_file=SHIPPED_ENROLL_ACL)


def link(url: str, client_id: str, tls: TlsOptions, **options: Any) -> MqttLink:
    """An :class:`MqttLink` for the calling thread, with fast reconnects."""
    settings = LinkOptions(
        url=url, client_id=client_id, tls=tls, reconnect_min_s=0.1, reconnect_max_s=0.5
    )
    return MqttLink(dataclasses.replace(settings, **options))


def poll_until(mqtt: MqttLink, wanted: type[E], what: str) -> E:
    """Poll ``mqtt`` until it reports an event of type ``wanted``; return that event."""
    found: list[E] = []

    def seen() -> bool:
        found.extend(e for e in mqtt.poll(0.05) if isinstance(e, wanted))
        return bool(found)

    wait_for(seen, 20, what)
    return found[0]
