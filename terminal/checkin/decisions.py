"""What the pipeline concludes about a face or a QR code in a frame: one :class:`Decision`.

Most decisions come again with every frame while the person stands there (a refused badge held
up, a face being confirmed); :class:`ThrottledLog` logs such things now and then, not per frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from drivers.face.base import Box
from models.messages import CheckInEvent, Direction, Method

LOG_REPEAT_S = 10.0

DecisionKind = Literal[
    "checked_in",
    "repeat",
    "unknown",
    "refused",
    "pending",
    "adjust",
    "challenge",
    "paired",
    "enrolling",
    "enrolled",
]


@dataclass(frozen=True)
class Decision:
    """What the pipeline concluded about one face or QR code in a frame.

    ``checked_in`` carries the committed ``event``; ``pending`` is a recognised face awaiting
    confirmation; ``repeat`` a person already checked in within the window; ``unknown`` a face
    that matches nobody; ``refused`` a bad badge or a check-in the store could not commit;
    ``adjust`` a face not fit to recognise, with the hint for the person as ``reason``
    (``center_face``, ``look_at_camera``, ``lower_mask``, ``hold_still``; see
    :mod:`terminal.face.quality`);
    ``challenge`` a recognised face asked to turn its head (``reason`` ``turn_left`` or
    ``turn_right``; see :mod:`terminal.face.liveness`), not yet checked in; ``paired`` (verification
    mode ``face_and_qr``) a valid code that now waits for its person's face (``reason``
    ``look_now``); ``enrolling`` a person being enrolled at the kiosk after an admin showed
    their enrollment code (``reason`` ``<frames taken>/<frames needed>``); ``enrolled`` their
    templates stored (:mod:`terminal.face.kiosk_enrollment`).

    A ``refused`` decision's ``reason`` is either a sentence (a bad badge, a store error) or,
    when the person must be told something specific, a key of
    :data:`terminal.output.announcements.CATALOGUE`: ``qr_not_accepted``, ``show_code_first``,
    ``face_mismatch``, ``pair_expired``, ``no_face_to_confirm``, ``code_used``.
    """

    kind: DecisionKind
    person_id: str | None = None
    name: str | None = None
    method: Method | None = None
    distance: float | None = None
    box: Box | None = None
    event: CheckInEvent | None = None
    reason: str = ""
    refusal: str | None = None
    """A refused QR code: the machine-readable :class:`~terminal.checkin.badges.RefusalCode` value
    (the
    screen says it in the kiosk's language; ``reason`` is the English sentence for the log)."""
    session_title: str | None = None
    """``checked_in`` at a training-room door (session mode): the session's title, shown on
    screen (the event carries only its ``schedule_ref``); ``repeat``: that of the check-in it
    repeats."""
    direction: Direction | None = None
    """``repeat``: the direction of the check-in it repeats (the screen says "already checked
    out" after a check-out); None when the check-in had none."""


class ThrottledLog:
    """Logs a message unless the same kind (``key``) was logged in the last ``every_s`` seconds.

    Times are the frames' monotonic clock, so a replayed source logs as a live one would.
    """

    def __init__(self, logger: logging.Logger, every_s: float = LOG_REPEAT_S) -> None:
        self.logger = logger
        self.every_s = every_s
        self._logged: dict[str, float] = {}

    def log(self, level: int, key: str, message: str, now: float) -> None:
        """Log ``message`` at ``level`` unless ``key`` was logged within ``every_s``."""
        last = self._logged.get(key)
        if last is None or abs(now - last) >= self.every_s:
            self._logged = {k: t for k, t in self._logged.items() if abs(now - t) < self.every_s}
            self._logged[key] = now
            self.logger.log(level, "%s", message)
