"""QR codes in a frame: decoded, judged by the :class:`~terminal.checkin.desk.CodeSource`, and
turned into check-ins, pairings or refusals as the terminal's verification mode says.

- ``qr`` and ``face_or_qr``: a valid code of an enrolled person checks them in (one frame is
  enough); a refused code is refused on every frame it is seen.
- ``face``: a valid code checks in only a person the terminal cannot recognise by face (no
  consent, or no templates: :attr:`CheckInDesk.face_ids`), so the face is never the only way
  in; anyone else's code is refused, once per sighting.
- ``face_and_qr``: each sighting of a valid code of an enrolled person opens a pairing that its
  person's face must confirm (:mod:`terminal.face.pairing`).

An enrollment code (``ATT1:E:``) shown by an admin starts enrolling its person's face at the
kiosk (:mod:`terminal.face.kiosk_enrollment`), in every mode that reads faces; elsewhere it is
refused (``enroll_code_not_here``).

A *sighting* is a code seen in frames no more than :data:`SIGHTING_GAP_S` apart: a badge held
up for a few seconds is one sighting, shown again after being lowered another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Literal

from drivers.camera.base import Frame
from drivers.qr.base import QrDecoder
from models.messages import Method
from models.signed_code import ENROLL_PREFIX
from terminal.checkin.badges import QrClaim, QrRefusal
from terminal.checkin.decisions import Decision, ThrottledLog
from terminal.checkin.desk import CheckInDesk

log = logging.getLogger(__name__)

SIGHTING_GAP_S = 1.0

Mode = Literal["face", "qr", "face_or_qr", "face_and_qr"]


class Sightings:
    """Which codes are in view, and which of them have just come into view."""

    def __init__(self, gap_s: float = SIGHTING_GAP_S) -> None:
        self.gap_s = gap_s
        self._last: dict[str, float] = {}

    def see(self, texts: Iterable[str], now: float) -> set[str]:
        """Record this frame's codes; return those that start a new sighting."""
        self._last = {text: t for text, t in self._last.items() if 0 <= now - t <= self.gap_s}
        seen = set(texts)
        fresh = seen - self._last.keys()
        self._last.update(dict.fromkeys(seen, now))
        return fresh

    def in_view(self, text: str) -> bool:
        """Whether ``text`` belongs to a sighting still going on."""
        return text in self._last


class QrCheckIns:
    """Reads the codes of each frame and decides about them in the terminal's mode."""

    def __init__(
        self,
        decoder: QrDecoder,
        mode: Mode,
        desk: CheckInDesk,
        throttled: ThrottledLog,
        pair: Callable[[QrClaim, Frame], Decision] | None = None,
        enroll: Callable[[QrClaim, Frame], Decision] | None = None,
    ) -> None:
        self.decoder = decoder
        self.mode = mode
        self.desk = desk
        self.throttled = throttled
        self.pair = pair
        """``face_and_qr``: where valid codes go instead of checking in."""
        self.enroll = enroll
        """Where valid enrollment codes go (None: this terminal does not enroll faces)."""
        self.sightings = Sightings()
        self._used: dict[str, str] = {}
        """Codes that checked their person in during their current sighting (text -> id)."""

    def process(self, frame: Frame) -> list[Decision]:
        """One decision per code in the frame (``face`` and ``face_and_qr``: per sighting)."""
        texts = list(dict.fromkeys(self.decoder.decode(frame.image)))
        fresh = self.sightings.see(texts, frame.monotonic)
        self._used = {
            t: p for t, p in self._used.items() if self.sightings.in_view(t) and t not in fresh
        }
        decisions: list[Decision] = []
        for text in texts:
            if text.startswith(ENROLL_PREFIX):
                if text in fresh:
                    decisions.append(self._claim(text, frame, self._enroll))
            elif self.mode == "face":
                if text in fresh or text in self._used:
                    decisions.append(self._claim(text, frame, self._check_in_without_face))
            elif self.pair is not None:
                if text in fresh:
                    decisions.append(self._claim(text, frame, self.pair))
            else:
                decisions.append(self._claim(text, frame, self._check_in))
        return decisions

    def _claim(
        self, text: str, frame: Frame, use: Callable[[QrClaim, Frame], Decision]
    ) -> Decision:
        used_by = self._used.get(text)
        if used_by is not None:
            # The code that just checked its person in is still held up: a repeat, not a
            # replay (a single-use code would be refused as used).
            repeat = self.desk.repeat(used_by, Method.QR, frame)
            if repeat is not None:
                return repeat
        checked = self.desk.codes.check(text, frame.wall)
        if isinstance(checked, QrRefusal):
            return self._refuse(checked.reason, frame, None, text, checked.code)
        if (checked.kind == "enroll") != (use == self._enroll):
            return self._refuse("not a check-in code", frame, checked.person_id, text, "malformed")
        if checked.person_id not in self.desk.names:
            return self._refuse("unknown badge", frame, checked.person_id, text, "not_enrolled")
        decision = use(checked, frame)
        if decision.kind == "checked_in":
            self._used[text] = checked.person_id
        return decision

    def _enroll(self, claim: QrClaim, frame: Frame) -> Decision:
        """An admin's enrollment code: start capturing its person's face, if this terminal
        enrolls faces."""
        if self.enroll is None:
            return self._refuse("enroll_code_not_here", frame, claim.person_id, claim.person_id)
        return self.enroll(claim, frame)

    def _check_in_without_face(self, claim: QrClaim, frame: Frame) -> Decision:
        """``face`` mode: the code of someone with no face on file checks them in."""
        if claim.person_id in self.desk.face_ids:
            return self._refuse("qr_not_accepted", frame, claim.person_id, claim.person_id)
        return self._check_in(claim, frame)

    def _check_in(self, claim: QrClaim, frame: Frame) -> Decision:
        return self.desk.check_in(claim.person_id, Method.QR, frame, claim=claim)

    def _refuse(
        self,
        reason: str,
        frame: Frame,
        person_id: str | None,
        text: str,
        refusal: str | None = None,
    ) -> Decision:
        method = Method.FACE_AND_QR if self.pair is not None else Method.QR
        whose = f" ({person_id})" if person_id else ""
        kind = f" [{refusal}]" if refusal else ""
        self.throttled.log(
            logging.INFO,
            f"qr:{reason}:{person_id or text[:64]}",
            f"code refused{whose}{kind}: {reason}",
            frame.monotonic,
        )
        return Decision("refused", person_id, None, method, reason=reason, refusal=refusal)
