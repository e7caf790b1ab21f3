"""The kiosk side of enrollment: from a verified provisioning code to a client certificate.

:func:`enroll` talks to the broker's enrollment listener (``claims.enroll``; protocol in
:mod:`models.enrollment`) in two connections, both owned by the calling thread:

1. TLS **without** verification (there is nothing to verify with yet): take the retained CA
   certificate from ``{p}/enroll/ca`` and keep it only if its SHA-256 is the code's ``ca``.
2. TLS verified with that CA (host name checked), client id ``enroll-<16 hex>``: send an
   :class:`~models.enrollment.EnrollRequest` with the code and a CSR for an EC P-256 key made
   here, and wait for the :class:`~models.enrollment.EnrollReply`. The request is sent again
   after a reconnect (the service answers the same request with the same certificate).

An issued certificate is accepted only if it holds our public key, its CN is the code's terminal
id and the CA signed it; then the state is written (:mod:`terminal.provisioning.state`). Every
failure is an :class:`EnrollmentResult` with a short ``reason``, never an exception.
"""

from __future__ import annotations

import logging
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from common.errors import KioskError
from common.mqtt.broker_url import TlsOptions
from common.mqtt.link import MqttLink
from common.mqtt.types import (
    Connected,
    LinkEvent,
    LinkOptions,
    Message,
    PublishResult,
    Subscribed,
)
from models.enrollment import DeviceInfo, EnrollReply, EnrollRequest, ca_topic, reply_topic
from models.enrollment import request_topic as request_topic_of
from models.provisioning_code import ProvisioningClaims, ca_fingerprint
from terminal import __version__
from terminal.provisioning.state import ProvisionedState, key_for_code, write_state
from terminal.provisioning.tls_files import common_name

log = logging.getLogger(__name__)

CA_GRACE_S = 2.0
"""After the subscription is granted, how long to wait for the retained CA certificate."""

T = TypeVar("T")


@dataclass(frozen=True)
class EnrollmentResult:
    """How an enrollment ended: ``reason`` None and ``state`` set on success; otherwise one of
    ``broker_unreachable``, ``untrusted_broker``, ``ca_missing``, ``ca_mismatch``,
    ``broker_refused``, ``refused:<service reason>``, ``bad_reply``, ``bad_certificate``,
    ``timeout``, ``stopped``, ``write_failed``, with ``detail`` for the log."""

    reason: str | None
    detail: str
    state: ProvisionedState | None = None

    @property
    def ok(self) -> bool:
        """Whether the kiosk is now provisioned."""
        return self.reason is None


class _Failed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def enroll(
    claims: ProvisioningClaims,
    code_text: str,
    state_dir: Path,
    timeout_s: float,
    stop_event: threading.Event,
    *,
    on_wait: Callable[[], None] | None = None,
) -> EnrollmentResult:
    """Enroll with the service named by the (already verified) ``claims``, within ``timeout_s``
    seconds, and write the state into ``state_dir``; ``on_wait`` is called about every 0.1 s
    while waiting (the daemon pings the systemd watchdog)."""
    session = _Session(claims, time.monotonic() + timeout_s, stop_event, on_wait)
    log.info("enrolling as %s at %s (client id %s)", claims.tid, claims.enroll, session.client_id)
    try:
        ca_pem = session.fetch_ca()
        key = key_for_code(state_dir, claims.jti)
        cert_pem = session.request_certificate(ca_pem, code_text, _csr(key, claims.tid))
        _check_certificate(cert_pem, key, claims.tid, ca_pem)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        state = write_state(state_dir, claims, ca_pem, key_pem, cert_pem)
    except _Failed as exc:
        log.warning("enrollment as %s failed: %s: %s", claims.tid, exc.reason, exc.detail)
        return EnrollmentResult(exc.reason, exc.detail)
    except KioskError as exc:
        log.error("enrollment as %s failed: %s", claims.tid, exc)
        return EnrollmentResult("write_failed", str(exc))
    log.info("enrolled as %s (site %s); state in %s", claims.tid, claims.site, state_dir)
    return EnrollmentResult(None, f"enrolled as {claims.tid}", state)


class _Session:
    """One enrollment's two connections, sharing a deadline and the stop event."""

    def __init__(
        self,
        claims: ProvisioningClaims,
        deadline: float,
        stop: threading.Event,
        on_wait: Callable[[], None] | None,
    ) -> None:
        self.claims = claims
        self.deadline = deadline
        self.stop = stop
        self.on_wait = on_wait
        self.client_id = f"enroll-{secrets.token_hex(8)}"

    def _link(self, topic: str, tls: TlsOptions) -> MqttLink:
        options = LinkOptions(
            url=self.claims.enroll,
            client_id=self.client_id,
            subscriptions=((topic, 1),),
            tls=tls,
            reconnect_min_s=0.5,
            reconnect_max_s=2.0,
            connect_timeout_s=max(1.0, min(5.0, self.deadline - time.monotonic())),
        )
        return MqttLink(options, interrupt=self.stop)

    def fetch_ca(self) -> bytes:
        """The retained CA certificate, if its fingerprint is the code's."""
        topic = ca_topic(self.claims.pfx)
        link = self._link(topic, TlsOptions(verify=False))
        granted_at: list[float] = []

        def pick(event: LinkEvent) -> bytes | None:
            if isinstance(event, Subscribed):
                granted_at.append(time.monotonic())
            if isinstance(event, Message) and event.topic == topic and event.payload:
                return event.payload
            return None

        def idle() -> None:
            if granted_at and time.monotonic() - granted_at[0] > CA_GRACE_S:
                raise _Failed("ca_missing", f"no CA certificate is retained on {topic}")

        try:
            pem = self._wait(link, pick, "the CA certificate", idle)
        finally:
            link.close()
        try:
            fingerprint = ca_fingerprint(pem)
        except ValueError:
            raise _Failed("ca_mismatch", f"{topic} holds no PEM certificate") from None
        if fingerprint != self.claims.ca:
            detail = f"the broker's CA has SHA-256 {fingerprint}, the code names {self.claims.ca}"
            raise _Failed("ca_mismatch", detail)
        log.info("broker CA fetched, SHA-256 %s as the code says", fingerprint)
        return pem

    def request_certificate(self, ca_pem: bytes, code_text: str, csr_pem: str) -> bytes:
        """Send the request over a connection verified with ``ca_pem``; the certificate."""
        prefix = self.claims.pfx
        reply_on = reply_topic(prefix, self.client_id)
        request = EnrollRequest(
            code=code_text,
            csr=csr_pem,
            device=DeviceInfo(hostname=socket.gethostname()[:255], software=__version__),
        ).model_dump_json()
        with tempfile.TemporaryDirectory(prefix="kiosk-enroll-") as scratch:
            ca_file = Path(scratch) / "ca.crt"
            ca_file.write_bytes(ca_pem)
            link = self._link(reply_on, TlsOptions(ca_file=ca_file))

            def pick(event: LinkEvent) -> EnrollReply | None:
                if isinstance(event, Subscribed):
                    topic = request_topic_of(prefix, self.client_id)
                    link.publish(topic, request.encode(), qos=1)
                elif isinstance(event, PublishResult) and not event.ok:
                    raise _Failed("broker_refused", f"the broker refused the request: {event}")
                elif isinstance(event, Message) and event.topic == reply_on:
                    return _parse_reply(event.payload)
                return None

            try:
                reply = self._wait(link, pick, "the enrollment service's reply")
            finally:
                link.close()
        if reply.status == "refused" or reply.certificate is None:
            raise _Failed(f"refused:{reply.reason or 'unknown'}", reply.detail or "no detail")
        return reply.certificate.encode()

    def _wait(
        self,
        link: MqttLink,
        pick: Callable[[LinkEvent], T | None],
        what: str,
        idle: Callable[[], None] | None = None,
    ) -> T:
        """Poll until ``pick`` returns something; ``idle`` may raise to give up early."""
        connected = False
        while True:
            if self.stop.is_set():
                raise _Failed("stopped", f"stopped while waiting for {what}")
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(link, connected, what)
            for event in link.poll(min(0.1, remaining)):
                connected = connected or isinstance(event, Connected)
                found = pick(event)
                if found is not None:
                    return found
            if not connected and _untrusted(link.last_error):
                raise _Failed("untrusted_broker", f"{link.address}: {link.last_error}")
            if idle is not None:
                idle()
            if self.on_wait is not None:
                self.on_wait()

    def _timed_out(self, link: MqttLink, connected: bool, what: str) -> _Failed:
        error = link.last_error or "no answer"
        if connected:
            return _Failed("timeout", f"{what} did not come in time ({error})")
        return _Failed("broker_unreachable", f"{link.address}: {error}")


def _untrusted(error: str | None) -> bool:
    """Whether a connection failed because the broker's certificate did not verify (this does
    not fix itself: no point waiting)."""
    return error is not None and "CERTIFICATE_VERIFY_FAILED" in error


def _parse_reply(payload: bytes) -> EnrollReply:
    try:
        return EnrollReply.model_validate_json(payload)
    except ValidationError as exc:
        raise _Failed("bad_reply", f"not an enrollment reply: {exc.errors()[0]['msg']}") from None


def _csr(key: ec.EllipticCurvePrivateKey, terminal_id: str) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal_id)])
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _check_certificate(
    cert_pem: bytes, key: ec.EllipticCurvePrivateKey, terminal_id: str, ca_pem: bytes
) -> None:
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise _Failed("bad_certificate", "the reply holds no PEM certificate") from None
    der, spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if certificate.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise _Failed("bad_certificate", "the certificate is not for this kiosk's key")
    name = common_name(certificate)
    if name != terminal_id:
        raise _Failed("bad_certificate", f"issued to {name!r}, not to {terminal_id!r}")
    try:
        certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (InvalidSignature, ValueError, TypeError) as exc:
        detail = f"not issued by the broker's CA ({type(exc).__name__})"
        raise _Failed("bad_certificate", detail) from None
