"""Signed short-lived personal QR codes: the format, how an HR system issues one, how to parse it.

A signed code is ASCII text, compact enough for a version 7 QR symbol at error level M for
typical ids, and made only of QR "alphanumeric" characters (``A-Z 0-9 $ % * + - . / :`` and
space) so that QR encoders pick their denser alphanumeric mode on their own::

    ATT1:S:<person>.<issued>.<expires>.<nonce>.<key id>.<signature>

Fields, in order:

``ATT1:S:``
    Scheme and version (``ATT1``) and kind (``S``: signed; static badges are ``ATT1:B:``).
``person``
    The person id (1-64 characters, no control characters, no leading or trailing space) as
    UTF-8, each byte outside ``A-Z``, ``0-9`` and ``-`` written as ``%`` and two upper-case hex
    digits. ``E1001`` stays ``E1001``; ``jdoe`` becomes ``%6A%64%6F%65``. Only this canonical
    form is accepted (no ``%45`` for ``E``, no lower-case hex).
``issued``, ``expires``
    Unix times in whole seconds (UTC), decimal, no sign, no leading zeros. ``expires`` must be
    after ``issued``; the code is valid from ``issued`` until just before ``expires``.
``nonce``
    8 to 16 random bytes (at least 64 bits; :func:`issue_code` uses 8), RFC 4648 base32,
    upper case, without ``=`` padding, in canonical form (unused trailing bits zero).
``key id``
    Which of the HR system's Ed25519 keys signed the code: 1-16 characters of
    ``[A-Za-z0-9_-]``, written like ``person`` (so upper-case ids keep codes shortest).
``signature``
    The 64-byte Ed25519 signature (RFC 8032), base32 as for ``nonce`` (103 characters), over
    the ASCII bytes of everything before the last ``.``: the ``ATT1:S:`` prefix and the five
    fields with their separators. No field can be changed or re-labelled without breaking it.

Test vector: the RFC 8032 test 1 private key (hex ``9d61b19deffd5a60ba844af492ec2cc4
4449c5697b326919703bac031cae7f60``) as key ``HR1``, person ``E1001``, issued 1767225600
(2026-01-01T00:00:00Z), expiring 30 s later, nonce bytes ``00 01 02 03 04 05 06 07`` give this
code of 156 characters (one line; QR version 7 at level M)::

    ATT1:S:E1001.1767225600.1767225630.AAAQEAYEAUDAO.HR1.JVD2BCCQGI746JCXFSIEKWEBZ7F64TEVBKE
    CUFPPP5E4Z5DHUHRBVTAUD3OKVFCXCVMC2K75ZDGVTMGFWFWH6CPQLGFM6HE44RCEUAA

A verifier (the kiosk: ``terminal/checkin/code_checker.py``) looks the key up by id, checks the
signature, then the times against its clock with an allowed skew, then that the
(key id, nonce) pair was never used before. An HR system issues codes with :func:`issue_code`;
``kiosk keys generate`` makes a key pair and ``kiosk qr issue`` issues a code from the shell.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import unquote_to_bytes

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

PREFIX = "ATT1:S:"
ENROLL_PREFIX = "ATT1:E:"
"""Kind ``E``: an enrollment code. Same fields and signature as a check-in code; it lets the
face in front of the kiosk be enrolled as the person it names, so it is shown by an admin and
kept short-lived. The kind is in the signed text, so neither kind can be relabelled."""
CodeKind = Literal["checkin", "enroll"]
KEY_ID_PATTERN = r"[A-Za-z0-9_-]{1,16}"
PERSON_ID_MAX = 64
NONCE_BYTES = 8
NONCE_BYTES_MAX = 16
SIGNATURE_BYTES = 64
MAX_CODE_CHARS = 512
DEFAULT_TTL_S = 30

_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
_TEXT_FIELD = re.compile(r"(?:[A-Z0-9-]|%[0-9A-F]{2})+")
_BASE32 = re.compile(r"[A-Z2-7]+")
_SECONDS = re.compile(r"0|[1-9][0-9]{0,10}")


class CodeFormatError(ValueError):
    """Text that is not a well-formed signed code; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedCode:
    """The claims of a well-formed signed code (the signature not yet checked)."""

    person_id: str
    issued_at: int
    expires_at: int
    nonce: str
    key_id: str
    signature: bytes = field(repr=False)
    signed_text: str = field(repr=False)
    """Exactly the text the signature covers (everything before the last ``.``)."""
    kind: CodeKind = "checkin"

    @property
    def validity_s(self) -> int:
        """How long the code is valid for, in seconds (expiry minus issue time)."""
        return self.expires_at - self.issued_at


def issue_code(
    private_key: Ed25519PrivateKey | bytes,
    key_id: str,
    person_id: str,
    ttl_s: int = DEFAULT_TTL_S,
    now: datetime | float | None = None,
    kind: CodeKind = "checkin",
) -> str:
    """A fresh signed code for ``person_id``, valid for ``ttl_s`` seconds from ``now``.

    ``private_key`` is an Ed25519 private key or its unencrypted PEM (PKCS#8) bytes; ``key_id``
    names the matching public key on the kiosks (``<key id>.pub``); ``now`` is a datetime or
    unix seconds (default: the current time). Raises :class:`ValueError` on a bad argument.
    """
    key = load_private_key(private_key) if isinstance(private_key, bytes) else private_key
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("private_key must be an Ed25519 private key")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
        raise ValueError(f"ttl_s must be a positive whole number of seconds, not {ttl_s!r}")
    seconds = time.time() if now is None else now.timestamp() if isinstance(now, datetime) else now
    issued = int(seconds)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return sign_claims(key, key_id, person_id, issued, issued + ttl_s, nonce, kind)


def sign_claims(
    private_key: Ed25519PrivateKey,
    key_id: str,
    person_id: str,
    issued_at: int,
    expires_at: int,
    nonce: bytes,
    kind: CodeKind = "checkin",
) -> str:
    """The signed code for exactly these claims (test vectors; HR systems use issue_code)."""
    _check_key_id(key_id)
    _check_person_id(person_id)
    if not 0 <= issued_at < expires_at:
        raise ValueError("expires_at must be after issued_at (both unix seconds, not negative)")
    if not NONCE_BYTES <= len(nonce) <= NONCE_BYTES_MAX:
        raise ValueError(f"the nonce must have {NONCE_BYTES}-{NONCE_BYTES_MAX} bytes")
    prefix = ENROLL_PREFIX if kind == "enroll" else PREFIX
    signed = f"{prefix}{_encode_text(person_id)}.{issued_at}.{expires_at}.{_b32(nonce)}"
    signed += f".{_encode_text(key_id)}"
    return f"{signed}.{_b32(private_key.sign(signed.encode('ascii')))}"


def parse_code(text: str) -> SignedCode:
    """Read ``text`` as a signed code (structure only); raise :class:`CodeFormatError` if not."""
    if len(text) > MAX_CODE_CHARS:
        raise CodeFormatError(f"longer than {MAX_CODE_CHARS} characters")
    kind: CodeKind = "enroll" if text.startswith(ENROLL_PREFIX) else "checkin"
    if not text.startswith((PREFIX, ENROLL_PREFIX)):
        raise CodeFormatError(f"does not start with {PREFIX}")
    fields = text[len(PREFIX) :].split(".")
    if len(fields) != 6:
        raise CodeFormatError(f"has {len(fields)} fields instead of 6")
    person, issued, expires, nonce, key_id, signature = fields
    issued_at = _decode_seconds(issued, "issue time")
    expires_at = _decode_seconds(expires, "expiry")
    if expires_at <= issued_at:
        raise CodeFormatError("the expiry is not after the issue time")
    nonce_bytes = len(_decode_b32(nonce, "nonce"))
    if not NONCE_BYTES <= nonce_bytes <= NONCE_BYTES_MAX:
        raise CodeFormatError(f"the nonce has {nonce_bytes} bytes, not {NONCE_BYTES}-16")
    raw_signature = _decode_b32(signature, "signature")
    if len(raw_signature) != SIGNATURE_BYTES:
        raise CodeFormatError(f"the signature has {len(raw_signature)} bytes, not 64")
    try:
        person_id = _check_person_id(_decode_text(person, "person id"))
        key_name = _check_key_id(_decode_text(key_id, "key id"))
    except ValueError as exc:
        raise CodeFormatError(str(exc)) from None
    signed_text = text[: text.rindex(".")]
    return SignedCode(person_id, issued_at, expires_at, nonce, key_name, raw_signature, signed_text,
                      kind)  # fmt: skip


def verify_signature(code: SignedCode, public_key: Ed25519PublicKey) -> bool:
    """True when ``code`` was signed by the private key matching ``public_key``."""
    try:
        public_key.verify(code.signature, code.signed_text.encode("ascii"))
    except InvalidSignature:
        return False
    return True


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from unencrypted PEM; :class:`ValueError` if it is not one."""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; :class:`ValueError` if it is not one."""
    try:
        key = load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"not an Ed25519 key but {type(key).__name__}")
    return key


def _check_key_id(key_id: str) -> str:
    if not re.fullmatch(KEY_ID_PATTERN, key_id):
        raise ValueError(f"key id {key_id!r} must be 1-16 characters of A-Z a-z 0-9 _ -")
    return key_id


def _check_person_id(person_id: str) -> str:
    controls = ("Cc", "Cf", "Zl", "Zp")
    if not 1 <= len(person_id) <= PERSON_ID_MAX or any(
        unicodedata.category(char) in controls for char in person_id
    ):
        raise ValueError(f"person id {person_id!r} must be 1-64 characters, no control characters")
    if person_id != person_id.strip():
        raise ValueError(f"person id {person_id!r} must not start or end with a space")
    return person_id


def _encode_text(value: str) -> str:
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in value.encode("utf-8"))


def _decode_text(encoded: str, what: str) -> str:
    if not _TEXT_FIELD.fullmatch(encoded):
        raise CodeFormatError(f"the {what} is not percent-encoded A-Z 0-9 -")
    try:
        value = unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeDecodeError:
        raise CodeFormatError(f"the {what} is not UTF-8") from None
    if _encode_text(value) != encoded:
        raise CodeFormatError(f"the {what} is not in canonical form")
    return value


def _decode_seconds(encoded: str, what: str) -> int:
    if not _SECONDS.fullmatch(encoded):
        raise CodeFormatError(f"the {what} is not a decimal unix time")
    return int(encoded)


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _decode_b32(encoded: str, what: str) -> bytes:
    if not _BASE32.fullmatch(encoded):
        raise CodeFormatError(f"the {what} is not base32")
    try:
        raw = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
    except ValueError:
        raise CodeFormatError(f"the {what} is not base32") from None
    if _b32(raw) != encoded:
        raise CodeFormatError(f"the {what} is not in canonical base32")
    return raw
