"""Frames in, decisions out: QR codes and faces become check-ins committed to the outbox.

What counts as proof of identity is the terminal's ``[verification] mode``:

- ``face_or_qr`` (default): a face recognised among everyone enrolled, or a QR code;
- ``face``: faces, and QR codes only from the people it cannot recognise by face (no consent
  to face recognition, or no templates): face recognition is never the only way in;
- ``qr``: QR codes only (the face engine is not even loaded);
- ``face_and_qr``: the code says who, and that person's face must confirm it 1:1
  (:mod:`terminal.face.pairing`).

In every mode that reads faces, an admin's enrollment code starts enrolling its person's face
here (:mod:`terminal.face.kiosk_enrollment`); until that ends, nobody is identified.

Per frame: QR codes are decoded (:mod:`terminal.checkin.qr_codes`); faces are looked for only
while something moves in view or a face is being seen (:mod:`terminal.checkin.presence`), and only
when someone has face templates (:mod:`terminal.face.frames`). Nobody is checked in twice
within ``repeat_window_s``, whatever the method. The pipeline never touches the network: a
check-in is done when the outbox has committed it (:mod:`terminal.checkin.desk`); when the
store refuses (disk full), the decision says so.

The enrolled people are held in memory; the pipeline checks the gallery's revision every
:data:`GALLERY_CHECK_S` seconds and reloads after ``kiosk enroll`` or ``kiosk people remove``,
and takes up a new passive liveness calibration (``kiosk calibrate --liveness``) as soon.

The pipeline measures the interval between the frames it processes (:attr:`Pipeline.pace`,
:mod:`terminal.checkin.pace`) and hands it to everything that allows time between frames
(tracks, confirmation, liveness, pairing, presence), so a slow board that does a frame every
1-2 s still confirms and checks people in. The repeat window (``repeat_window_s``) is about
people, not frames, and is not stretched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlite_utils

from common.errors import StoreError
from drivers.camera.base import Frame
from drivers.face.base import FaceEngine
from drivers.qr.base import QrDecoder
from terminal.checkin.attendance import Attendance
from terminal.checkin.code_checker import CodeChecker
from terminal.checkin.decisions import Decision, ThrottledLog
from terminal.checkin.desk import CheckInDesk, CodeSource
from terminal.checkin.engines import (
    build_matcher,
    build_qr_decoder,
    create_engine,
    effective_tolerance,
)
from terminal.checkin.pace import FramePace
from terminal.checkin.presence import PresenceGate
from terminal.checkin.qr_codes import QrCheckIns
from terminal.checkin.rules import RepeatGuard
from terminal.config import Config, check_verification_mode
from terminal.face.frames import FaceFrames
from terminal.face.identify import IdentifiedFaces
from terminal.face.kiosk_enrollment import KioskEnrollment
from terminal.face.liveness import HeadTurnLiveness
from terminal.face.liveness_requests import LivenessRequests
from terminal.face.pairing import PairedFaces
from terminal.face.passive_liveness import PassiveLiveness
from terminal.face.tracks import GAP_FRAMES, MAX_GAP_S
from terminal.store.gallery import Gallery
from terminal.store.liveness_calibration import load_liveness_calibration
from terminal.store.outbox import Outbox
from terminal.store.template_seal import seal_for

__all__ = ["GALLERY_CHECK_S", "Decision", "Pipeline", "build_pipeline"]

log = logging.getLogger(__name__)

GALLERY_CHECK_S = 2.0
SLOW_LOG_S = 600.0
"""How often "slow frames: windows stretched" may be logged."""


class Pipeline:
    """Turns frames into check-ins. Not thread-safe: one pipeline per camera thread.

    ``engine`` and ``qr`` are None when faces or codes are not read at all; ``codes`` judges
    the codes read (default: a :class:`~terminal.checkin.code_checker.CodeChecker`: static badges
    and
    signed codes, as ``[qr]`` allows).
    """

    def __init__(
        self,
        config: Config,
        outbox: Outbox,
        gallery: Gallery,
        engine: FaceEngine | None,
        qr: QrDecoder | None,
        clock_synced: Callable[[], bool],
        liveness: HeadTurnLiveness | None = None,
        codes: CodeSource | None = None,
    ) -> None:
        self.config = config
        self.mode = config.verification.mode
        self.outbox = outbox
        self.gallery = gallery
        self.engine = engine
        self.throttled = ThrottledLog(log)
        self.pace = FramePace()
        """The measured interval between processed frames; every window between frames
        follows it (:mod:`terminal.checkin.pace`)."""
        self._slow_log = ThrottledLog(log, SLOW_LOG_S)
        repeats = RepeatGuard(config.recognition.repeat_window_s)
        self.desk = CheckInDesk(
            outbox,
            repeats,
            codes or CodeChecker(config.qr, outbox.db, clock_synced),
            clock_synced,
            self.throttled,
            Attendance.from_config(config.attendance, config.terminal.id, outbox.db),
        )
        self.presence = PresenceGate.from_config(config.recognition, self.pace)
        requests = None
        if liveness is not None:
            passive = PassiveLiveness() if config.liveness.mode == "passive" else None
            requests = LivenessRequests(liveness, passive, self.pace)
        self.requests = requests
        self.faces: FaceFrames | None = None
        self.pairing: PairedFaces | None = None
        if engine is not None and self.mode == "face_and_qr":
            self.faces = self.pairing = PairedFaces(engine, self.desk, config, requests, self.pace)
        elif engine is not None:
            self.faces = IdentifiedFaces(engine, self.desk, config.recognition, requests, self.pace)
        self.enrolling: KioskEnrollment | None = None
        if engine is not None and qr is not None:
            tolerance = effective_tolerance(config, engine)
            self.enrolling = KioskEnrollment(
                engine, self.desk, config.recognition, requests, gallery, self.desk.codes,
                tolerance, self.pace,
            )  # fmt: skip
        self.qr_checkins: QrCheckIns | None = None
        if qr is not None:
            pair = self.pairing.pair if self.pairing is not None else None
            enroll = self.enrolling.start if self.enrolling is not None else None
            self.qr_checkins = QrCheckIns(qr, self.mode, self.desk, self.throttled, pair, enroll)
        self._revision = -1
        self._checked_at = float("-inf")
        self.reload()

    def reload(self) -> None:
        """Read the enrolled people and templates again."""
        self._revision = self.gallery.revision()
        self.desk.names = self.gallery.names()
        people = 0
        self.desk.face_ids = frozenset()
        if self.faces is not None:
            self.faces.matcher = build_matcher(self.config, self.gallery, self.faces.engine)
            people = self.faces.matcher.people
            self.desk.face_ids = self.faces.matcher.person_ids
        log.info("%d people enrolled, %d with face templates", len(self.desk.names), people)
        unconsented = self.gallery.templates_without_consent() if self.faces is not None else 0
        if unconsented:
            log.warning(
                "%d people have face templates but no consent to face recognition recorded:"
                " they are not recognised by face until it is (kiosk people consent ID"
                " --consent on_device; see kiosk doctor)",
                unconsented,
            )
        self._reload_liveness_calibration()

    def _reload_liveness_calibration(self) -> None:
        """Take up the stored passive liveness calibration when it changed. One that cannot
        be read leaves the uncalibrated defaults (they never refuse and pass only very clear
        faces: the head turn decides the rest)."""
        if self.requests is None or self.requests.passive is None:
            return
        try:
            stored = load_liveness_calibration(self.gallery.db)
        except StoreError as exc:
            stored = None
            log.error("liveness calibration not read, using the uncalibrated defaults: %s", exc)
        calibrated_at = stored.calibrated_at if stored is not None else None
        if calibrated_at == self.requests.passive.calibrated_at:
            return
        self.requests.passive = PassiveLiveness.from_stored(stored)
        cutoffs = self.requests.passive.cutoffs
        origin = f"calibrated {calibrated_at}" if calibrated_at else "not calibrated on this camera"
        log.info("passive liveness: %s, pass below %.4g, refuse from %.4g", origin,
                 cutoffs.pass_below, cutoffs.refuse_above)  # fmt: skip

    def process(self, frame: Frame) -> list[Decision]:
        """Every decision for this frame (an empty list when nothing was seen)."""
        self.pace.tick(frame.monotonic)
        self._log_if_slow(frame.monotonic)
        self._reload_if_changed(frame.monotonic)
        decisions: list[Decision] = []
        if self.pairing is not None:
            decisions.extend(self.pairing.expire(frame))
        if self.qr_checkins is not None:
            decisions.extend(self.qr_checkins.process(frame))
        if self.enrolling is not None and self.enrolling.active:
            # While a face is being enrolled, nobody is identified.
            found = self.enrolling.process(frame)
            if any(decision.kind == "enrolled" for decision in found):
                self.reload()
            return decisions + found
        faces = self.faces
        if (
            faces is not None
            and faces.matcher is not None
            and faces.matcher.people
            and self.presence.admit(frame)
        ):
            found = faces.process(frame)
            if found:
                self.presence.face_seen(frame.monotonic)
            decisions.extend(found)
        return decisions

    def _log_if_slow(self, now: float) -> None:
        """Say so (every :data:`SLOW_LOG_S` at most) when frames are slow enough for the
        windows between them to be stretched."""
        interval = self.pace.interval
        if interval * GAP_FRAMES > MAX_GAP_S:
            message = (
                f"slow frames: {interval:.2f} s apart; tracking, confirmation and liveness"
                " wait for as many frames as at full speed"
            )
            self._slow_log.log(logging.INFO, "slow", message, now)

    def _reload_if_changed(self, now: float) -> None:
        if abs(now - self._checked_at) < GALLERY_CHECK_S:
            return
        self._checked_at = now
        try:
            changed = self.gallery.revision() != self._revision
            if changed:
                self.reload()
            else:
                self._reload_liveness_calibration()
        except StoreError as exc:
            message = f"cannot reload enrolled people: {exc}"
            self.throttled.log(logging.ERROR, "reload", message, now)


def build_pipeline(
    config: Config,
    outbox: Outbox,
    clock_synced: Callable[[], bool],
    *,
    db: sqlite_utils.Database | None = None,
    engine: FaceEngine | None = None,
    qr: QrDecoder | None = None,
    liveness: HeadTurnLiveness | None = None,
    codes: CodeSource | None = None,
) -> Pipeline:
    """The pipeline for ``config``: the face engine and QR decoder are loaded when the config
    and the verification mode use them (pass them to reuse loaded ones; pass ``liveness`` to
    choose its randomness; pass ``codes`` to judge QR codes otherwise than as static badges).
    The enrolled people are read from ``db``, by default the outbox's own connection.

    Raises :class:`~common.errors.ConfigError` when the verification mode needs a part
    that is switched off, :class:`~common.errors.FaceEngineError` or a KioskError when an
    enabled part cannot be loaded.
    """
    check_verification_mode(config)
    mode = config.verification.mode
    reads_faces = config.recognition.enabled and mode != "qr"
    if reads_faces and engine is None:
        engine = create_engine(config)
    if config.qr.enabled and qr is None:
        qr = build_qr_decoder(config)
    uses_liveness = reads_faces and config.liveness.asks
    pipeline = Pipeline(
        config,
        outbox,
        Gallery(db if db is not None else outbox.db, seal_for(config.privacy.template_key_file)),
        engine if reads_faces else None,
        qr if config.qr.enabled else None,
        clock_synced,
        (liveness or HeadTurnLiveness(config.liveness)) if uses_liveness else None,
        codes,
    )
    if pipeline.pairing is not None:
        tolerance = pipeline.pairing.pair_tolerance
        log.info("verification mode %s (pair tolerance %.4g, window %g s)", mode, tolerance,
                 config.verification.pair_window_s)  # fmt: skip
    else:
        log.info("verification mode %s", mode)
    return pipeline
