"""Provisioning codes: a standard JWT behind ``ATT1:P:``, and every reason one is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.provisioning_code import (
    MAX_VALIDITY_S,
    PREFIX,
    ProvisioningCodeError,
    issue_provisioning_code,
    read_provisioning_code,
)
from tests.tls_tools import Pki

ORG = Ed25519PrivateKey.generate()
NOW = 1_800_000_000
FINGERPRINT = "0f" * 32


def keys(**by_id: Ed25519PrivateKey) -> Callable[[str], Ed25519PublicKey | None]:
    """A key lookup holding the public halves of ``by_id``."""
    public = {kid: key.public_key() for kid, key in by_id.items()}
    return public.get


def code(key: Ed25519PrivateKey = ORG, key_id: str = "ORG1", **overrides: Any) -> str:
    """A provisioning code for kiosk-07 issued at NOW, valid 900 s, with ``overrides``."""
    arguments: dict[str, Any] = {
        "terminal_id": "kiosk-07",
        "site": "上海 HQ",
        "broker_url": "mqtts://mqtt.example.com:8883",
        "enroll_url": "mqtts://mqtt.example.com:8884",
        "ca_sha256": FINGERPRINT,
        "now": NOW,
    }
    arguments.update(overrides)
    return issue_provisioning_code(key, key_id, **arguments)


def test_a_code_is_ascii_any_jwt_library_reads_and_round_trips() -> None:
    text = code(issuer="Example Training School", topic_prefix="acme/att")
    assert text.startswith(PREFIX) and text.isascii() and text.isprintable()
    raw = jwt.decode(
        text[len(PREFIX) :],
        ORG.public_key(),
        algorithms=["EdDSA"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert raw["tid"] == "kiosk-07" and raw["site"] == "上海 HQ"
    claims = read_provisioning_code(text, keys(ORG1=ORG), now=NOW + 10)
    assert (claims.tid, claims.site, claims.pfx) == ("kiosk-07", "上海 HQ", "acme/att")
    assert (claims.mqtt, claims.enroll) == (
        "mqtts://mqtt.example.com:8883",
        "mqtts://mqtt.example.com:8884",
    )
    assert (claims.ca, claims.exp - claims.iat, claims.iss) == (
        FINGERPRINT,
        900,
        "Example Training School",
    )
    assert len(claims.jti) >= 22
    assert read_provisioning_code(code(), keys(ORG1=ORG), now=NOW).pfx == "attendance/v1"
    assert read_provisioning_code(code(), keys(ORG1=ORG), now=NOW).jti != claims.jti


def test_the_fingerprint_is_the_sha256_of_the_ca_certificate(tmp_path: Any) -> None:
    import hashlib
    import ssl

    from models.provisioning_code import ca_fingerprint

    pki = Pki(tmp_path)
    pem = pki.ca_file.read_bytes()
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    assert ca_fingerprint(pem) == hashlib.sha256(der).hexdigest()
    with pytest.raises(ValueError):
        ca_fingerprint(b"not a certificate")


def _refusal(text: str, now: float = NOW, **by_id: Ed25519PrivateKey) -> str:
    with pytest.raises(ProvisioningCodeError) as caught:
        read_provisioning_code(text, keys(**(by_id or {"ORG1": ORG})), now=now, leeway_s=60)
    return caught.value.reason


def _tampered(text: str, **changes: Any) -> str:
    header, payload, signature = text[len(PREFIX) :].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{PREFIX}{header}.{body}.{signature}"


def test_each_bad_code_is_refused_with_its_own_reason() -> None:
    other = Ed25519PrivateKey.generate()
    assert _refusal("ATT1:S:E1001.1.2.AAAA.HR1.SIG") == "not_provisioning_code"
    assert _refusal("https://example.com/") == "not_provisioning_code"
    assert _refusal(PREFIX + "not-a-jwt") == "malformed"
    assert _refusal(PREFIX + "A" * 3000) == "malformed"
    assert _refusal(code(key=other)) == "bad_signature"
    assert _refusal(code(key_id="ORG2")) == "unknown_key"
    rotated = read_provisioning_code(
        code(key=other, key_id="ORG2"), keys(ORG1=ORG, ORG2=other), now=NOW
    )
    assert rotated.tid == "kiosk-07"  # several organisation keys, by key id
    assert _refusal(_tampered(code(), tid="kiosk-99")) == "bad_signature"
    assert _refusal(code(), now=NOW + 900 + 61) == "expired"
    assert _refusal(code(), now=NOW - 61) == "not_yet_valid"
    # Within the allowed skew on both sides:
    read_provisioning_code(code(), keys(ORG1=ORG), now=NOW + 900 + 59, leeway_s=60)
    read_provisioning_code(code(), keys(ORG1=ORG), now=NOW - 59, leeway_s=60)


def test_claims_a_kiosk_cannot_use_are_refused_even_when_signed() -> None:
    def signed(**claims: Any) -> str:
        base = {
            "tid": "kiosk-07",
            "site": "HQ",
            "mqtt": "mqtts://h:8883",
            "enroll": "mqtts://h:8884",
            "ca": FINGERPRINT,
            "jti": "A" * 22,
            "iat": NOW,
            "exp": NOW + 60,
        }
        base.update(claims)
        headers = {"kid": "ORG1", "typ": "kiosk-provisioning+jwt"}
        return PREFIX + jwt.encode(base, ORG, algorithm="EdDSA", headers=headers)

    assert _refusal(signed(mqtt="mqtt://h:1883")) == "bad_claims"  # no TLS: no pinned CA
    assert _refusal(signed(tid="bad id")) == "bad_claims"
    assert _refusal(signed(ca="00")) == "bad_claims"
    assert _refusal(signed(jti="short")) == "bad_claims"
    assert _refusal(signed(pfx="a/+/b")) == "bad_claims"
    assert _refusal(signed(exp=NOW)) == "bad_claims"
    assert _refusal(signed(exp=NOW + MAX_VALIDITY_S + 1)) == "too_long_valid"
    read_provisioning_code(signed(), keys(ORG1=ORG), now=NOW)
    plain = PREFIX + jwt.encode({"tid": "x"}, "s" * 32, algorithm="HS256")
    assert _refusal(plain) == "malformed"  # only EdDSA provisioning tokens


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"terminal_id": "kiosk 07"}, "tid"),
        ({"broker_url": "mqtt://h:1883"}, "mqtt"),
        ({"ca_sha256": "xyz"}, "ca"),
        ({"ttl_s": 0}, "ttl_s"),
        ({"key_id": "ORG.1"}, "key id"),
    ],
)
def test_issuing_a_code_a_kiosk_would_refuse_is_an_error(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        code(**overrides)
