"""The signed envelope the central (HR) system wraps around what it sends a terminal.

Rosters (:mod:`models.roster`) and commands (:mod:`models.command`) travel the same way::

    {"schema_version": 1, "key_id": "HR1", "payload": "<base64>", "signature": "<base64>"}

``payload`` is the base64 (RFC 4648, with padding) of the exact UTF-8 JSON bytes of the message;
``signature`` the base64 of the 64-byte Ed25519 signature (RFC 8032) over those bytes, made
with the HR system's private key ``key_id``. A terminal holds the public keys as
``<key id>.pub`` files (PEM) in ``[central] public_keys_dir``. The payload is verified before it
is parsed and never re-serialised, so no canonical JSON form is needed. A roster chunk can never
pass for a command or the reverse: each payload type forbids the other's fields.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from models.signed_code import KEY_ID_PATTERN as CODE_KEY_ID_PATTERN

KEY_ID_PATTERN = f"^{CODE_KEY_ID_PATTERN}$"
"""Key ids name files (``<key id>.pub``): letters, digits, ``_`` and ``-`` only (the same
ids as signed QR codes use; one key loader for both, :mod:`models.signed_code`)."""
SIGNATURE_BYTES = 64

MALFORMED = "malformed"
UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
WRONG_TERMINAL = "wrong_terminal"


def _strict_b64decode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


def _b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


Base64Blob = Annotated[
    bytes,
    BeforeValidator(_strict_b64decode),
    PlainSerializer(_b64encode, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
"""Bytes carried as standard base64 with padding."""


class SignedEnvelope(BaseModel):
    """A payload and the HR system's Ed25519 signature over its exact bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(1, description="Version of this schema.")
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="Which HR key signed the payload.")
    payload: Base64Blob = Field(description="The exact JSON bytes of the message, base64.")
    signature: Base64Blob = Field(description="Ed25519 signature over the payload bytes, base64.")


EnvelopeT = TypeVar("EnvelopeT", bound=SignedEnvelope)


class EnvelopeRefusal(ValueError):
    """A signed message that must not be used; ``kind`` says which check it failed."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def describe_error(exc: ValidationError) -> str:
    """The first problem of a validation error as ``where: what``.

    JSON nested deeper than pydantic's parser allows (it stops, it does not recurse on) is said
    to be nested too deeply, so the reason reads as what it is, not as a parser's limit.
    """
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "message"
    what = first["msg"]
    if first["type"] == "json_invalid" and "recursion limit exceeded" in what:
        what = f"Invalid JSON: nested too deeply ({what.removeprefix('Invalid JSON: ')})"
    return f"{where}: {what}"


def sign_payload(
    envelope_type: type[SignedEnvelope], payload: bytes, private_key: Ed25519PrivateKey, key_id: str
) -> bytes:
    """The JSON bytes of an ``envelope_type`` carrying ``payload`` signed with ``key_id``."""
    envelope = envelope_type(key_id=key_id, payload=payload, signature=private_key.sign(payload))
    return envelope.model_dump_json().encode()


def open_envelope(
    data: bytes,
    envelope_type: type[SignedEnvelope],
    public_key: Callable[[str], Ed25519PublicKey | None],
    max_bytes: int,
    what: str,
) -> tuple[bytes, str]:
    """The verified payload bytes in ``data`` and the id of the key that signed them.

    ``public_key`` returns the trusted key of an id, or None (it may also raise its own
    refusal). ``what`` names the envelope in reasons. Raises :class:`EnvelopeRefusal`.

    The size is checked before anything is parsed, and the parser (pydantic's) refuses JSON
    nested too deeply instead of recursing into it: neither a large nor a deep message costs
    more than reading it once.
    """
    if len(data) > max_bytes:
        reason = f"{len(data)} bytes, more than the {max_bytes} a {what} may have"
        raise EnvelopeRefusal(MALFORMED, reason)
    try:
        envelope = envelope_type.model_validate_json(data)
    except ValidationError as exc:
        if any(e["loc"] == ("signature",) and e["type"] == "missing" for e in exc.errors()):
            raise EnvelopeRefusal(UNSIGNED, "unsigned: the message has no signature") from None
        raise EnvelopeRefusal(MALFORMED, f"not a {what}: {describe_error(exc)}") from None
    if not envelope.signature:
        raise EnvelopeRefusal(UNSIGNED, "unsigned: the signature is empty")
    if len(envelope.signature) != SIGNATURE_BYTES:
        size = len(envelope.signature)
        raise EnvelopeRefusal(BAD_SIGNATURE, f"bad signature: {size} bytes, not {SIGNATURE_BYTES}")
    key = public_key(envelope.key_id)
    if key is None:
        raise EnvelopeRefusal(UNKNOWN_KEY, f"signed with an unknown key {envelope.key_id!r}")
    try:
        key.verify(envelope.signature, envelope.payload)
    except InvalidSignature:
        raise EnvelopeRefusal(
            BAD_SIGNATURE, f"bad signature: the payload is not what key {envelope.key_id!r} signed"
        ) from None
    return envelope.payload, envelope.key_id
