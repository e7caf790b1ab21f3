"""``kiosk doctor``'s broker, TLS and credentials checks against a real mosquitto: plain,
with passwords, behind a black-holing proxy, killed, and with the shipped TLS settings and
certificates made at test time (tests/tls_tools.py).
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from common.mqtt.link import MqttLink
from common.mqtt.types import Connected, Disconnected, LinkOptions
from devtools.local_broker import Mosquitto, free_port
from tests.doctor_tools import expected_status, kiosk, parse_lines, run_doctor
from tests.tcp_proxy import TcpProxy
from tests.tls_tools import Pki, poll_until


def test_the_broker_login_and_a_password_file_open_to_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: Mosquitto
):
    daemon = MqttLink(LinkOptions(url=broker.url, client_id="kiosk-01", session_expiry_s=600))
    poll_until(daemon, Connected, "the kiosk's own connection")
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    sections = kiosk(tmp_path)
    sections["mqtt"] = {"url": broker.url, "username": "kiosk-01", "password_file": str(secret)}
    code, out = run_doctor(tmp_path, sections, capsys)
    lines = parse_lines(out)
    assert code == expected_status(lines), out
    assert lines["broker"] == (
        "PASS",
        f"{broker.url}: connected as kiosk-01-doctor (MQTT v5, user kiosk-01)",
    )
    status, rest = lines["credentials"]
    assert status == "WARN" and "mode 0644" in rest and rest.endswith(f"-> chmod 600 {secret}")
    events = daemon.poll(0.2) + daemon.poll(0.2)  # the doctor's own client id took nothing over
    assert daemon.connected and not any(isinstance(e, Disconnected) for e in events)
    daemon.close()


def test_a_killed_broker_fails_as_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: Mosquitto
):
    broker.kill()
    sections = kiosk(tmp_path)
    sections["mqtt"] = {"url": broker.url}
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["broker"]
    assert code == 1 and status == "FAIL"
    assert "connection refused -> nothing listens on port" in rest


def test_a_black_holed_broker_fails_within_the_check_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broker: Mosquitto
):
    proxy = TcpProxy(broker.port)
    proxy.blackhole()
    try:
        sections = kiosk(tmp_path)
        sections["mqtt"] = {"url": proxy.url}
        code, out = run_doctor(tmp_path, sections, capsys)
    finally:
        proxy.close()
    status, rest = parse_lines(out)["broker"]
    assert code == 1 and status == "FAIL" and "no CONNACK within" in rest


def test_a_refused_login_is_a_connack_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    passwords = tmp_path / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(passwords), "kiosk-01", "right"], check=True
    )
    passwords.chmod(0o644)
    server = Mosquitto(tmp_path / "broker", password_file=passwords)
    server.start()
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong\n")
    secret.chmod(0o600)
    sections = kiosk(tmp_path)
    sections["mqtt"] = {"url": server.url, "username": "kiosk-01", "password_file": str(secret)}
    try:
        code, out = run_doctor(tmp_path, sections, capsys)
    finally:
        server.kill()
    lines = parse_lines(out)
    assert code == 1 and lines["broker"][0] == "FAIL"
    assert "CONNACK refused" in lines["broker"][1] and "password_file" in lines["broker"][1]
    assert lines["credentials"] == ("PASS", f"password_file {secret}: mode 0600")


def test_mutual_tls_logs_in_and_shows_the_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: Pki, tls_broker: Mosquitto
):
    identity = pki.client("kiosk-01")
    sections = kiosk(tmp_path)
    sections["mqtt"] = {
        "url": tls_broker.url,
        "ca_file": str(pki.ca_file),
        "cert_file": str(identity.cert),
        "key_file": str(identity.key),
    }
    _, out = run_doctor(tmp_path, sections, capsys)
    lines = parse_lines(out)
    assert lines["broker"] == (
        "PASS",
        f"{tls_broker.url}: connected as kiosk-01-doctor (MQTT v5, TLS)",
    )
    status, rest = lines["tls"]
    assert status == "WARN", out  # the test certificates are valid for one day only
    assert "cert_file CN=kiosk-01 valid until" in rest and "key matches" in rest
    assert "-> issue a new certificate" in rest
    assert (
        lines["credentials"][0] == "WARN" and f"chmod 600 {identity.key}" in lines["credentials"][1]
    )


@pytest.mark.parametrize("case", ["wrong CA", "no client certificate"])
def test_tls_failures_are_told_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: Pki, tls_broker: Mosquitto, case: str
):
    identity = pki.client("kiosk-01")
    mqtt: dict[str, Any] = {"url": tls_broker.url, "ca_file": str(pki.ca_file)}
    if case == "wrong CA":
        mqtt["ca_file"] = str(Pki(pki.directory.parent / "rogue", "Rogue CA").ca_file)
        mqtt.update(cert_file=str(identity.cert), key_file=str(identity.key))
    sections = {**kiosk(tmp_path), "mqtt": mqtt}
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["broker"]
    assert code == 1 and status == "FAIL"
    if case == "wrong CA":
        assert "TLS verify failed: " in rest
        assert "-> [mqtt] ca_file must be the CA" in rest
    else:
        assert "client certificate (cert_file, key_file)" in rest


def _expired(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for CN=kiosk-01 that expired yesterday, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk-01")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=30))
        .not_valid_after(now - timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "expired.crt", directory / "expired.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


@pytest.mark.parametrize("case", ["expired", "key of another certificate"])
def test_a_bad_client_certificate_fails_the_tls_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
):
    pki = Pki(tmp_path / "pki")
    if case == "expired":
        cert_file, key_file = _expired(tmp_path)
        expected = "cert_file CN=kiosk-01 expired on"
    else:
        cert_file, key_file = pki.client("kiosk-01").cert, pki.client("kiosk-02").key
        expected = "key_file does not belong to cert_file"
    sections = kiosk(tmp_path)
    sections["mqtt"] = {
        "url": f"mqtts://127.0.0.1:{free_port()}",
        "ca_file": str(pki.ca_file),
        "cert_file": str(cert_file),
        "key_file": str(key_file),
    }
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["tls"]
    assert code == 1 and status == "FAIL" and expected in rest and " -> " in rest
