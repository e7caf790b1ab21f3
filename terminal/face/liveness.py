"""Liveness by request: a recognised face is asked to turn its head, left or right at random.

A photo, printed or on a screen, moves as a flat card: turning or tilting it does not move the
nose sideways against the eyes, because the nose is printed between them. A real head turned
by 25 degrees moves the nose by about a third of the eye distance. A replayed video turns when
its recording does, not when asked, and a turn the wrong way fails the request at once.

Measured with YuNet's five landmarks (``kiosk bench liveness``): 92 hand-held photos (moved,
turned up to 22 degrees, tilted, re-lit, 6 s each) moved the nose by at most 0.26 eye
distances (95 % of them by less than 0.23); real head turns by 0.37 to 0.94. The default
threshold is 0.30.

What this does not stop: a video of the person that happens to turn the requested way right
after the request (a replay passes about as often as a coin toss comes up its way, less the
times it turns the wrong way first), a 3D mask, or the person themselves lending their face.
Failed requests are counted per person. A failed request with attempts left is asked again at
once, on the same face, in a new random direction (:meth:`HeadTurnLiveness.ask_again`): an honest
person who misheard is asked once more, not accused. The new request counts only once the face is
back near where it was first asked (within half of ``turn``), so a head still turned the wrong
way neither passes nor fails it. After ``max_attempts`` failures face check-in is refused for
``lockout_s`` and a warning is logged.

The time to turn is ``timeout_s`` or :data:`TURN_FRAMES` frame intervals, whichever is longer
(:mod:`terminal.checkin.pace`): a board doing one frame a second still sees a turn held for
``hold_frames``. ``lockout_s`` is about people, not frames, and stays as configured.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from terminal.config import LivenessSection
from terminal.face.quality import pose

log = logging.getLogger(__name__)

Direction = Literal["left", "right"]
Verdict = Literal["passed", "waiting", "failed"]

TURN_FRAMES = 8
"""Frames a request waits for at least: a few to react and ``hold_frames`` (2) to hold the
turn. 0.5 s at 15 fps, so the 4 s default decides there; 8 s at one frame a second."""


@dataclass
class Challenge:
    """One request to one face: which way to turn, from where, and since when."""

    person_id: str
    name: str | None
    distance: float | None
    direction: Direction
    baseline: float
    asked_at: float
    held: int = 0
    peak: float = 0.0
    reason: str = ""
    attempt: int = 1
    """1 for the first request, 2 for the first one asked again after a failure, ..."""
    armed: bool = True
    """False for a request asked again until the face is back near ``baseline``."""


@dataclass
class _Failures:
    times: list[float] = field(default_factory=list)


class HeadTurnLiveness:
    """Issues head-turn requests and judges the landmarks seen after them.

    ``rng`` chooses the direction; pass a seeded :class:`random.Random` for a reproducible
    sequence (tests), by default the OS's randomness, so the next request cannot be guessed.
    """

    def __init__(self, config: LivenessSection, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.SystemRandom()
        self._failures: dict[str, _Failures] = {}

    def locked_out(self, person_id: str, now: float) -> bool:
        """Whether the person failed ``max_attempts`` requests within ``lockout_s``."""
        failures = self._failures.get(person_id)
        if failures is None:
            return False
        failures.times = [t for t in failures.times if 0 <= now - t < self.config.lockout_s]
        return len(failures.times) >= self.config.max_attempts

    def ask(
        self,
        person_id: str,
        name: str | None,
        distance: float | None,
        landmarks: np.ndarray,
        now: float,
    ) -> Challenge:
        """A new request for the face whose current landmarks are ``landmarks`` (counted as a
        further attempt when the person failed requests within ``lockout_s``: one who walked
        away while asked and came back is asked "once more")."""
        direction: Direction = self.rng.choice(("left", "right"))
        attempt = self.config.max_attempts - self.attempts_left(person_id, now) + 1
        return Challenge(
            person_id, name, distance, direction, self.sideways(landmarks), now, attempt=attempt
        )

    def attempts_left(self, person_id: str, now: float) -> int:
        """How many more requests the person may fail before face check-in is locked."""
        self.locked_out(person_id, now)  # drops failures older than lockout_s
        failures = self._failures.get(person_id)
        return max(0, self.config.max_attempts - (len(failures.times) if failures else 0))

    def ask_again(self, failed: Challenge, now: float) -> Challenge:
        """A new request after ``failed`` (attempts left): a new random direction, judged from
        the pose the face was first asked in, once the face is back there."""
        direction: Direction = self.rng.choice(("left", "right"))
        attempt = self.config.max_attempts - self.attempts_left(failed.person_id, now) + 1
        return Challenge(
            failed.person_id, failed.name, failed.distance, direction, failed.baseline, now,
            attempt=attempt, armed=False,
        )  # fmt: skip

    def phrase(self, challenge: Challenge) -> str:
        """The catalogue key that asks for ``challenge`` (``turn_left``, ``turn_left_again``,
        ``turn_left_last``; see :mod:`terminal.output.announcements`)."""
        if challenge.attempt <= 1:
            return f"turn_{challenge.direction}"
        last = challenge.attempt >= self.config.max_attempts
        return f"turn_{challenge.direction}_{'last' if last else 'again'}"

    def timeout(self, frame_interval: float = 0.0) -> float:
        """Seconds to turn once asked: ``timeout_s``, or :data:`TURN_FRAMES` frame intervals
        when longer."""
        return max(self.config.timeout_s, TURN_FRAMES * frame_interval)

    def observe(
        self,
        challenge: Challenge,
        landmarks: np.ndarray | None,
        now: float,
        frame_interval: float = 0.0,
    ) -> Verdict:
        """Judge one more frame of the face that was asked; ``landmarks`` None when the face
        was seen without them; ``frame_interval`` the measured seconds between frames. A
        failure is counted towards the lockout."""
        if landmarks is not None:
            moved = self.sideways(landmarks) - challenge.baseline
            if not challenge.armed:
                challenge.armed = abs(moved) < self.config.turn / 2
                moved = 0.0
            toward = moved if challenge.direction == "left" else -moved
            challenge.peak = max(challenge.peak, toward)
            if toward <= -self.config.turn:
                return self._fail(challenge, now, "turned the other way")
            challenge.held = challenge.held + 1 if toward >= self.config.turn else 0
            if challenge.held >= self.config.hold_frames:
                return "passed"
        timeout = self.timeout(frame_interval)
        if now - challenge.asked_at > timeout:
            return self._fail(challenge, now, f"no turn within {timeout:.3g} s")
        return "waiting"

    def abandon(self, challenge: Challenge, now: float) -> None:
        """The asked face was lost from view before it turned: counted as a failure."""
        self._fail(challenge, now, "face lost before turning")

    def sideways(self, landmarks: np.ndarray) -> float:
        """The nose's sideways offset from the eyes' midpoint, in eye distances; positive
        when the person turns to their left (image right, unless the camera mirrors)."""
        yaw, _ = pose(landmarks)
        return -yaw if self.config.mirrored else yaw

    def _fail(self, challenge: Challenge, now: float, reason: str) -> Verdict:
        challenge.reason = reason
        failures = self._failures.setdefault(challenge.person_id, _Failures())
        failures.times.append(now)
        left = self.attempts_left(challenge.person_id, now)
        log.log(
            logging.INFO if left else logging.WARNING,
            "liveness request failed for %s (%s; asked %s, best %.2f of %.2f): %s",
            challenge.person_id,
            reason,
            challenge.direction,
            challenge.peak,
            self.config.turn,
            f"asking again, {left} attempt(s) left"
            if left
            else "face check-in locked, possible photo or video attack",
        )
        return "failed"
