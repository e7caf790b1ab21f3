"""Provisioning codes: the signed QR code an organisation shows an unprovisioned kiosk.

A provisioning code is ``ATT1:P:`` followed by a JSON Web Token (RFC 7519) in compact form,
signed with the organisation's Ed25519 key (JWS ``alg`` ``EdDSA``, RFC 8037) whose id is the
header's ``kid``. Any JWT library can issue one; :func:`issue_provisioning_code` does. The text
is printable ASCII (base64url and dots), so zbar reads it intact; a typical code has 500-600
characters (QR version 17 at level M, byte mode), shown from a laptop or phone screen.

Claims (all required unless marked optional):

``tid``
    The terminal id the kiosk takes (``[A-Za-z0-9_.-]``, 1-64 characters).
``site``
    The site or building (1-64 characters).
``mqtt``
    The broker URL check-ins go to, ``mqtts://host:port`` (mutual TLS with the certificate the
    kiosk receives at enrollment).
``enroll``
    The broker's enrollment listener, ``mqtts://host:port``: TLS, no client certificate.
``ca``
    The SHA-256 fingerprint of the broker CA's certificate (its DER bytes), 64 lower-case hex
    digits: the kiosk trusts only the CA certificate that hashes to it.
``jti``
    The one-time enrollment token: at least 16 random bytes, base64url without padding. The
    enrollment service accepts it once (:mod:`models.enrollment`).
``iat``, ``exp``
    Issue and expiry time (unix seconds); ``exp - iat`` at most :data:`MAX_VALIDITY_S`.
``pfx`` (optional)
    The topic prefix, default ``attendance/v1``.
``iss`` (optional)
    Who issued it (shown in the kiosk's log).

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models.messages import TERMINAL_ID_PATTERN
from models.signed_envelope import KEY_ID_PATTERN

PREFIX = "ATT1:P:"
ALGORITHM = "EdDSA"
TOKEN_TYPE = "kiosk-provisioning+jwt"
DEFAULT_TTL_S = 900
MAX_VALIDITY_S = 7 * 24 * 3600
MAX_CODE_CHARS = 2048
TOKEN_BYTES = 16
DEFAULT_TOPIC_PREFIX = "attendance/v1"

_MQTTS_URL = r"^mqtts://[A-Za-z0-9.:\[\]-]+:[0-9]{1,5}$"


class ProvisioningCodeError(ValueError):
    """A code that must not provision this kiosk; ``reason`` is a short machine-readable word
    (``not_provisioning_code``, ``malformed``, ``unknown_key``, ``bad_signature``, ``expired``,
    ``not_yet_valid``, ``too_long_valid``, ``bad_claims``)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ProvisioningClaims(BaseModel):
    """What a verified provisioning code says (see the module docstring for each claim)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tid: str = Field(pattern=TERMINAL_ID_PATTERN, description="Terminal id.")
    site: str = Field(min_length=1, max_length=64, description="Site or building.")
    mqtt: str = Field(pattern=_MQTTS_URL, description="Broker URL for check-ins (mqtts://).")
    enroll: str = Field(pattern=_MQTTS_URL, description="Enrollment listener URL (mqtts://).")
    ca: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the CA certificate DER.")
    jti: str = Field(pattern=r"^[A-Za-z0-9_-]{22,128}$", description="One-time token.")
    iat: int = Field(ge=0, description="Issued at, unix seconds.")
    exp: int = Field(ge=0, description="Expires at, unix seconds.")
    pfx: str = Field(DEFAULT_TOPIC_PREFIX, min_length=1, max_length=200, description="Prefix.")
    iss: str | None = Field(None, max_length=200, description="Issuer.")

    @field_validator("pfx")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if any(c in value for c in "+#") or value.startswith(("/", "$")) or value.endswith("/"):
            raise ValueError("must not contain + or # nor start with / or $ or end with /")
        return value


def ca_fingerprint(certificate_pem: bytes) -> str:
    """The SHA-256 fingerprint (lower-case hex) of a PEM certificate's DER bytes, as in ``ca``.

    Raises :class:`ValueError` when ``certificate_pem`` is not a PEM certificate.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_pem_x509_certificate(certificate_pem)
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def new_token() -> str:
    """A fresh one-time enrollment token (``jti``)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def issue_provisioning_code(
    private_key: Ed25519PrivateKey,
    key_id: str,
    *,
    terminal_id: str,
    site: str,
    broker_url: str,
    enroll_url: str,
    ca_sha256: str,
    ttl_s: int = DEFAULT_TTL_S,
    topic_prefix: str = DEFAULT_TOPIC_PREFIX,
    issuer: str | None = None,
    token: str | None = None,
    now: float | None = None,
) -> str:
    """A provisioning code for one terminal, valid ``ttl_s`` seconds from ``now``.

    ``token`` defaults to :func:`new_token`. Raises :class:`ValueError` on a bad argument (the
    claims are checked exactly as a kiosk checks them).
    """
    if not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise ValueError(f"key id {key_id!r}: use 1-16 of A-Z a-z 0-9 _ -")
    if not 0 < ttl_s <= MAX_VALIDITY_S:
        raise ValueError(f"ttl_s must be 1..{MAX_VALIDITY_S} seconds, not {ttl_s}")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "tid": terminal_id,
        "site": site,
        "mqtt": broker_url,
        "enroll": enroll_url,
        "ca": ca_sha256.lower(),
        "jti": token or new_token(),
        "iat": issued,
        "exp": issued + ttl_s,
    }
    if topic_prefix != DEFAULT_TOPIC_PREFIX:
        claims["pfx"] = topic_prefix
    if issuer is not None:
        claims["iss"] = issuer
    try:
        ProvisioningClaims.model_validate(claims)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None
    headers = {"kid": key_id, "typ": TOKEN_TYPE}
    return PREFIX + jwt.encode(claims, private_key, algorithm=ALGORITHM, headers=headers)


def read_provisioning_code(
    text: str,
    public_key: Callable[[str], Ed25519PublicKey | None],
    *,
    now: float | None = None,
    leeway_s: float = 60.0,
) -> ProvisioningClaims:
    """Verify ``text`` as a provisioning code and return its claims.

    ``public_key`` maps a key id to the organisation's public key (None: unknown). The times are
    checked against ``now`` (default: the clock) allowing ``leeway_s`` of skew. Raises
    :class:`ProvisioningCodeError` with the reason when the code must be refused.
    """
    if not text.startswith(PREFIX):
        raise ProvisioningCodeError("not_provisioning_code", "does not start with ATT1:P:")
    if len(text) > MAX_CODE_CHARS:
        raise ProvisioningCodeError("malformed", f"longer than {MAX_CODE_CHARS} characters")
    token = text[len(PREFIX) :]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise ProvisioningCodeError("malformed", str(exc)) from None
    key_id = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
        raise ProvisioningCodeError("malformed", f"not an {ALGORITHM} {TOKEN_TYPE}")
    if not isinstance(key_id, str) or not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise ProvisioningCodeError("malformed", "no valid key id (kid)")
    key = public_key(key_id)
    if key is None:
        raise ProvisioningCodeError("unknown_key", f"no organisation key {key_id!r}")
    raw = _decode(token, key, now, leeway_s)
    try:
        claims = ProvisioningClaims.model_validate(raw)
    except ValidationError as exc:
        raise ProvisioningCodeError("bad_claims", _first_error(exc)) from None
    if claims.exp - claims.iat > MAX_VALIDITY_S:
        raise ProvisioningCodeError("too_long_valid", f"valid for over {MAX_VALIDITY_S} s")
    return claims


def _decode(token: str, key: Ed25519PublicKey, now: float | None, leeway_s: float) -> Any:
    at = time.time() if now is None else now
    options: Any = {"require": ["exp", "iat", "jti"], "verify_exp": False, "verify_iat": False}
    try:
        raw = jwt.decode(token, key, algorithms=[ALGORITHM], options=options)
    except jwt.InvalidSignatureError:
        raise ProvisioningCodeError("bad_signature", "the signature does not verify") from None
    except jwt.PyJWTError as exc:
        raise ProvisioningCodeError("malformed", str(exc)) from None
    # Checked here rather than by PyJWT so that "now" can be given (tests, clock checks).
    exp, iat = raw.get("exp"), raw.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or exp <= iat:
        raise ProvisioningCodeError("bad_claims", "iat and exp must be whole seconds, exp > iat")
    if at >= exp + leeway_s:
        raise ProvisioningCodeError("expired", f"expired {int(at - exp)} s ago")
    if at < iat - leeway_s:
        raise ProvisioningCodeError("not_yet_valid", f"issued {int(iat - at)} s in the future")
    return raw


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "claims"
    return f"{where}: {error['msg']}"
