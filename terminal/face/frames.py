"""The face work of one frame, common to every verification mode that looks at faces.

Faces at least ``min_face_px`` tall are detected (only the largest few: the person at the
kiosk is the closest one) and followed from frame to frame (:mod:`terminal.face.tracks`). A
face asked to turn its head is judged on its landmarks
(:mod:`terminal.face.liveness_requests`); with the passive liveness stage on, each face about
to be embedded is scored for it too (:mod:`terminal.face.passive_liveness`); a face not fit to
recognise (cut off, turned away, blurred) gets a hint instead of a guess; a face already
recognised and checked in is only followed; the rest are embedded and handed to
:meth:`FaceFrames.decide`, which says what they mean: who they are among everyone
(:mod:`terminal.face.identify`) or whether they confirm a QR code (:mod:`terminal.face.pairing`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from models.messages import Method
from terminal.checkin.decisions import Decision
from terminal.checkin.desk import CheckInDesk
from terminal.checkin.pace import FramePace
from terminal.config import RecognitionSection
from terminal.face.liveness import Challenge
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.matcher import Matcher
from terminal.face.quality import assess
from terminal.face.tracks import FaceTrack, FaceTracker


@dataclass(frozen=True)
class SeenFace:
    """A face fit to be embedded: where it is, its track and its landmarks (if any)."""

    box: Box
    track: FaceTrack
    marks: np.ndarray | None


class FaceFrames(ABC):
    """Finds, follows and embeds faces; subclasses decide what the embeddings mean."""

    def __init__(
        self,
        engine: FaceEngine,
        desk: CheckInDesk,
        recognition: RecognitionSection,
        requests: LivenessRequests | None,
        method: Method,
        max_faces: int,
        pace: FramePace | None = None,
    ) -> None:
        self.engine = engine
        self.desk = desk
        self.recognition = recognition
        self.requests = requests
        self.method = method
        self.max_faces = max_faces
        self.pace = pace or FramePace()
        """The pipeline's measured frame interval (:mod:`terminal.checkin.pace`)."""
        self.tracker = FaceTracker(pace=self.pace)
        self.matcher: Matcher | None = None
        """Set by the pipeline on every gallery reload."""
        self._previous_gray: np.ndarray | None = None
        """The last frame looked at, grey, while the passive liveness stage is on."""

    def process(self, frame: Frame) -> list[Decision]:
        """Every decision about the faces in this frame."""
        recognition = self.recognition
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        boxes = self.engine.detect(rgb, recognition.min_face_px, recognition.detect_scale)
        boxes = boxes[: self.max_faces]
        now = frame.monotonic
        asked = [track for track in self.tracker.tracks if track.challenge is not None]
        tracks = self.tracker.assign(boxes, now)
        if self.requests is not None:
            self.requests.forget_lost(asked, self.tracker.tracks, now)
        passive = self.requests.passive if self.requests is not None else None
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY) if passive is not None else None
        decisions: list[Decision] = []
        fit: list[SeenFace] = []
        for box, track in zip(boxes, tracks, strict=True):
            early = self.before_looking(track, box, frame)
            if early is not None:
                decisions.append(early)
                continue
            marks = self.engine.landmarks(rgb, box)
            if track.challenge is not None:
                # Asked to turn: the turned face is judged, not refused as turned away.
                decisions.append(self._answer(track, box, marks, frame))
                continue
            quality = assess(rgb, box, marks)
            if not quality.ok:
                # Not encoded: the person is asked for a better look instead of guessed at.
                hint = quality.hint or ""
                decisions.append(Decision("adjust", method=self.method, box=box, reason=hint))
                continue
            followed = self.followed(track, box, now)
            if followed is not None:
                decisions.append(followed)
                continue
            if passive is not None and gray is not None:
                passive.observe(track.passive, frame.image, gray, self._previous_gray, box)
            fit.append(SeenFace(box, track, marks))
        self._previous_gray = gray
        embeddings = self.engine.encode(rgb, [face.box for face in fit]) if fit else []
        decisions.extend(self.decide(frame, list(zip(fit, embeddings, strict=True))))
        return decisions

    def followed(self, track: FaceTrack, box: Box, now: float) -> Decision | None:
        """A ``repeat`` for a face followed since it was recognised and checked in (it is not
        embedded again until the tracker's re-verification time), else None."""
        if not self.tracker.known(track, now) or track.person_id is None:
            return None
        ago = self.desk.repeats.seconds_since(track.person_id, now)
        if ago is None:
            return None
        return self.desk.repeat_of(track.person_id, track.name, self.method, ago, box=box)

    def before_looking(self, track: FaceTrack, box: Box, frame: Frame) -> Decision | None:
        """A decision that needs no closer look at this face (none by default)."""
        return None

    @abstractmethod
    def decide(self, frame: Frame, faces: list[tuple[SeenFace, np.ndarray]]) -> list[Decision]:
        """What the embedded faces of this frame mean."""

    @abstractmethod
    def passed(self, asked: Challenge, track: FaceTrack, box: Box, frame: Frame) -> Decision:
        """The face on ``track`` turned as asked: check its person in."""

    def settle(self, decision: Decision, track: FaceTrack, now: float) -> Decision:
        """Follow ``track`` as its person when ``decision`` checked them in (or they already
        were), so the face is not embedded again; return ``decision``."""
        if decision.kind in ("checked_in", "repeat") and decision.person_id is not None:
            self.tracker.resolve(track, decision.person_id, decision.name, now)
        return decision

    def _answer(
        self, track: FaceTrack, box: Box, marks: np.ndarray | None, frame: Frame
    ) -> Decision:
        """One more frame of a face that was asked to turn its head."""
        assert self.requests is not None
        outcome = self.requests.answer(track, box, marks, frame.monotonic)
        if isinstance(outcome, Decision):
            return outcome
        return self.passed(outcome, track, box, frame)
