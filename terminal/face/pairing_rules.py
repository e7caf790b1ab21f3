"""Verification mode ``face_and_qr``: the QR code says who, the face must confirm it (1:1).

A valid code for person P opens a :class:`Pairing`, open for ``pair_window_s``. Each face seen
meanwhile is compared with P's templates and with everyone else's (:meth:`Matcher.verify`)
and judged (:func:`judge`):

- ``match``: within the pair tolerance of P and at least ``margin`` nearer to P than to
  anyone else; ``confirm_frames`` in a row confirm P.
- ``other``: nearer to another enrolled person than to P. ``confirm_frames`` in a row (as
  many as it takes to recognise someone) cancel the pairing: a colleague's code shown with
  one's own face, possibly buddy punching.
- ``miss``: anything else (too far from P, or as near to someone else). :data:`MISS_FRAMES`
  non-matching frames in a row cancel the pairing too: that face is not P's.

The pair tolerance is stricter than the 1:N tolerance (see :func:`default_pair_tolerance`):
the code already narrows the question to one person, so the face only has to be certain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from terminal.checkin.badges import QrClaim
from terminal.checkin.rules import CONFIRM_GAP_S
from terminal.face.matcher import Verification

PAIR_TOLERANCE_FACTOR = 0.8
"""Default pair tolerance = this times the recognition tolerance. With SFace (0.59 -> 0.472),
measured with `kiosk calibrate` on every pair of photos: East Asian LFW + NUAA webcam (3,225
genuine, 59,610 impostor pairs), false accepts 69 -> 1 (FAR 1.2e-3 -> 1.7e-5) for true
accepts 99.4 % -> 96.6 %; ../shared/faces: no false accept either way, 100 % -> 96.6 %. The
zero-false-accept point of the East Asian set is 0.458 (96.0 %). A factor rather than a fixed
step because the engines' distances differ in scale (dlib 0.4 -> 0.32: no false accept, but
only 42 % of genuine East Asian pairs; dlib sites should calibrate their own)."""
MISS_FRAMES = 5
"""Non-matching frames in a row that cancel a pairing (a third of a second at 15 fps; one
blurred or half-turned frame is not evidence)."""

PairVerdict = Literal["match", "other", "miss"]
PairState = Literal["pending", "confirmed", "mismatch"]


def default_pair_tolerance(tolerance: float) -> float:
    """The pair tolerance when ``[verification] pair_tolerance`` is unset."""
    return round(PAIR_TOLERANCE_FACTOR * tolerance, 4)


def judge(check: Verification, pair_tolerance: float, margin: float) -> PairVerdict:
    """What one face says about the claim (see the module docstring)."""
    other = check.other_distance
    if other is not None and other < check.distance:
        return "other"
    if check.distance <= pair_tolerance and (other is None or other - check.distance >= margin):
        return "match"
    return "miss"


@dataclass
class Pairing:
    """An open claim: whose code was shown, when, and what the faces since have said."""

    claim: QrClaim
    name: str | None
    opened_at: float
    matches: int = 0
    others: int = 0
    misses: int = 0
    last_at: float | None = None
    last: Verification | None = None
    """The latest comparison (for the log)."""

    @property
    def person_id(self) -> str:
        """Whom the code names."""
        return self.claim.person_id

    def expired(self, now: float, window_s: float) -> bool:
        """Whether the face came too late (``window_s`` after the code)."""
        return now - self.opened_at > window_s

    def observe(
        self, check: Verification, verdict: PairVerdict, now: float, confirm_frames: int
    ) -> PairState:
        """Count one judged face; frames further apart than ``CONFIRM_GAP_S`` start afresh."""
        if self.last_at is None or not 0 <= now - self.last_at <= CONFIRM_GAP_S:
            self.matches = self.others = self.misses = 0
        self.last_at, self.last = now, check
        if verdict == "match":
            self.matches, self.others, self.misses = self.matches + 1, 0, 0
            return "confirmed" if self.matches >= confirm_frames else "pending"
        self.matches = 0
        self.misses += 1
        self.others = self.others + 1 if verdict == "other" else 0
        if self.others >= confirm_frames or self.misses >= MISS_FRAMES:
            return "mismatch"
        return "pending"
