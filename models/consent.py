"""A person's consent to face recognition, as the HR system or the kiosk recorded it.

China's Face Recognition Technology Application Security Management Measures (人脸识别技术应用
安全管理办法, in force since 1 June 2025) require the person's *separate* consent (单独同意) before
their face is processed, and that face information stays in the device unless they also consent
to it being transmitted. :class:`Consent` records that choice:

- ``scope`` ``none``: the person refused or withdrew consent. Their face is never encoded or
  matched; they check in with their QR code. A person with no consent recorded is treated the
  same way.
- ``on_device``: their templates may be made and kept on the kiosk that enrolled them, never
  sent anywhere (:mod:`models.roster` carries none of them).
- ``transfer``: their templates may also travel in rosters from the central side.

``given_at`` is the day the person signed (or withdrew), ``recorded_by`` who recorded it (an HR
clerk's name or account), so an audit can find the paper form.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ConsentScope = Literal["none", "on_device", "transfer"]
SCOPES: tuple[ConsentScope, ...] = ("none", "on_device", "transfer")
FACE_SCOPES: frozenset[str] = frozenset({"on_device", "transfer"})
"""Scopes that allow the person's face to be encoded and matched."""
RECORDED_BY_MAX = 128


class Consent(BaseModel):
    """What a person agreed to about their face, when, and who recorded it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scope: ConsentScope = Field(
        description="none: no face processing (QR only); on_device: templates only on the kiosk"
        " that enrolled them; transfer: templates may also travel in rosters."
    )
    given_at: date = Field(description="The day the person gave (or withdrew) consent.")
    recorded_by: str = Field(
        min_length=1, max_length=RECORDED_BY_MAX, description="Who recorded it (name or account)."
    )

    @field_validator("recorded_by")
    @classmethod
    def _check_recorded_by(cls, value: str) -> str:
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value):
            raise ValueError("no control characters")
        if value != value.strip():
            raise ValueError("no leading or trailing spaces")
        return value

    @property
    def allows_face(self) -> bool:
        """Whether the person's face may be encoded and matched at all."""
        return self.scope in FACE_SCOPES

    @property
    def allows_transfer(self) -> bool:
        """Whether the person's templates may leave the kiosk (rosters, exports)."""
        return self.scope == "transfer"


def allows_face(consent: Consent | None) -> bool:
    """Whether a person with this consent (None: none recorded) may be recognised by face."""
    return consent is not None and consent.allows_face


def allows_transfer(consent: Consent | None) -> bool:
    """Whether a person with this consent (None: none recorded) may have templates sent."""
    return consent is not None and consent.allows_transfer
