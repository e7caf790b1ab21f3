"""The enrollment service end to end: real mosquitto with the shipped listeners and ACLs, real
certificates, real provisioning codes; kiosks are anonymous clients on the enrollment listener.
"""

from __future__ import annotations

import getpass
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.onboarding.service import EnrollService
from central.onboarding.tokens import TokenStore
from common.code_keys import PublicKeys
from common.mqtt.broker_url import TlsOptions
from common.mqtt.types import Connected, PublishResult
from devtools.local_broker import free_port, wait_for_port
from models.enrollment import ca_topic, reply_topic, request_topic
from models.provisioning_code import (
    ca_fingerprint,
    issue_provisioning_code,
    read_provisioning_code,
)
from tests.onboard_tools import (
    ORG,
    PREFIX,
    Enrollment,
    Kiosk,
    make_csr,
    request,
    running_enrollment,
    save_identity,
)
from tests.signed_code_tools import hr_keys
from tests.tls_tools import (
    SHIPPED_ACL,
    SHIPPED_CONF,
    SHIPPED_ENROLL_ACL,
    Pki,
    link,
    poll_until,
)


@pytest.fixture
def env(tmp_path: Path, pki: Pki) -> Iterator[Enrollment]:
    """The broker with its enrollment listener and the service answering on it."""
    with running_enrollment(tmp_path, pki) as running:
        yield running


@pytest.fixture
def kiosk(env: Enrollment) -> Iterator[Kiosk]:
    """One anonymous kiosk on the enrollment listener, subscribed to its reply."""
    client = Kiosk(env)
    try:
        yield client
    finally:
        client.close()


def _common_name(certificate: x509.Certificate) -> str:
    return str(certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_a_valid_request_gets_a_certificate_the_main_listener_accepts(
    tmp_path: Path, env: Enrollment, kiosk: Kiosk
):
    code = env.code("kiosk-07")
    key, csr = make_csr(common_name="central")  # asks for the central's name: ignored
    reply = kiosk.ask(request(code, csr))
    assert (reply.status, reply.terminal_id, reply.reason) == ("enrolled", "kiosk-07", None)
    assert reply.certificate is not None
    certificate = x509.load_pem_x509_certificate(reply.certificate.encode())
    assert _common_name(certificate) == "kiosk-07"
    certificate.verify_directly_issued_by(env.pki.certificate)
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.public_key() == key.public_key()

    # The broker's main listener takes it: kiosk-07 may publish its own events, nobody else's.
    identity = save_identity(tmp_path, "kiosk-07", key, reply.certificate)
    terminal = link(env.broker.url, "kiosk-07", env.pki.tls(identity))
    poll_until(terminal, Connected, "kiosk-07 on the main listener")
    published = {}
    for topic in ("attendance/v1/kiosk-07/events", "attendance/v1/central/events"):
        terminal.publish(topic, b"{}")
        published[topic] = poll_until(terminal, PublishResult, f"the PUBACK on {topic}").ok
    terminal.close()
    assert published == {
        "attendance/v1/kiosk-07/events": True,
        "attendance/v1/central/events": False,
    }

    # Asking again (the reply was lost) returns the very same certificate.
    assert kiosk.ask(request(code, csr)) == reply
    (use,) = env.tokens.uses()
    assert (use.terminal_id, use.client_id, use.hostname) == (
        "kiosk-07",
        kiosk.client_id,
        "pi-test",
    )
    assert use.certificate == reply.certificate


def test_a_used_token_is_refused_to_another_key(env: Enrollment, kiosk: Kiosk):
    code = env.code("kiosk-07")
    assert kiosk.ask(request(code, make_csr()[1])).status == "enrolled"
    thief = Kiosk(env)
    reply = thief.ask(request(code, make_csr()[1]))
    thief.close()
    assert (reply.status, reply.reason, reply.certificate) == ("refused", "token_used", None)
    assert len(env.tokens.uses()) == 1


def test_codes_that_do_not_verify_are_refused(env: Enrollment, kiosk: Kiosk, tmp_path: Path):
    other_ca = Pki(tmp_path / "other-ca", "Another CA")
    codes = {
        "forged": env.code(key=Ed25519PrivateKey.generate()),
        "unknown key": env.code(key_id="ORG9"),
        "expired": env.code(now=time.time() - 3600, ttl_s=900),
        "other CA": env.code(ca_sha256=ca_fingerprint(other_ca.ca_file.read_bytes())),
        "not a provisioning code": "ATT1:S:whatever",
    }
    details = {}
    for case, code in codes.items():
        reply = kiosk.ask(request(code, make_csr()[1]))
        assert (reply.status, reply.reason, reply.certificate) == ("refused", "bad_code", None)
        details[case] = reply.detail or ""
    assert details["forged"].startswith("bad_signature")
    assert details["unknown key"].startswith("unknown_key")
    assert details["expired"].startswith("expired")
    assert "another broker CA" in details["other CA"]
    assert details["not a provisioning code"].startswith("not_provisioning_code")
    assert env.tokens.uses() == []
    # The genuine code still works: refusals consumed nothing.
    assert kiosk.ask(request(env.code(), make_csr()[1])).status == "enrolled"


def _tampered(csr_pem: str) -> str:
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    der = bytearray(csr.public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the last byte of the RSA signature
    return x509.load_der_x509_csr(bytes(der)).public_bytes(Encoding.PEM).decode()


def test_garbage_and_bad_csrs_are_refused_and_the_service_keeps_serving(
    env: Enrollment, kiosk: Kiosk
):
    malformed = [b"", b"\xff\xfe garbage", b"{}", b'{"v": 1, "code": 5}', b"[" * 20_000]
    malformed.append(b" " * 40_000 + request(env.code("kiosk-09"), make_csr()[1]))  # too large
    for payload in malformed:
        reply = kiosk.ask(payload)
        assert (reply.status, reply.reason) == ("refused", "malformed"), payload[:20]
    code = env.code("kiosk-08")
    bad_csrs = {
        "not PEM": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "Ed25519 key": make_csr(Ed25519PrivateKey.generate())[1],
        "RSA 1024": make_csr(rsa.generate_private_key(65537, 1024))[1],
        "EC P-192": make_csr(ec.generate_private_key(ec.SECP192R1()))[1],
        "bad signature": _tampered(make_csr(rsa.generate_private_key(65537, 2048))[1]),
    }
    details = {}
    for case, csr in bad_csrs.items():
        reply = kiosk.ask(request(code, csr))
        assert (reply.status, reply.reason) == ("refused", "bad_csr"), case
        details[case] = reply.detail
    assert "signature does not verify" in (details["bad signature"] or "")
    assert "1024 bits" in (details["RSA 1024"] or "")
    assert env.tokens.uses() == []
    # Still serving, and the token survived the bad requests.
    reply = kiosk.ask(request(code, make_csr(rsa.generate_private_key(65537, 2048))[1]))
    assert (reply.status, reply.terminal_id) == ("enrolled", "kiosk-08")


def test_the_ca_certificate_is_readable_anonymously_on_the_enrollment_listener(
    env: Enrollment,
):
    reader = Kiosk(env, also=(ca_topic(PREFIX),))
    message = reader.next_message()
    reader.close()
    assert message.retain and message.topic == "attendance/v1/enroll/ca"
    assert message.payload == env.pki.ca_file.read_bytes()
    # What a kiosk checks: it hashes to the code's ca claim.
    claims = read_provisioning_code(env.code(), {ORG: env.org_key.public_key()}.get)
    assert ca_fingerprint(message.payload) == claims.ca


def test_an_enrolling_client_cannot_read_others_replies_nor_write_elsewhere(
    env: Enrollment, kiosk: Kiosk
):
    spying = (f"{PREFIX}/#", f"{PREFIX}/enroll/+/reply", reply_topic(PREFIX, kiosk.client_id))
    spy = Kiosk(env, also=spying)  # granted, but the ACL filters what is delivered
    assert spy.next_message().topic == ca_topic(PREFIX)  # retained, readable by anyone
    assert kiosk.ask(request(env.code("kiosk-07"), make_csr()[1])).status == "enrolled"
    # The service answers in order: had the spy been able to read kiosk's reply, it would
    # arrive before the spy's own one.
    assert spy.ask(b"garbage").reason == "malformed"
    refused = {}
    for topic in (
        "attendance/v1/kiosk-07/events",
        "attendance/v1/kiosk-07/status",
        ca_topic(PREFIX),
        request_topic(PREFIX, kiosk.client_id),
        reply_topic(PREFIX, kiosk.client_id),
        spy.reply_topic,
    ):
        refused[topic] = spy.publish(topic, b"{}").reason_code
    spy.close()
    assert refused == dict.fromkeys(refused, 0x87)  # Not authorized


def test_the_shipped_conf_itself_runs_both_listeners(tmp_path: Path, pki: Pki):
    server = pki.server()
    ports = {"8883": free_port(), "8884": free_port()}
    text = SHIPPED_CONF.read_text(encoding="utf-8")
    for old, new in {
        "/etc/mosquitto/certs/kiosk/ca.crt": pki.ca_file,
        "/etc/mosquitto/certs/kiosk/server.crt": server.cert,
        "/etc/mosquitto/certs/kiosk/server.key": server.key,
        "/etc/mosquitto/kiosk.acl": SHIPPED_ACL,
        "/etc/mosquitto/kiosk-enroll.acl": SHIPPED_ENROLL_ACL,
        **{f"listener {port}": f"listener {free} 127.0.0.1" for port, free in ports.items()},
    }.items():
        assert old in text
        text = text.replace(old, str(new))
    conf = pki.directory / "shipped.conf"
    conf.write_text(text + f"user {getpass.getuser()}\nlog_dest file {tmp_path}/mosquitto.log\n")
    process = subprocess.Popen(["mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        for port in ports.values():
            wait_for_port(port)
        anonymous = TlsOptions(ca_file=pki.ca_file)
        enrolling = link(f"mqtts://127.0.0.1:{ports['8884']}", "enroll-0123456789abcdef", anonymous)
        poll_until(enrolling, Connected, "an anonymous client on the enrollment listener")
        enrolling.publish("attendance/v1/enroll/enroll-0123456789abcdef/request", b"{}")
        assert poll_until(enrolling, PublishResult, "the PUBACK").ok
        enrolling.publish("attendance/v1/kiosk-07/events", b"{}")
        assert poll_until(enrolling, PublishResult, "the PUBACK").reason_code == 0x87
        enrolling.close()
        identity = pki.tls(pki.client("kiosk-07"))
        terminal = link(f"mqtts://127.0.0.1:{ports['8883']}", "kiosk-07", identity)
        poll_until(terminal, Connected, "kiosk-07 on the main listener")
        terminal.publish("attendance/v1/kiosk-07/events", b"{}")
        assert poll_until(terminal, PublishResult, "the PUBACK").ok
        terminal.close()
    finally:
        process.kill()
        process.wait(10)


def test_a_failing_token_store_is_an_internal_error_not_a_crash(tmp_path: Path, pki: Pki):
    keys_dir = tmp_path / "org-keys"
    org_key = hr_keys(keys_dir, ORG)[ORG]
    tokens = TokenStore(tmp_path / "tokens.db")
    tokens.close()  # every claim now fails
    ca_key = serialization.load_pem_private_key(pki.write_key().read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    service = EnrollService(PublicKeys(keys_dir).get, pki.certificate, ca_key, tokens)
    code = issue_provisioning_code(
        org_key, ORG, terminal_id="kiosk-07", site="hq", broker_url="mqtts://b:8883",
        enroll_url="mqtts://b:8884", ca_sha256=service.ca_sha256,
    )  # fmt: skip
    reply = service.handle("enroll-0123456789abcdef", request(code, make_csr()[1]))
    assert (reply.status, reply.reason, reply.certificate) == ("refused", "internal_error", None)
