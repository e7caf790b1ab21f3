"""What the pipeline concludes about a face or a QR code in a frame: one :class:`Decision`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers.face.base import Box
from models.messages import CheckInEvent, Method

DecisionKind = Literal[
    "checked_in", "repeat", "unknown", "refused", "pending", "adjust", "challenge"
]


@dataclass(frozen=True)
class Decision:
    """What the pipeline concluded about one face or QR code in a frame.

    ``checked_in`` carries the committed ``event``; ``pending`` is a recognised face awaiting
    confirmation; ``repeat`` a person already checked in within the window; ``unknown`` a face
    that matches nobody; ``refused`` a bad badge or a check-in the store could not commit;
    ``adjust`` a face not fit to recognise, with the hint for the person as ``reason``
    (``center_face``, ``look_at_camera``, ``hold_still``; see :mod:`terminal.face_quality`);
    ``challenge`` a recognised face asked to turn its head (``reason`` ``turn_left`` or
    ``turn_right``; see :mod:`terminal.liveness`), not yet checked in.
    """

    kind: DecisionKind
    person_id: str | None = None
    name: str | None = None
    method: Method | None = None
    distance: float | None = None
    box: Box | None = None
    event: CheckInEvent | None = None
    reason: str = ""
