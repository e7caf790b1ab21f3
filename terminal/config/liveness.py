"""``[liveness]``: presentation-attack detection for face check-ins (QR check-ins are not affected).

Three modes (:mod:`terminal.face.passive_liveness`, :mod:`terminal.face.liveness`):

- ``passive`` (default): every recognised face is scored from the frames it was seen in (does
  it look recaptured from a print or a screen, does the background move with it). A face that
  looks clearly live is checked in at once, a clearly fake one is refused, and only the
  uncertain middle is asked to turn its head.
- ``strict``: every recognised face is asked to turn its head (``head_turn``, the name of this
  mode before the passive stage, is still accepted).
- ``off``: no check; a photo of an employee checks them in.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from terminal.config.base import Section


class LivenessSection(Section):
    """Presentation-attack detection for face check-ins (QR check-ins are not affected)."""

    mode: Literal["passive", "strict", "off"] = Field(
        "passive",
        description="passive: clearly live faces pass at once, clearly fake ones are refused,"
        " the uncertain ones are asked to turn their head; strict: every face is asked to turn"
        " its head (left or right at random); off: no check (head_turn: the old name of strict).",
    )
    turn: float = Field(
        0.30, gt=0.05, le=1.0, description="Sideways nose move, in eye distances, that counts"
        " as a turn: hand-held photos reached 0.26, real turns 0.37-0.94 (kiosk bench liveness).",
    )  # fmt: skip
    timeout_s: float = Field(4.0, gt=0.5, le=30, description="Time to turn once asked.")
    hold_frames: int = Field(2, ge=1, le=10, description="Frames the turn must be seen in.")
    max_attempts: int = Field(
        3, ge=1, le=10, description="Failed requests after which face check-in is refused for"
        " lockout_s (a warning is logged: possible photo or video attack).",
    )  # fmt: skip
    lockout_s: float = Field(60.0, ge=0, le=3600, description="How long that refusal lasts.")
    mirrored: bool = Field(False, description="The camera delivers a mirror image.")

    @field_validator("mode", mode="before")
    @classmethod
    def _old_mode_name(cls, value: Any) -> Any:
        return "strict" if value == "head_turn" else value

    @property
    def asks(self) -> bool:
        """Whether recognised faces are checked at all (``passive`` or ``strict``)."""
        return self.mode != "off"
