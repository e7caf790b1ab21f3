"""The enrollment service's decisions: an :class:`EnrollRequest` in, an :class:`EnrollReply` out.

No network here (``central/onboarding/serve.py`` carries the messages). For each request the
service (1) parses it, (2) verifies the provisioning code with the organisation's public keys
against its own clock, (3) checks that the code names this service's CA, (4) checks the CSR
(self-signed, EC P-256/384/521 or RSA 2048-8192), (5) claims the code's one-time token for the
CSR's key and (6) issues a client certificate whose CN is the code's terminal id, whatever the
CSR's subject says. Every failure is a refused reply with a reason from
:data:`~models.enrollment.REFUSAL_REASONS`; nothing a client sends makes it raise.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError

from central.onboarding.tokens import ClaimOutcome, TokenStore
from models.enrollment import EnrollReply, EnrollRequest
from models.provisioning_code import ProvisioningCodeError, read_provisioning_code

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 32 * 1024
"""Larger payloads are refused unparsed (an EnrollRequest's fields allow about 19 KiB)."""
MAX_DETAIL = 500
BACKDATE = timedelta(minutes=5)
EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
RSA_BITS = (2048, 8192)

OrgKeys = Callable[[str], Ed25519PublicKey | None]


class Refusal(Exception):
    """Why a request is refused: ``reason`` (one of REFUSAL_REASONS) and a readable detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Outcome:
    """A reply and, when the code verified, the terminal id it names (for the log)."""

    reply: EnrollReply
    terminal_id: str | None = None


class EnrollService:
    """Issues client certificates signed by ``ca_key`` for verified provisioning codes."""

    def __init__(
        self,
        org_keys: OrgKeys,
        ca_cert: x509.Certificate,
        ca_key: CertificateIssuerPrivateKeyTypes,
        tokens: TokenStore,
        cert_days: int = 397,
        leeway_s: float = 60.0,
    ) -> None:
        public = ca_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if public != _spki(ca_cert.public_key()):
            raise ValueError("the CA private key does not belong to the CA certificate")
        if cert_days < 1:
            raise ValueError(f"cert_days must be at least 1, not {cert_days}")
        self.org_keys = org_keys
        self.ca_cert = ca_cert
        self.ca_key = ca_key
        self.tokens = tokens
        self.cert_days = cert_days
        self.leeway_s = leeway_s
        self.ca_sha256 = hashlib.sha256(ca_cert.public_bytes(Encoding.DER)).hexdigest()
        self._algorithm = None if isinstance(ca_key, _EDWARDS) else hashes.SHA256()

    def handle(self, client_id: str, payload: bytes, now: float | None = None) -> EnrollReply:
        """The reply to the request ``payload`` that ``client_id`` sent (never raises)."""
        return self.decide(client_id, payload, now).reply

    def decide(self, client_id: str, payload: bytes, now: float | None = None) -> Outcome:
        """Like :meth:`handle`, with the code's terminal id when it verified (never raises)."""
        at = time.time() if now is None else now
        terminal_id: str | None = None
        try:
            request = _parse(payload)
            try:
                claims = read_provisioning_code(
                    request.code, self.org_keys, now=at, leeway_s=self.leeway_s
                )
            except ProvisioningCodeError as exc:
                raise Refusal("bad_code", f"{exc.reason}: {exc.detail}") from None
            terminal_id = claims.tid
            if claims.ca != self.ca_sha256:
                raise Refusal("bad_code", "the code is for another broker CA (its ca claim)")
            csr = _load_csr(request.csr)
            key_sha256 = hashlib.sha256(_spki(csr.public_key())).hexdigest()
            claim = self.tokens.claim(
                claims.jti,
                claims.tid,
                key_sha256,
                lambda: self._issue(claims.tid, csr, at),
                client_id=client_id,
                hostname=request.device.hostname,
                software=request.device.software,
            )
            if claim.outcome is ClaimOutcome.USED:
                raise Refusal("token_used", f"this code was already used (at {claim.use.used_at})")
            reply = EnrollReply(
                status="enrolled", terminal_id=claims.tid, certificate=claim.use.certificate
            )
            return Outcome(reply, terminal_id)
        except Refusal as refusal:
            detail = refusal.detail[:MAX_DETAIL]
            reply = EnrollReply(status="refused", reason=refusal.reason, detail=detail)
            return Outcome(reply, terminal_id)
        except Exception:
            log.exception("enrollment request from %s failed", client_id)
            detail = "the enrollment service failed; try again later"
            return Outcome(EnrollReply(status="refused", reason="internal_error", detail=detail))

    def _issue(self, terminal_id: str, csr: x509.CertificateSigningRequest, at: float) -> str:
        now = datetime.fromtimestamp(at, UTC)
        not_after = min(now + timedelta(days=self.cert_days), self.ca_cert.not_valid_after_utc)
        public_key = csr.public_key()
        try:
            ski = self.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski.value)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, terminal_id)]))
            .issuer_name(self.ca_cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_CLIENT_KEY_USAGE, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(aki, critical=False)
            .sign(self.ca_key, self._algorithm)
        )
        return certificate.public_bytes(Encoding.PEM).decode("ascii")


_EDWARDS = (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)

_CLIENT_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _parse(payload: bytes) -> EnrollRequest:
    if len(payload) > MAX_REQUEST_BYTES:
        raise Refusal("malformed", f"larger than {MAX_REQUEST_BYTES} bytes")
    try:
        return EnrollRequest.model_validate_json(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "request"
        raise Refusal("malformed", f"not an enrollment request: {where}: {error['msg']}") from None


def _load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode("utf-8"))
        public_key = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, UnicodeError, TypeError) as exc:
        raise Refusal("bad_csr", f"not a PEM certificate request: {exc}") from None
    except (UnsupportedAlgorithm, x509.UnsupportedGeneralNameType) as exc:
        raise Refusal("bad_csr", f"unsupported certificate request: {exc}") from None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, EC_CURVES):
            raise Refusal("bad_csr", f"EC curve {public_key.curve.name} is not P-256/384/521")
    elif isinstance(public_key, rsa.RSAPublicKey):
        if not RSA_BITS[0] <= public_key.key_size <= RSA_BITS[1]:
            raise Refusal("bad_csr", f"RSA key of {public_key.key_size} bits (use 2048-8192)")
    else:
        raise Refusal("bad_csr", f"{type(public_key).__name__}: use an EC or RSA key")
    if not valid:
        raise Refusal("bad_csr", "the request's signature does not verify")
    return csr
