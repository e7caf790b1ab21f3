"""Helpers for the enrollment tests: a broker with its enrollment listener and the service
running against it, provisioning codes, certificate requests and an anonymous enrolling kiosk."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from central.onboarding.serve import EnrollServer
from central.onboarding.service import EnrollService
from central.onboarding.tokens import TokenStore
from common.code_keys import PublicKeys
from common.mqtt.broker_url import TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.types import LinkEvent, LinkOptions, Message, PublishResult, Subscribed
from devtools.local_broker import Mosquitto
from models.enrollment import DeviceInfo, EnrollReply, EnrollRequest, reply_topic, request_topic
from models.provisioning_code import ca_fingerprint, issue_provisioning_code
from tests.delivery_tools import Threads, wait_for
from tests.signed_code_tools import hr_keys
from tests.tls_tools import Identity, Pki, kiosk_broker, link

ORG = "ORG1"
PREFIX = "attendance/v1"
E = TypeVar("E", bound=LinkEvent)


@dataclass
class Enrollment:
    """A broker with its enrollment listener, the org's key and the service answering."""

    broker: Mosquitto
    pki: Pki
    org_key: Ed25519PrivateKey
    keys_dir: Path
    tokens: TokenStore

    def code(self, terminal_id: str = "kiosk-07", **overrides: Any) -> str:
        """A provisioning code for ``terminal_id`` signed by the org key, for this broker."""
        return make_code(self, terminal_id, **overrides)


def make_code(env: Enrollment, terminal_id: str, **overrides: Any) -> str:
    """A code like :meth:`Enrollment.code`; ``key``/``key_id`` and claims may be overridden."""
    key = overrides.pop("key", env.org_key)
    key_id = overrides.pop("key_id", ORG)
    claims: dict[str, Any] = {
        "terminal_id": terminal_id,
        "site": "hq",
        "broker_url": env.broker.url,
        "enroll_url": env.broker.enroll_url,
        "ca_sha256": ca_fingerprint(env.pki.ca_file.read_bytes()),
    }
    claims.update(overrides)
    return issue_provisioning_code(key, key_id, **claims)


def make_csr(
    key: CertificateIssuerPrivateKeyTypes | None = None, common_name: str = "asked-for"
) -> tuple[CertificateIssuerPrivateKeyTypes, str]:
    """A key (EC P-256 by default) and a PEM CSR for it asking for ``common_name``."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    algorithm = None if isinstance(key, Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm)
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def request(code: str, csr_pem: str) -> bytes:
    """An EnrollRequest payload."""
    device = DeviceInfo(hostname="pi-test", software="0.0-test")
    return EnrollRequest(code=code, csr=csr_pem, device=device).model_dump_json().encode()


def save_identity(directory: Path, name: str, key: Any, certificate_pem: str) -> Identity:
    """Write a key and the certificate issued for it as files a client can present."""
    identity = Identity(directory / f"{name}.crt", directory / f"{name}.key")
    identity.cert.write_text(certificate_pem)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    identity.key.write_bytes(pem)
    return identity


class Kiosk:
    """An anonymous client on the enrollment listener, as an unprovisioned kiosk connects,
    subscribed to its own reply topic and the filters in ``also``."""

    def __init__(self, env: Enrollment, also: tuple[str, ...] = ()) -> None:
        self.client_id = "enroll-" + secrets.token_hex(8)
        self.reply_topic = reply_topic(PREFIX, client_id=self.client_id)
        subscriptions = tuple((topic, 1) for topic in (self.reply_topic, *also))
        tls = TlsOptions(ca_file=env.pki.ca_file)
        url = env.broker.enroll_url
        self.link: MqttLink = link(url, self.client_id, tls, subscriptions=subscriptions)
        self._events: list[LinkEvent] = []
        self._wait(Subscribed, f"{self.client_id}'s subscriptions")

    def _wait(self, wanted: type[E], what: str) -> E:
        """The first event of type ``wanted``, polling as needed; other events are kept."""
        found: list[E] = []

        def seen() -> bool:
            self._events.extend(self.link.poll(0.05))
            found.extend(e for e in self._events if isinstance(e, wanted))
            return bool(found)

        wait_for(seen, 20, what)
        self._events.remove(found[0])
        return found[0]

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> PublishResult:
        """Publish and return the broker's PUBACK."""
        self.link.publish(topic, payload, retain=retain)
        return self._wait(PublishResult, f"the PUBACK on {topic}")

    def ask(self, payload: bytes) -> EnrollReply:
        """Send ``payload`` as this client's request; the reply the service sends back."""
        assert self.publish(request_topic(PREFIX, self.client_id), payload).ok
        message = self.next_message()
        assert message.topic == self.reply_topic, message.topic
        return EnrollReply.model_validate_json(message.payload)

    def next_message(self) -> Message:
        """The next message delivered to this client (none is ever skipped)."""
        return self._wait(Message, f"a message for {self.client_id}")

    def close(self) -> None:
        """Disconnect."""
        self.link.close()


@contextmanager
def running_enrollment(workdir: Path, pki: Pki) -> Iterator[Enrollment]:
    """The shipped broker with its enrollment listener and the service, until the block ends."""
    broker = kiosk_broker(workdir / "broker", pki, enroll=True)
    broker.start()
    keys_dir = workdir / "org-keys"
    org_key = hr_keys(keys_dir, ORG)[ORG]
    tokens = TokenStore(workdir / "tokens.db")
    key = serialization.load_pem_private_key(pki.write_key().read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    service = EnrollService(PublicKeys(keys_dir).get, pki.certificate, key, tokens)
    central = pki.tls(pki.client("central"))
    options = LinkOptions(url=broker.url, client_id="enroll-service-test", tls=central)
    server = EnrollServer(service, options, pki.ca_file.read_bytes(), PREFIX)
    try:
        with Threads() as threads:
            threads.start(lambda: server.run(threads.stop), "enroll-service")
            assert server.ready.wait(20), "the enrollment service did not get ready"
            yield Enrollment(broker, pki, org_key, keys_dir, tokens)
    finally:
        broker.kill()
        tokens.close()
