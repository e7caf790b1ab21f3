"""Enrollment at the kiosk: an admin shows a person's signed enrollment code, the person looks
at the camera, and their face templates are made and kept here, never sent anywhere.

This is how the face of someone whose consent is ``on_device`` (:mod:`models.consent`) gets
on the kiosk: rosters carry no templates of theirs. The code (``ATT1:E:``,
:mod:`models.signed_code`) is checked like a signed check-in code (HR key, signature, short
validity, never used before) and must name someone on the kiosk's roster. Then, for
:data:`ENROLL_WINDOW_S` seconds, the pipeline identifies nobody: every frame goes here.

The largest face in view is taken once it passes the quality gates (:mod:`terminal.face.quality`:
not cut off, turned away or blurred), one frame every :data:`MIN_GAP_S` at least, until
:data:`ENROLL_FRAMES` frames agree on one person (a frame whose face is farther than the
engine's tolerance from the first starts the capture over: one person only). Then the liveness
check runs as for a check-in (passive, or a head turn; :mod:`terminal.face.liveness_requests`);
a photo or a screen held up is refused and nothing is stored. The templates are stored in one
transaction with the code's nonce marked used (a code enrolls once), the consent recorded
(``on_device`` from the code, unless the person already has one allowing face recognition),
the processing log and the notice the central side gets: "enrolled", with no template
(:mod:`terminal.store.enrollment_notices`).
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime

import numpy as np

from common.errors import EnrollmentError, StoreError
from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from models.consent import Consent
from models.messages import Method
from terminal.checkin.badges import QrClaim
from terminal.checkin.decisions import Decision
from terminal.checkin.desk import CheckInDesk, CodeSource
from terminal.checkin.pace import FramePace
from terminal.config import RecognitionSection
from terminal.face.frames import FaceFrames, SeenFace
from terminal.face.liveness import Challenge
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.matcher import Match
from terminal.face.tracks import FaceTrack
from terminal.store.gallery import Gallery

log = logging.getLogger(__name__)

ENROLL_FRAMES = 5
"""Templates made per enrollment (one per accepted frame)."""
ENROLL_WINDOW_S = 30.0
"""Seconds after the code is read within which the capture must be done."""
WINDOW_FRAMES = 60
"""On a slow board the window is at least this many frames (:mod:`terminal.checkin.pace`)."""
MIN_GAP_S = 0.3
"""Least time between two frames taken (at full frame rate), so the templates differ a little."""


class _CodeUsed(Exception):
    """The enrollment code was used meanwhile: roll the templates back."""


class KioskEnrollment(FaceFrames):
    """One enrollment at a time: started by a valid enrollment code, fed the pipeline's frames
    while :attr:`active`, ended by storing the templates, a refusal or the time running out."""

    def __init__(
        self,
        engine: FaceEngine,
        desk: CheckInDesk,
        recognition: RecognitionSection,
        requests: LivenessRequests | None,
        gallery: Gallery,
        codes: CodeSource,
        tolerance: float,
        pace: FramePace | None = None,
    ) -> None:
        super().__init__(engine, desk, recognition, requests, Method.FACE, 1, pace)
        self.gallery = gallery
        self.codes = codes
        self.tolerance = tolerance
        self.claim: QrClaim | None = None
        self.name = ""
        self._started = 0.0
        self._taken_at = float("-inf")
        self._embeddings: list[np.ndarray] = []

    @property
    def active(self) -> bool:
        """Whether an enrollment is under way (frames go here, not to recognition)."""
        return self.claim is not None

    def start(self, claim: QrClaim, frame: Frame) -> Decision:
        """Begin enrolling ``claim``'s person (a new code replaces an enrollment under way)."""
        self.claim = claim
        self.name = self.desk.names.get(claim.person_id, claim.person_id)
        self._started = frame.monotonic
        self._taken_at = float("-inf")
        self._embeddings = []
        self.tracker.tracks.clear()
        log.info("enrollment code of %s (key %s): capturing their face", claim.person_id,
                 claim.key_id)  # fmt: skip
        return self._progress(None)

    def process(self, frame: Frame) -> list[Decision]:
        """This frame's decisions about the enrollment under way."""
        if self.claim is None:
            return []
        if frame.monotonic - self._started > self.pace.window(ENROLL_WINDOW_S, WINDOW_FRAMES):
            return [self._end("refused", None, "enrollment_expired")]
        decisions = super().process(frame)
        for index, decision in enumerate(decisions):
            if decision.kind == "refused" and decision.reason.startswith("liveness"):
                log.warning("enrollment of %s refused: %s", decision.person_id, decision.reason)
                decisions[index] = self._end("refused", decision.box, "enrollment_failed")
        return decisions

    def followed(self, track: FaceTrack, box: Box, now: float) -> Decision | None:
        """Never a repeat: every fit face is looked at."""
        return None

    def decide(self, frame: Frame, faces: list[tuple[SeenFace, np.ndarray]]) -> list[Decision]:
        """Take the face if it is time and it is the same person; ask for liveness once
        enough frames are taken."""
        if not faces or self.claim is None:
            return []
        face, embedding = faces[0]
        now = frame.monotonic
        if now - self._taken_at < MIN_GAP_S:
            return [self._progress(face.box)]
        if self._embeddings and self._distance(embedding) > self.tolerance:
            log.info("enrollment of %s: another face, capture started over", self.claim.person_id)
            self._embeddings = []
        self._embeddings.append(np.asarray(embedding, dtype=np.float32))
        self._taken_at = now
        if len(self._embeddings) < ENROLL_FRAMES:
            return [self._progress(face.box)]
        if self.requests is not None:
            match = Match(self.claim.person_id, self.name, 0.0, None)
            judged = self.requests.ask(face.track, match, face.box, face.marks, now)
            if judged is not None:
                if judged.kind == "refused":
                    return [self._end("refused", face.box, "enrollment_failed")]
                return [judged]
        return [self._store(frame, face.box)]

    def passed(self, asked: Challenge, track: FaceTrack, box: Box, frame: Frame) -> Decision:
        """The face turned as asked: store the templates."""
        return self._store(frame, box)

    def _distance(self, embedding: np.ndarray) -> float:
        distances = self.engine.distances(np.stack([self._embeddings[0]]), embedding)
        return float(distances[0])

    def _store(self, frame: Frame, box: Box) -> Decision:
        claim = self.claim
        assert claim is not None
        person_id = claim.person_id
        before = self.gallery.get(person_id)
        consent = None
        if before is None or not before.face_allowed:
            consent = Consent(
                scope="on_device",
                given_at=datetime.now(UTC).date(),
                recorded_by=f"enrollment code of key {claim.key_id}",
            )
        codes = self.codes

        def burn_code(conn: sqlite3.Connection) -> None:
            if not codes.consume_in(conn, claim, frame.wall):
                raise _CodeUsed

        source = f"camera, enrollment code {claim.key_id}/{claim.nonce}"
        try:
            person = self.gallery.add_person(person_id, self.name, self._embeddings,
                                              self.engine.name, self.engine.model_digest,
                                              [source] * len(self._embeddings), consent=consent,
                                              consent_source="code", also=burn_code)  # fmt: skip
        except _CodeUsed:
            log.warning("enrollment code of %s was already used: nothing stored", person_id)
            return self._end("refused", box, "code_used")
        except (StoreError, EnrollmentError) as exc:
            log.error("enrollment of %s failed: %s", person_id, exc)
            return self._end("refused", box, "enrollment_failed")
        log.info("enrolled %s (%s) at the kiosk: %d face templates stored here, %d in total",
                 person_id, self.name, len(self._embeddings), person.templates)  # fmt: skip
        return self._end("enrolled", box, "enrolled")

    def _progress(self, box: Box | None) -> Decision:
        assert self.claim is not None
        return Decision("enrolling", self.claim.person_id, self.name, Method.FACE, box=box,
                        reason=f"{len(self._embeddings)}/{ENROLL_FRAMES}")  # fmt: skip

    def _end(self, kind: str, box: Box | None, reason: str) -> Decision:
        claim = self.claim
        assert claim is not None
        self.claim = None
        self._embeddings = []
        self.tracker.tracks.clear()
        if kind == "enrolled":
            return Decision("enrolled", claim.person_id, self.name, Method.FACE, box=box,
                            reason=reason)  # fmt: skip
        return Decision("refused", claim.person_id, self.name, Method.FACE, box=box,
                        reason=reason)  # fmt: skip
