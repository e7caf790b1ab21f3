"""Attendance alerts the central side publishes on ``{prefix}/alerts`` for HR systems.

An HR system subscribes to ``{prefix}/alerts`` (QoS 1) and forwards each :class:`Alert` as an
SMS or app message. ``alert_id`` is a UUID5 of the alert's kind, ref and person, so the same
situation always gets the same id: a consumer that sees an id twice (a publisher restarted
between publishing and recording it) must drop the second one.

- ``absent``: a person scheduled for a shift occurrence (``ref`` ``<shift id>@<YYYY-MM-DD>``)
  or a training session (``ref`` ``session:<session id>``) has not checked in
  ``absent_alert_after_min`` minutes after its start; ``minutes_late`` says how long after.
- ``low_participation``: a session's participation so far (``participation``, 0 to 1) is below
  the schedule's ``participation_threshold`` after the session's midpoint; ``person_id`` is null.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.messages import UtcTimestamp

ALERT_SCHEMA_VERSION: Literal[1] = 1
ALERT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://schemas.kiosk-terminal.example/alert")
"""The UUID5 namespace of alert ids."""

AlertKind = Literal["absent", "low_participation"]


def alert_id_for(kind: AlertKind, ref: str, person_id: str | None) -> uuid.UUID:
    """The deterministic id of the alert ``kind`` about ``person_id`` (or none) for ``ref``."""
    return uuid.uuid5(ALERT_NAMESPACE, f"{kind}\n{ref}\n{person_id or ''}")


class Alert(BaseModel):
    """One alert, published once on ``{prefix}/alerts`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(ALERT_SCHEMA_VERSION, description="Version of this schema.")
    alert_id: uuid.UUID = Field(
        description="UUID5 of kind, ref and person: the same situation always has the same id."
    )
    kind: AlertKind = Field(description="absent, or low_participation (a session as a whole).")
    person_id: str | None = Field(
        None, min_length=1, max_length=64, description="The person; null for a session alert."
    )
    ref: str = Field(
        min_length=1,
        max_length=140,
        description="'<shift id>@<YYYY-MM-DD>' (local start date) or 'session:<session id>'.",
    )
    detail: str = Field(min_length=1, max_length=500, description="One English sentence.")
    minutes_late: int | None = Field(
        None, ge=0, description="With absent: minutes since the start, without a check-in."
    )
    participation: float | None = Field(
        None, ge=0, le=1, description="With low_participation: the share so far, 0 to 1."
    )
    raised_at: UtcTimestamp = Field(description="When the alert was raised, RFC 3339 UTC.")

    @model_validator(mode="after")
    def _consistent(self) -> Alert:
        if self.alert_id != alert_id_for(self.kind, self.ref, self.person_id):
            raise ValueError("alert_id is not the UUID5 of kind, ref and person_id")
        if self.kind == "absent" and (self.person_id is None or self.minutes_late is None):
            raise ValueError("an absent alert needs person_id and minutes_late")
        if self.kind == "low_participation" and self.participation is None:
            raise ValueError("a low_participation alert needs participation")
        return self


def make_alert(
    kind: AlertKind,
    ref: str,
    person_id: str | None,
    detail: str,
    raised_at: datetime,
    minutes_late: int | None = None,
    participation: float | None = None,
) -> Alert:
    """An :class:`Alert` with its deterministic ``alert_id`` filled in."""
    return Alert(
        alert_id=alert_id_for(kind, ref, person_id),
        kind=kind,
        person_id=person_id,
        ref=ref,
        detail=detail,
        minutes_late=minutes_late,
        participation=participation,
        raised_at=raised_at,
    )
