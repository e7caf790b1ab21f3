"""The ``[attendance]`` section: which way a check-in counts, and the schedule it is judged by.

A check-in is an arrival (``in``) or a departure (``out``). A terminal at an entrance or an exit
says so (``direction = "in"`` / ``"out"``); a terminal used both ways (``"auto"``, the default)
decides per check-in with the rule documented in :mod:`terminal.checkin.direction`.

With a ``schedule_file`` (a ``schedule.v1.json`` document from the HR system, see
:mod:`models.schedule`) every check-in also carries the shift occurrence or training session it
counts for and the verdict the person was shown: on time, late, early leave. The file is read
again whenever it changes; a file that cannot be read or is not a valid schedule is logged as an
error and the last good schedule stays in force (none at all if there never was one).

``session_mode`` is for a kiosk at a training-room door: check-ins at this terminal alternate
entry and exit of the session running here (see :mod:`terminal.checkin.direction`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from terminal.config.base import Section as _Section

DirectionSetting = Literal["in", "out", "auto"]


class AttendanceSection(_Section):
    """Direction of check-ins at this terminal and the schedule they are judged by."""

    direction: DirectionSetting = Field(
        "auto",
        description="in: every check-in here is an arrival (an entrance); out: a departure (an"
        " exit); auto: decided per check-in from the person's shift or session and their"
        " earlier check-ins (docs/site-admins.md: 'Shifts and sessions on the kiosk').",
    )
    schedule_file: Path | None = Field(
        None,
        description="A schedule.v1.json file (shifts, training sessions, groups, rules) from"
        " the HR system; read again when it changes; a bad file is logged and the last good"
        " schedule stays. Unset: no schedule, events carry only their direction.",
    )
    session_mode: bool = Field(
        False,
        description="A training-room door: check-ins alternate entry and exit for the session"
        " running at this terminal (or starting within 30 minutes); with no session, the"
        " ordinary rule applies.",
    )

    @property
    def fixed(self) -> bool:
        """Whether the terminal's direction is fixed (``in`` or ``out``), not decided."""
        return self.direction != "auto"
