"""The pipeline's side of the liveness request: ask, judge the frames after, count walk-aways.

A request belongs to the face's track (:class:`~terminal.face.tracks.FaceTrack`), so only the
face that was asked can answer it, and a track that is lost takes its request with it, as a
failure: hiding a photo or a replay and showing it again does not buy unlimited tries.

A failed request with attempts left is not a refusal: the same face is asked again at once (a
``challenge`` decision whose ``reason`` is ``turn_<direction>_again`` or ``..._last``). Only the
failure that uses the last attempt is refused (``reason`` ``liveness: ...``, which the screen
says as "photo or video detected").

With the passive stage (``[liveness] mode = "passive"``, :mod:`terminal.face.passive_liveness`)
a recognised face is judged on the frames it was confirmed in first: a clearly live one is
checked in without a request, a clearly fake one refused, only the rest asked.
"""

from __future__ import annotations

import logging

import numpy as np

from drivers.face.base import Box
from models.messages import Method
from terminal.checkin.decisions import Decision
from terminal.checkin.pace import FramePace
from terminal.face.liveness import Challenge, HeadTurnLiveness
from terminal.face.matcher import Match
from terminal.face.passive_liveness import PassiveLiveness
from terminal.face.tracks import FaceTrack

log = logging.getLogger(__name__)


class LivenessRequests:
    """Judges recognised faces: passively when ``passive`` is given, else (and for the faces
    the passive stage is unsure of) by a head-turn request followed to a verdict. The time to
    turn follows ``pace``, the pipeline's measured frame interval."""

    def __init__(
        self,
        liveness: HeadTurnLiveness,
        passive: PassiveLiveness | None = None,
        pace: FramePace | None = None,
    ) -> None:
        self.liveness = liveness
        self.passive = passive
        self.pace = pace or FramePace()

    def forget_lost(self, asked: list[FaceTrack], alive: list[FaceTrack], now: float) -> None:
        """Fail the requests of tracks in ``asked`` that are no longer ``alive``."""
        for track in asked:
            if track not in alive and track.challenge is not None:
                self.liveness.abandon(track.challenge, now)
                track.challenge = None

    def ask(
        self, track: FaceTrack, match: Match, box: Box, marks: np.ndarray | None, now: float
    ) -> Decision | None:
        """Judge the recognised face on ``track``: None when the passive stage finds it clearly
        live (check it in), else a refusal (locked out, clearly fake) or a request to turn.
        Without landmarks nobody can be asked: None, as before the passive stage."""
        assert match.person_id is not None
        person_id = match.person_id
        if self.liveness.locked_out(person_id, now):
            reason = "liveness: too many failed requests"
            return Decision("refused", person_id, match.name, Method.FACE, match.distance, box,
                            reason=reason)  # fmt: skip
        if self.passive is not None:
            judged = self.passive.judge(track.passive)
            if judged.verdict == "live":
                log.info("liveness: %s passed without a request (%s)", person_id,
                         judged.describe())  # fmt: skip
                return None
            if judged.verdict == "refuse":
                log.warning("liveness: %s refused, looks like a photo or screen (%s)", person_id,
                            judged.describe())  # fmt: skip
                reason = f"liveness: looks like a photo or screen ({judged.describe()})"
                return Decision("refused", person_id, match.name, Method.FACE, match.distance,
                                box, reason=reason)  # fmt: skip
            log.info("liveness: %s asked to turn (%s)", person_id, judged.describe())
        if marks is None:
            return None
        challenge = self.liveness.ask(person_id, match.name, match.distance, marks, now)
        track.challenge = challenge
        return self._request(challenge, box)

    def answer(
        self, track: FaceTrack, box: Box, marks: np.ndarray | None, now: float
    ) -> Decision | Challenge:
        """One more frame of the asked face: the request passed (returned, for the caller to
        check the person in), or a decision (still asked, asked again, or refused)."""
        asked = track.challenge
        assert asked is not None
        verdict = self.liveness.observe(asked, marks, now, self.pace.interval)
        if verdict == "waiting":
            return self._request(asked, box)
        track.challenge = None
        if verdict == "failed":
            if self.liveness.attempts_left(asked.person_id, now) > 0:
                track.challenge = self.liveness.ask_again(asked, now)
                return self._request(track.challenge, box)
            return Decision("refused", asked.person_id, asked.name, Method.FACE,
                            asked.distance, box, reason=f"liveness: {asked.reason}")  # fmt: skip
        return asked

    def _request(self, challenge: Challenge, box: Box) -> Decision:
        """The ``challenge`` decision that asks (or keeps asking) for ``challenge``."""
        return Decision("challenge", challenge.person_id, challenge.name, Method.FACE,
                        challenge.distance, box,
                        reason=self.liveness.phrase(challenge))  # fmt: skip
