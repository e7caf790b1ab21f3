"""Faces confirming QR codes (verification mode ``face_and_qr``); the rules are in
:mod:`terminal.face.pairing_rules`.

Only the largest face is looked at: the person who showed the code stands closest, and a
colleague passing behind must neither confirm nor cancel their pairing. Without an open
pairing a face is only told to show a code first (found, not embedded).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from models.messages import Method
from terminal.checkin.badges import QrClaim
from terminal.checkin.decisions import Decision
from terminal.checkin.desk import CheckInDesk
from terminal.config import Config
from terminal.face.frames import FaceFrames, SeenFace
from terminal.face.liveness import Challenge
from terminal.face.matcher import Match
from terminal.face.pairing_rules import Pairing, default_pair_tolerance, judge
from terminal.face.requests import LivenessRequests
from terminal.face.tracks import FaceTrack

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
    ) -> None:
        super().__init__(engine, desk, config.recognition, requests, METHOD, max_faces=1)
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
        if pairing is None or not pairing.expired(frame.monotonic, self.window_s):
            return []
        self.pairing = None
        for track in self.tracker.tracks:
            track.challenge = None  # a request for a code that has timed out: dropped unjudged
        log.info("code of %s timed out after %g s without its face", pairing.person_id,
                 self.window_s)  # fmt: skip
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
        state = pairing.observe(check, verdict, now, self.recognition.confirm_frames)
        if state == "mismatch":
            return [self._mismatch(pairing, face.box)]
        if state == "pending":
            return [Decision("pending", pairing.person_id, pairing.name, METHOD, check.distance,
                             face.box, reason="confirming")]  # fmt: skip
        if self.requests is not None and face.marks is not None:
            pairing.matches = 0  # after a failed request the face is confirmed afresh
            match = Match(pairing.person_id, pairing.name, check.distance, check.other_distance)
            asked = self.requests.ask(face.track, match, face.box, face.marks, now)
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
