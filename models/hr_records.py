"""What HR records beside the terminals' check-ins: approved leave, and supervisors' corrections.

Both are kept apart from the check-ins (never by editing a terminal's event) and read by the
reports:

- a :class:`LeavePeriod` is approved leave or an excused absence (请假; ``excused`` for bad
  weather or other force majeure) of one person from ``start`` to ``end``: whole days
  (``whole_days``: every shift that starts on those days, overnight ones included, is covered
  whole) or part of one (the time covered, to the second). The HR system's ``leave_id`` names
  it, so importing it again replaces it. Time it covers is counted as leave of its ``kind``,
  never as absence, lateness or early leave;
- a :class:`CheckInCorrection` is signed off by a supervisor with a reason: ``add`` records a
  check-in the terminal did not (a forgotten card, a broken kiosk), ``void`` makes a stored
  check-in (a terminal's, or an added one) not count. Corrections are only ever added.

This module imports nothing of ours but :mod:`models.messages`.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.messages import Direction, UtcTimestamp

RECORD_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"

LeaveKind = Literal[
    "annual",
    "sick",
    "personal",
    "marriage",
    "maternity",
    "paternity",
    "bereavement",
    "business_trip",
    "compensatory",
    "excused",
    "other",
]
"""Kinds of leave, each a column of the month summary: 年假 annual, 病假 sick, 事假 personal
(unpaid), 婚假 marriage, 产假 maternity, 陪产假 paternity, 丧假 bereavement, 出差 business trip,
调休 compensatory time off, ``excused``: force majeure (bad weather, transport strikes), and
``other``."""

LEAVE_KINDS: tuple[LeaveKind, ...] = LeaveKind.__args__  # type: ignore[attr-defined]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeavePeriod(_Record):
    """Approved leave or an excused absence of one person, ``[start, end)``."""

    leave_id: str = Field(pattern=RECORD_ID_PATTERN, description="The HR system's id.")
    person_id: str = Field(min_length=1, max_length=64, description="Who is on leave.")
    kind: LeaveKind = Field(description="Kind of leave (a column of the month summary).")
    start: UtcTimestamp = Field(description="First instant covered, RFC 3339.")
    end: UtcTimestamp = Field(description="First instant no longer covered, after start.")
    whole_days: bool = Field(
        False,
        description="Whole days, start and end at local midnights: every shift that starts on"
        " those days is covered whole (a night shift too). False: the time from start to end.",
    )
    note: str = Field("", max_length=500, description="Free text (the reason, the approval).")
    approved_by: str = Field("", max_length=64, description="Who approved it.")

    @model_validator(mode="after")
    def _order(self) -> LeavePeriod:
        if self.end <= self.start:
            raise ValueError("the leave must end after it starts")
        return self


class StoredLeave(LeavePeriod):
    """A leave period as stored: when it was imported, and whether it was cancelled."""

    imported_at: UtcTimestamp = Field(description="When it was last imported.")
    cancelled_at: UtcTimestamp | None = Field(None, description="When it was cancelled.")
    cancelled_by: str = Field("", max_length=64, description="Who cancelled it.")


CorrectionAction = Literal["add", "void"]


class CheckInCorrection(_Record):
    """A supervisor's correction: a check-in added, or a stored one voided.

    ``add`` needs ``person_id``, ``captured_at`` and ``direction`` (and may name the training
    session it is for in ``schedule_ref``, ``session:<id>``); ``void`` needs the ``event_id``
    it voids. Both need a ``reason`` and who signed them off."""

    action: CorrectionAction = Field(description="add a check-in, or void one.")
    reason: str = Field(min_length=2, max_length=500, description="Why (kept with it).")
    signed_off_by: str = Field(min_length=1, max_length=64, description="The supervisor.")
    person_id: str | None = Field(None, min_length=1, max_length=64, description="add: who.")
    captured_at: UtcTimestamp | None = Field(None, description="add: when, RFC 3339.")
    direction: Direction | None = Field(None, description="add: in or out.")
    schedule_ref: str | None = Field(
        None, max_length=140, description="add: the session it is for ('session:<id>')."
    )
    event_id: UUID | None = Field(None, description="void: the check-in voided.")

    @model_validator(mode="after")
    def _fields(self) -> CheckInCorrection:
        added = (self.person_id, self.captured_at, self.direction)
        if self.action == "add":
            if any(value is None for value in added):
                raise ValueError("an added check-in needs person_id, captured_at and direction")
            if self.event_id is not None:
                raise ValueError("an added check-in takes no event_id")
        else:
            if self.event_id is None:
                raise ValueError("a void needs the event_id of the check-in it voids")
            if any(value is not None for value in (*added, self.schedule_ref)):
                raise ValueError("a void takes only event_id, reason and signed_off_by")
        return self


class StoredCorrection(CheckInCorrection):
    """A correction as stored: its id and when it was recorded. An added check-in's
    ``correction_id`` is also its ``event_id`` (so it can be voided in turn)."""

    correction_id: UUID = Field(description="The correction's id (an added check-in's event id).")
    recorded_at: UtcTimestamp = Field(description="When it was recorded.")
