"""Enrollment: how a kiosk that scanned a provisioning code gets its client certificate.

The broker has a second TLS listener for enrollment (no client certificate, anonymous, an ACL
that allows only the topics below for the client's own client id ``%c``). Topics, under the
code's prefix ``{p}`` (default ``attendance/v1``):

- ``{p}/enroll/ca``  central -> anyone, retained: the broker CA's certificate (PEM text). The
  kiosk fetches it over an unverified TLS connection and keeps it only if its SHA-256 equals
  the code's ``ca`` fingerprint; every later connection verifies the broker with it.
- ``{p}/enroll/{client id}/request``  kiosk -> central, QoS 1: an :class:`EnrollRequest`.
- ``{p}/enroll/{client id}/reply``    central -> kiosk, QoS 1: an :class:`EnrollReply`.

The kiosk makes its own key pair and sends only a certificate signing request (CSR), so its
private key never leaves it. The enrollment service verifies the code's signature with the
organisation's public key, accepts its ``jti`` token once (the same request again gets the same
certificate; another key with a used token is refused), and issues a client certificate whose
Common Name is the code's terminal id, whatever the CSR asks for.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from models.messages import TERMINAL_ID_PATTERN

CLIENT_ID_PATTERN = r"^enroll-[0-9a-f]{16}$"
"""The client id a kiosk uses on the enrollment listener (``enroll-`` and 16 hex digits)."""

REFUSAL_REASONS = (
    "malformed",
    "bad_code",
    "token_used",
    "bad_csr",
    "internal_error",
)
"""Why an enrollment is refused: the request is not an :class:`EnrollRequest`; the code does not
verify (the detail says why); its token was used by another key; the CSR is not a valid,
self-signed EC or RSA request; the service failed (try again)."""


class DeviceInfo(BaseModel):
    """What the kiosk says about itself (shown to the admin, stored with the token's use)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hostname: str = Field(max_length=255, description="The kiosk's host name.")
    software: str = Field(max_length=64, description="The kiosk software version.")


class EnrollRequest(BaseModel):
    """A kiosk's request for a client certificate, with the provisioning code it scanned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(1, description="Message version.")
    code: str = Field(max_length=2048, description="The provisioning code (ATT1:P:...).")
    csr: str = Field(max_length=16384, description="PKCS#10 certificate request, PEM.")
    device: DeviceInfo


class EnrollReply(BaseModel):
    """The enrollment service's answer: a certificate, or why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = Field(1, description="Message version.")
    status: Literal["enrolled", "refused"]
    terminal_id: str | None = Field(
        None, pattern=TERMINAL_ID_PATTERN, description="The certificate's CN (when enrolled)."
    )
    certificate: str | None = Field(
        None, max_length=16384, description="The client certificate, PEM (when enrolled)."
    )
    reason: str | None = Field(None, description="One of REFUSAL_REASONS (when refused).")
    detail: str | None = Field(None, max_length=500, description="A readable explanation.")


def ca_topic(prefix: str) -> str:
    """The retained topic carrying the broker CA's certificate."""
    return f"{prefix}/enroll/ca"


def request_topic(prefix: str, client_id: str) -> str:
    """Where the kiosk with ``client_id`` publishes its :class:`EnrollRequest`."""
    return f"{prefix}/enroll/{client_id}/request"


def reply_topic(prefix: str, client_id: str) -> str:
    """Where the enrollment service answers the kiosk with ``client_id``."""
    return f"{prefix}/enroll/{client_id}/reply"


def all_requests(prefix: str) -> str:
    """Filter matching every kiosk's enrollment request."""
    return f"{prefix}/enroll/+/request"


def client_of_request(prefix: str, topic: str) -> str | None:
    """The client id in a request topic, or None if ``topic`` is not one."""
    head, tail = f"{prefix}/enroll/", "/request"
    if not topic.startswith(head) or not topic.endswith(tail):
        return None
    client_id = topic[len(head) : -len(tail)]
    return client_id if re.fullmatch(CLIENT_ID_PATTERN, client_id) else None
