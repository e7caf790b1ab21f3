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

The window and the gap allowed between judged frames follow the measured frame interval
(:mod:`terminal.checkin.pace`): ``pair_window_s`` or :data:`PAIR_WINDOW_FRAMES` intervals, and
:data:`~terminal.checkin.rules.CONFIRM_GAP_S` or ``CONFIRM_GAP_FRAMES`` intervals, whichever is
longer, so a slow board's face still comes "in time". The rest counts frames already.

The pair tolerance is stricter than the 1:N tolerance (see :func:`default_pair_tolerance`):
the code already narrows the question to one person, so the face only has to be certain.

Only the largest face is looked at: the person who showed the code stands closest, and a
colleague passing behind must neither confirm nor cancel their pairing. Without an open
pairing a face is only told to show a code first (found, not embedded).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from models.messages import Method
from terminal.checkin.badges import QrClaim
from terminal.checkin.decisions import Decision
from terminal.checkin.desk import CheckInDesk
from terminal.checkin.pace import FramePace
from terminal.checkin.rules import CONFIRM_GAP_FRAMES, CONFIRM_GAP_S
from terminal.config import Config
from terminal.face.frames import FaceFrames, SeenFace
from terminal.face.liveness import Challenge
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.matcher import Match, Verification
from terminal.face.tracks import FaceTrack

PAIR_TOLERANCE_FACTOR = 0.8
"""Default pair tolerance = this times the recognition tolerance: 0.328 for SFace since its
tolerance became 0.41 (cross-validated open set, see drivers/face/sface_engine.py). At the
former 0.59 -> 0.472, measured with `kiosk calibrate` on every pair of photos: East Asian LFW +
NUAA webcam (3,225 genuine, 59,610 impostor pairs), false accepts 69 -> 1 (FAR 1.2e-3 -> 1.7e-5)
for true accepts 99.4 % -> 96.6 %; ../shared/faces: no false accept either way, 100 % -> 96.6 %.
The zero-false-accept point of the East Asian set is 0.458 (96.0 %). A factor rather than a
fixed step because the engines' distances differ in scale (dlib 0.4 -> 0.32: no false accept,
but only 42 % of genuine East Asian pairs; dlib sites should calibrate their own)."""
MISS_FRAMES = 5
"""Non-matching frames in a row that cancel a pairing (a third of a second at 15 fps; one
blurred or half-turned frame is not evidence)."""
PAIR_WINDOW_FRAMES = 10
"""On a slow board the pairing stays open for at least this many frame intervals: enough to
confirm the face and, if asked, see a head turn."""

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
        self,
        check: Verification,
        verdict: PairVerdict,
        now: float,
        confirm_frames: int,
        max_gap_s: float = CONFIRM_GAP_S,
    ) -> PairState:
        """Count one judged face; frames further apart than ``max_gap_s`` start afresh."""
        if self.last_at is None or not 0 <= now - self.last_at <= max_gap_s:
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


log = logging.getLogger(__name__)

METHOD = Method.FACE_AND_QR


class PairedFaces(FaceFrames):
    """Holds the open pairing (one at a time) and checks its person in when the face agrees."""

    def __init__(
        self,
        engine: FaceEngine,
        desk: CheckInDesk,
        config: Config,
        requests: LivenessRequests | None,
        pace: FramePace | None = None,
    ) -> None:
        super().__init__(engine, desk, config.recognition, requests, METHOD, 1, pace)
        self.window_s = config.verification.pair_window_s
        self.configured_tolerance = config.verification.pair_tolerance
        self.pairing: Pairing | None = None

    @property
    def pair_tolerance(self) -> float:
        """The configured pair tolerance, or the default made from the 1:N tolerance."""
        if self.configured_tolerance is not None:
            return self.configured_tolerance
        assert self.matcher is not None
        return default_pair_tolerance(self.matcher.tolerance)

    def pair(self, claim: QrClaim, frame: Frame) -> Decision:
        """A valid code of an enrolled person was shown: open a pairing (replacing any other),
        unless the person is already checked in or has no face to confirm it with."""
        person_id, name = claim.person_id, self.desk.names.get(claim.person_id)
        repeat = self.desk.repeat(person_id, METHOD, frame)
        if repeat is not None:
            return repeat
        if self.matcher is None or not self.matcher.has_templates(person_id):
            log.info("code of %s refused: no face template to confirm it with", person_id)
            return Decision("refused", person_id, name, METHOD, reason="no_face_to_confirm")
        if self.pairing is not None and self.pairing.person_id != person_id:
            log.info("code of %s replaces the open code of %s", person_id, self.pairing.person_id)
        self.pairing = Pairing(claim, name, frame.monotonic)
        return Decision("paired", person_id, name, METHOD, reason="look_now")

    def expire(self, frame: Frame) -> list[Decision]:
        """A refusal when the open pairing's face did not come in time (checked every frame)."""
        pairing = self.pairing
        window_s = self.pace.window(self.window_s, PAIR_WINDOW_FRAMES)
        if pairing is None or not pairing.expired(frame.monotonic, window_s):
            return []
        self.pairing = None
        for track in self.tracker.tracks:
            track.challenge = None  # a request for a code that has timed out: dropped unjudged
        log.info("code of %s timed out after %.3g s without its face", pairing.person_id,
                 window_s)  # fmt: skip
        return [Decision("refused", pairing.person_id, pairing.name, METHOD,
                         reason="pair_expired")]  # fmt: skip

    def before_looking(self, track: FaceTrack, box: Box, frame: Frame) -> Decision | None:
        """Without an open pairing: a face followed since its check-in stays a repeat, any
        other face is asked for its code first."""
        if self.pairing is not None:
            return None
        followed = self.followed(track, box, frame.monotonic)
        return followed or Decision("refused", method=METHOD, box=box, reason="show_code_first")

    def decide(self, frame: Frame, faces: list[tuple[SeenFace, np.ndarray]]) -> list[Decision]:
        """Whether the face confirms the open pairing, contradicts it, or needs more frames."""
        pairing, matcher = self.pairing, self.matcher
        if pairing is None or matcher is None or not faces:
            return []
        (face, embedding), now = faces[0], frame.monotonic
        if not matcher.has_templates(pairing.person_id):  # removed since the code was read
            self.pairing = None
            return [Decision("refused", pairing.person_id, pairing.name, METHOD, box=face.box,
                             reason="no_face_to_confirm")]  # fmt: skip
        check = matcher.verify(embedding, pairing.person_id)
        verdict = judge(check, self.pair_tolerance, matcher.margin)
        max_gap_s = self.pace.next_frame_window(CONFIRM_GAP_S, CONFIRM_GAP_FRAMES)
        state = pairing.observe(check, verdict, now, self.recognition.confirm_frames, max_gap_s)
        if state == "mismatch":
            return [self._mismatch(pairing, face.box)]
        if state == "pending":
            return [Decision("pending", pairing.person_id, pairing.name, METHOD, check.distance,
                             face.box, reason="confirming")]  # fmt: skip
        if self.requests is not None:
            match = Match(pairing.person_id, pairing.name, check.distance, check.other_distance)
            asked = self.requests.ask(face.track, match, face.box, face.marks, now)
            if asked is not None:
                pairing.matches = 0  # after a failed request the face is confirmed afresh
                return [dataclasses.replace(asked, method=METHOD)]
        return [self._commit(pairing, check.distance, face.track, face.box, frame)]

    def passed(self, asked: Challenge, track: FaceTrack, box: Box, frame: Frame) -> Decision:
        """The confirmed face turned as asked: check in, if its code is still the open one."""
        pairing = self.pairing
        if pairing is None or pairing.person_id != asked.person_id:
            return Decision("refused", asked.person_id, asked.name, METHOD, asked.distance, box,
                            reason="pair_expired")  # fmt: skip
        return self._commit(pairing, asked.distance, track, box, frame)

    def _answer(
        self, track: FaceTrack, box: Box, marks: np.ndarray | None, frame: Frame
    ) -> Decision:
        decision = super()._answer(track, box, marks, frame)
        return dataclasses.replace(decision, method=METHOD)

    def _commit(
        self, pairing: Pairing, distance: float | None, track: FaceTrack, box: Box, frame: Frame
    ) -> Decision:
        self.pairing = None
        decision = self.desk.check_in(
            pairing.person_id, METHOD, frame, distance, box, claim=pairing.claim
        )
        return self.settle(decision, track, frame.monotonic)

    def _mismatch(self, pairing: Pairing, box: Box) -> Decision:
        self.pairing = None
        check = pairing.last
        assert check is not None
        nearest = ""
        if check.other_id is not None and check.other_distance is not None:
            nearest = f", nearest is {check.other_id} at {check.other_distance:.3f}"
        log.warning(
            "face does not match the code of %s (%s): distance %.3f%s; pairing cancelled"
            " (possible buddy punching)",
            pairing.person_id, pairing.name, check.distance, nearest,
        )  # fmt: skip
        return Decision("refused", pairing.person_id, pairing.name, METHOD, check.distance, box,
                        reason="face_mismatch")  # fmt: skip
