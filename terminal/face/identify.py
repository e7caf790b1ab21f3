"""Faces as the proof of identity (verification modes ``face`` and ``face_or_qr``): 1:N.

Each embedded face is matched against everyone enrolled (:meth:`Matcher.identify`: within the
tolerance and a margin nearer than the next person). A person is checked in after
``confirm_frames`` consecutive frames agreeing on them and, unless ``[liveness] mode = "off"``,
a liveness check: passed passively, or a head turn the way they are asked
(:mod:`terminal.face.liveness_requests`).
"""

from __future__ import annotations

import numpy as np

from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from models.messages import Method
from terminal.checkin.decisions import Decision
from terminal.checkin.desk import CheckInDesk
from terminal.checkin.pace import FramePace
from terminal.checkin.rules import FaceConfirmation
from terminal.config import RecognitionSection
from terminal.face.frames import FaceFrames, SeenFace
from terminal.face.liveness import Challenge
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.matcher import Match
from terminal.face.tracks import FaceTrack

MAX_FACES_PER_FRAME = 2
"""Only the largest faces are matched (the person at the kiosk is the closest one): each
embedding costs 150-200 ms on a 2.5 GHz x86 core with the dlib-bin wheel."""


class IdentifiedFaces(FaceFrames):
    """Recognises faces among everyone enrolled and checks them in by face."""

    def __init__(
        self,
        engine: FaceEngine,
        desk: CheckInDesk,
        recognition: RecognitionSection,
        requests: LivenessRequests | None,
        pace: FramePace | None = None,
    ) -> None:
        super().__init__(
            engine, desk, recognition, requests, Method.FACE, MAX_FACES_PER_FRAME, pace
        )
        self.confirmation = FaceConfirmation(recognition.confirm_frames, pace=self.pace)

    def decide(self, frame: Frame, faces: list[tuple[SeenFace, np.ndarray]]) -> list[Decision]:
        """Unknown faces, faces being confirmed, liveness requests and check-ins."""
        assert self.matcher is not None
        now = frame.monotonic
        decisions: list[Decision] = []
        matches: dict[str, tuple[SeenFace, Match]] = {}
        for face, embedding in faces:
            match = self.matcher.identify(embedding)
            if match.person_id is None:
                decisions.append(Decision("unknown", method=Method.FACE, distance=match.distance,
                                          box=face.box, reason=match.reason))  # fmt: skip
            elif match.person_id not in matches:
                matches[match.person_id] = (face, match)
        self.confirmation.update(matches, now)
        for person_id, (face, match) in matches.items():
            repeat = self.desk.repeats.seconds_since(person_id, now) is not None
            if not repeat and not self.confirmation.confirmed(person_id):
                pending = Decision("pending", person_id, match.name, Method.FACE,
                                   match.distance, face.box, reason="confirming")  # fmt: skip
                decisions.append(pending)
                continue
            self.confirmation.reset(person_id)
            if not repeat and self.requests is not None:
                judged = self.requests.ask(face.track, match, face.box, face.marks, now)
                if judged is not None:
                    decisions.append(judged)
                    continue
            decision = self.desk.check_in(person_id, Method.FACE, frame, match.distance, face.box)
            decisions.append(self.settle(decision, face.track, now))
        return decisions

    def passed(self, asked: Challenge, track: FaceTrack, box: Box, frame: Frame) -> Decision:
        """The recognised face turned as asked: check the person in by face."""
        decision = self.desk.check_in(asked.person_id, Method.FACE, frame, asked.distance, box)
        return self.settle(decision, track, frame.monotonic)
