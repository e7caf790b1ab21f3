"""Frames in, decisions out: QR badges and faces become check-ins committed to the outbox.

Per frame: QR codes are decoded (when enabled); faces at least ``min_face_px`` tall are
detected, embedded and matched (when enabled and someone has face templates; otherwise faces
are not even looked for), but only while something moves in view or a face is being seen
(:mod:`terminal.presence`). A face check-in needs ``confirm_frames`` consecutive frames agreeing
on the person, then (with ``[liveness] mode = "head_turn"``) the face must turn its head the
way it is asked (:mod:`terminal.liveness`); a badge needs one frame. Nobody is checked in
twice within ``repeat_window_s``, whatever the method. The pipeline never touches the
network: a check-in is done when the outbox has committed it; when the store refuses (disk
full), the decision says so.

The enrolled people are held in memory; the pipeline checks the gallery's revision every
:data:`GALLERY_CHECK_S` seconds and reloads after ``kiosk enroll`` or ``kiosk people remove``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np
import sqlite_utils

from drivers.camera.base import Frame
from drivers.face.base import Box, FaceEngine
from drivers.qr.base import QrDecoder
from models.messages import Method
from terminal.badges import QrRefusal, parse_qr
from terminal.checkin_rules import FaceConfirmation, RepeatGuard
from terminal.config import Config
from terminal.decisions import Decision
from terminal.errors import StoreError
from terminal.face_quality import assess
from terminal.face_requests import LivenessRequests
from terminal.face_tracks import FaceTrack, FaceTracker
from terminal.gallery import Gallery
from terminal.liveness import HeadTurnLiveness
from terminal.matcher import Match, Matcher
from terminal.outbox import CheckInDraft, Outbox
from terminal.presence import PresenceGate
from terminal.recognition import build_matcher, build_qr_decoder, create_engine

log = logging.getLogger(__name__)

GALLERY_CHECK_S = 2.0
MAX_FACES_PER_FRAME = 2
"""Only the largest faces are matched (the person at the kiosk is the closest one): each
embedding costs 150-200 ms on a 2.5 GHz x86 core with the dlib-bin wheel."""
LOG_REPEAT_S = 10.0


class Pipeline:
    """Turns frames into check-ins. Not thread-safe: one pipeline per camera thread."""

    def __init__(
        self,
        config: Config,
        outbox: Outbox,
        gallery: Gallery,
        engine: FaceEngine | None,
        qr: QrDecoder | None,
        clock_synced: Callable[[], bool],
        liveness: HeadTurnLiveness | None = None,
    ) -> None:
        self.config = config
        self.requests = LivenessRequests(liveness) if liveness is not None else None
        self.outbox = outbox
        self.gallery = gallery
        self.engine = engine
        self.qr = qr
        self.clock_synced = clock_synced
        self.confirmation = FaceConfirmation(config.recognition.confirm_frames)
        self.repeats = RepeatGuard(config.recognition.repeat_window_s)
        self.presence = PresenceGate.from_config(config.recognition)
        self.tracker = FaceTracker()
        self.names: dict[str, str] = {}
        self.matcher: Matcher | None = None
        self._revision = -1
        self._checked_at = float("-inf")
        self._logged: dict[str, float] = {}
        self.reload()

    def reload(self) -> None:
        """Read the enrolled people and templates again."""
        self._revision = self.gallery.revision()
        self.names = self.gallery.names()
        self.matcher = None
        if self.engine is not None:
            self.matcher = build_matcher(self.config, self.gallery, self.engine)
        people = self.matcher.people if self.matcher else 0
        log.info("%d people enrolled, %d with face templates", len(self.names), people)

    def process(self, frame: Frame) -> list[Decision]:
        """Every decision for this frame (an empty list when nothing was seen)."""
        self._reload_if_changed(frame.monotonic)
        decisions: list[Decision] = []
        if self.qr is not None:
            for text in dict.fromkeys(self.qr.decode(frame.image)):
                decisions.append(self._badge(text, frame))
        engine, matcher = self.engine, self.matcher
        if (
            engine is not None
            and matcher is not None
            and matcher.people
            and self.presence.admit(frame)
        ):
            faces = self._faces(frame, engine, matcher)
            if faces:
                self.presence.face_seen(frame.monotonic)
            decisions.extend(faces)
        return decisions

    def _reload_if_changed(self, now: float) -> None:
        if abs(now - self._checked_at) < GALLERY_CHECK_S:
            return
        self._checked_at = now
        try:
            changed = self.gallery.revision() != self._revision
            if changed:
                self.reload()
        except StoreError as exc:
            self._log(logging.ERROR, "reload", f"cannot reload enrolled people: {exc}", now)

    def _badge(self, text: str, frame: Frame) -> Decision:
        parsed = parse_qr(text)
        if isinstance(parsed, QrRefusal):
            return self._refuse(parsed.reason, frame, person_id=None)
        if not self.config.qr.static_badges:
            return self._refuse("static badges are disabled", frame, parsed.person_id)
        if parsed.person_id not in self.names:
            return self._refuse("unknown badge", frame, parsed.person_id)
        return self._check_in(parsed.person_id, Method.QR, frame)

    def _faces(self, frame: Frame, engine: FaceEngine, matcher: Matcher) -> list[Decision]:
        recognition = self.config.recognition
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        boxes = engine.detect(rgb, recognition.min_face_px, recognition.detect_scale)
        boxes = boxes[:MAX_FACES_PER_FRAME]
        now = frame.monotonic
        decisions: list[Decision] = []
        usable: list[Box] = []
        track_of: dict[Box, FaceTrack] = {}
        marks_of: dict[Box, np.ndarray | None] = {}
        asked = [track for track in self.tracker.tracks if track.challenge is not None]
        tracks = self.tracker.assign(boxes, now)
        if self.requests is not None:
            self.requests.forget_lost(asked, self.tracker.tracks, now)
        for box, track in zip(boxes, tracks, strict=True):
            track_of[box] = track
            marks_of[box] = marks = engine.landmarks(rgb, box)
            if track.challenge is not None:
                # Asked to turn: the turned face is judged, not refused as turned away.
                decisions.append(self._answer(track, box, marks, frame))
                continue
            quality = assess(rgb, box, marks)
            if quality.ok:
                usable.append(box)
            else:
                # Not encoded: the person is asked for a better look instead of guessed at.
                hint = quality.hint or ""
                decisions.append(Decision("adjust", method=Method.FACE, box=box, reason=hint))
        to_encode = []
        for box in usable:
            track = track_of[box]
            if self.tracker.known(track, now) and track.person_id is not None:
                ago = self.repeats.seconds_since(track.person_id, now)
                if ago is not None:  # followed since recognised: no need to embed again
                    reason = f"already checked in {ago:.0f} s ago"
                    decisions.append(
                        Decision("repeat", track.person_id, track.name, Method.FACE, box=box,
                                 reason=reason)
                    )  # fmt: skip
                    continue
            to_encode.append(box)
        matches: dict[str, tuple[Box, Match]] = {}
        for box, embedding in zip(to_encode, engine.encode(rgb, to_encode), strict=True):
            match = matcher.identify(embedding)
            if match.person_id is None:
                decisions.append(Decision("unknown", method=Method.FACE, distance=match.distance,
                                          box=box, reason=match.reason))  # fmt: skip
            elif match.person_id not in matches:
                matches[match.person_id] = (box, match)
        self.confirmation.update(matches, frame.monotonic)
        for person_id, (box, match) in matches.items():
            repeat = self.repeats.seconds_since(person_id, frame.monotonic) is not None
            if not repeat and not self.confirmation.confirmed(person_id):
                decisions.append(Decision("pending", person_id, match.name, Method.FACE,
                                          match.distance, box, reason="confirming"))  # fmt: skip
                continue
            self.confirmation.reset(person_id)
            marks = marks_of[box]
            if not repeat and self.requests is not None and marks is not None:
                decisions.append(self.requests.ask(track_of[box], match, box, marks, now))
                continue
            decision = self._check_in(person_id, Method.FACE, frame, match.distance, box)
            if decision.kind in ("checked_in", "repeat"):
                self.tracker.resolve(track_of[box], person_id, match.name, now)
            decisions.append(decision)
        return decisions

    def _answer(
        self, track: FaceTrack, box: Box, marks: np.ndarray | None, frame: Frame
    ) -> Decision:
        """One more frame of a face that was asked to turn its head."""
        assert self.requests is not None
        outcome = self.requests.answer(track, box, marks, frame.monotonic)
        if isinstance(outcome, Decision):
            return outcome
        decision = self._check_in(outcome.person_id, Method.FACE, frame, outcome.distance, box)
        if decision.kind in ("checked_in", "repeat"):
            self.tracker.resolve(track, outcome.person_id, outcome.name, frame.monotonic)
        return decision

    def _check_in(
        self,
        person_id: str,
        method: Method,
        frame: Frame,
        distance: float | None = None,
        box: Box | None = None,
    ) -> Decision:
        name = self.names.get(person_id)
        ago = self.repeats.seconds_since(person_id, frame.monotonic)
        if ago is not None:
            reason = f"already checked in {ago:.0f} s ago"
            return Decision("repeat", person_id, name, method, distance, box, reason=reason)
        draft = CheckInDraft(person_id, method, frame.wall, distance)
        try:
            event = self.outbox.commit_checkin(draft, clock_synced=self.clock_synced())
        except StoreError as exc:
            self._log(logging.ERROR, f"store:{type(exc).__name__}", str(exc), frame.monotonic)
            self.confirmation.reset(person_id)
            return Decision("refused", person_id, name, method, distance, box, reason=str(exc))
        self.repeats.record(person_id, frame.monotonic)
        log.info("checked in %s (%s) by %s, seq %d", person_id, name, method.value, event.seq)
        return Decision("checked_in", person_id, name, method, distance, box, event, "checked in")

    def _refuse(self, reason: str, frame: Frame, person_id: str | None) -> Decision:
        self._log(
            logging.INFO,
            f"qr:{reason}:{person_id}",
            f"badge refused ({person_id or 'not a badge'}): {reason}",
            frame.monotonic,
        )
        return Decision("refused", person_id, None, Method.QR, reason=reason)

    def _log(self, level: int, key: str, message: str, now: float) -> None:
        """Log ``message`` unless the same kind was logged in the last few seconds."""
        last = self._logged.get(key)
        if last is None or abs(now - last) >= LOG_REPEAT_S:
            self._logged = {k: t for k, t in self._logged.items() if abs(now - t) < LOG_REPEAT_S}
            self._logged[key] = now
            log.log(level, "%s", message)


def build_pipeline(
    config: Config,
    outbox: Outbox,
    clock_synced: Callable[[], bool],
    *,
    db: sqlite_utils.Database | None = None,
    engine: FaceEngine | None = None,
    qr: QrDecoder | None = None,
    liveness: HeadTurnLiveness | None = None,
) -> Pipeline:
    """The pipeline for ``config``: the face engine and QR decoder are loaded when enabled
    (pass them to reuse loaded ones; pass ``liveness`` to choose its randomness). The enrolled
    people are read from ``db``, by default the outbox's own connection.

    Raises :class:`~terminal.errors.FaceEngineError` or a KioskError when an enabled part
    cannot be loaded.
    """
    if config.recognition.enabled and engine is None:
        engine = create_engine(config)
    if config.qr.enabled and qr is None:
        qr = build_qr_decoder(config)
    return Pipeline(
        config,
        outbox,
        Gallery(db if db is not None else outbox.db),
        engine if config.recognition.enabled else None,
        qr if config.qr.enabled else None,
        clock_synced,
        (liveness or HeadTurnLiveness(config.liveness))
        if config.liveness.mode == "head_turn"
        else None,
    )
