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
Failed requests are counted per person; after ``max_attempts`` face check-in is refused for
``lockout_s`` and a warning is logged.
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
        """A new request for the face whose current landmarks are ``landmarks``."""
        direction: Direction = self.rng.choice(("left", "right"))
        return Challenge(person_id, name, distance, direction, self.sideways(landmarks), now)

    def observe(self, challenge: Challenge, landmarks: np.ndarray | None, now: float) -> Verdict:
        """Judge one more frame of the face that was asked; ``landmarks`` None when the face
        was seen without them. A failure is counted towards the lockout."""
        if landmarks is not None:
            moved = self.sideways(landmarks) - challenge.baseline
            toward = moved if challenge.direction == "left" else -moved
            challenge.peak = max(challenge.peak, toward)
            if toward <= -self.config.turn:
                return self._fail(challenge, now, "turned the other way")
            challenge.held = challenge.held + 1 if toward >= self.config.turn else 0
            if challenge.held >= self.config.hold_frames:
                return "passed"
        if now - challenge.asked_at > self.config.timeout_s:
            return self._fail(challenge, now, f"no turn within {self.config.timeout_s:g} s")
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
        level = logging.WARNING if self.locked_out(challenge.person_id, now) else logging.INFO
        log.log(
            level,
            "liveness request failed for %s (%s; asked %s, best %.2f of %.2f)%s",
            challenge.person_id,
            reason,
            challenge.direction,
            challenge.peak,
            self.config.turn,
            ": face check-in locked, possible photo or video attack"
            if level == logging.WARNING
            else "",
        )
        return "failed"
