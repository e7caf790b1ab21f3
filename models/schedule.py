"""Schedules: shifts and training sessions, and the attendance rules HR applies to them.

A :class:`Schedule` is one JSON document (``schedule.v1.json``) that the HR system gives both
to the terminals (``[attendance] schedule_file``) and to the reference receiver's reports
(``kiosk report --schedule``). Shift times are wall-clock times in the schedule's ``timezone``
(IANA name); a shift whose ``end`` is not after its ``start`` ends the next day (overnight).
Training sessions have absolute start and end times.

The rules and how they are counted (times compared to the second):

- **late**: the first check-in of a shift is after its start; more than
  ``half_day_late_min`` minutes late counts as half a day absent, more than
  ``full_day_late_min`` as a full day;
- **early leave**: the last check-out is at least ``early_leave_min`` minutes before the end;
  more than ``half_day_early_min`` minutes early counts as half a day absent, more than
  ``full_day_early_min`` as a full day;
- ``monthly_flag_count`` lates or early leaves in one calendar month flag the person;
- a session attendee present for less than ``participation_threshold`` of the session is
  flagged;
- a session may name ``pairs`` of people trained together (clerks and reserve managers trained
  together must both sign in for a joint session): the report lists pairs where only one came;
- a :class:`TrainingProgramme` groups sessions: class hours are accumulated over them, and
  ``lateness_limit`` late arrivals without reason (2 by default: "being late twice without
  reason during training ends the qualification") end the qualification.

Programmes and pairs are additive (defaults empty): schedules without them stay valid, and
``schema_version`` stays 1.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.messages import TERMINAL_ID_PATTERN, UtcTimestamp

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
SCHEDULE_SCHEMA_VERSION: Literal[1] = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AttendanceRules(_Model):
    """The thresholds, in minutes; the defaults are those HR teams here use."""

    half_day_late_min: int = Field(15, ge=0, description="Later than this: half a day absent.")
    full_day_late_min: int = Field(30, ge=0, description="Later than this: a full day absent.")
    early_leave_min: int = Field(5, ge=1, description="Leaving this early or more: early leave.")
    half_day_early_min: int = Field(15, ge=0, description="Earlier than this: half a day.")
    full_day_early_min: int = Field(30, ge=0, description="Earlier than this: a full day.")
    monthly_flag_count: int = Field(
        3, ge=1, description="Lates plus early leaves in a calendar month that flag a person."
    )
    participation_threshold: float = Field(
        0.8, gt=0, le=1, description="Session attendees present less than this share: flagged."
    )
    absent_alert_after_min: int = Field(
        10, ge=0, description="Alert when a scheduled person has not checked in this long after"
        " the start of their shift or session.",
    )  # fmt: skip
    no_checkout: Literal["end_of_schedule", "entry_only"] = Field(
        "end_of_schedule",
        description="A person still in at the end (no check-out): end_of_schedule counts them"
        " present until the shift or session ends, with no early-leave verdict and a"
        " missing_checkout mark; entry_only counts no minutes after their last entry.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> AttendanceRules:
        if self.full_day_late_min < self.half_day_late_min:
            raise ValueError("full_day_late_min must not be below half_day_late_min")
        if not self.early_leave_min <= self.half_day_early_min <= self.full_day_early_min:
            raise ValueError("early_leave_min <= half_day_early_min <= full_day_early_min")
        return self


class ShiftPlan(_Model):
    """A shift worked on some weekdays by some people (directly or through groups)."""

    shift_id: str = Field(pattern=ID_PATTERN, description="Unique in the schedule.")
    name: str = Field(min_length=1, max_length=64, description="Shown to HR.")
    start: time = Field(description="Local start time, HH:MM[:SS].")
    end: time = Field(description="Local end time; not after start: the next day (overnight).")
    weekdays: list[int] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5],
        description="ISO weekdays the shift starts on (1 = Monday ... 7 = Sunday).",
    )
    people: list[str] = Field(default_factory=list, description="Person ids on this shift.")
    groups: list[str] = Field(default_factory=list, description="Groups on this shift.")

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(not 1 <= day <= 7 for day in value):
            raise ValueError("weekdays must be 1 (Monday) to 7 (Sunday), at least one")
        return sorted(set(value))

    @property
    def overnight(self) -> bool:
        """Whether the shift ends on the day after it starts."""
        return self.end <= self.start


class TrainingSession(_Model):
    """A training session in a room (one or more terminals at its doors)."""

    session_id: str = Field(pattern=ID_PATTERN, description="Unique in the schedule.")
    title: str = Field(min_length=1, max_length=128, description="Shown on screen and in reports.")
    terminal_ids: list[str] = Field(
        min_length=1, description="Terminals at the room's doors (their check-ins count)."
    )
    start: UtcTimestamp = Field(description="Start, RFC 3339.")
    end: UtcTimestamp = Field(description="End, RFC 3339, after start.")
    participants: list[str] = Field(default_factory=list, description="Expected person ids.")
    groups: list[str] = Field(default_factory=list, description="Expected groups.")
    class_hours: float = Field(
        1.0, ge=0, le=100, description="Class hours credited to a participant who qualifies."
    )
    pairs: list[list[str]] = Field(
        default_factory=list,
        description="Pairs of person ids trained together (e.g. a clerk and a reserve manager)"
        " who must both sign in for this joint session; both are expected participants.",
    )

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[list[str]]) -> list[list[str]]:
        for pair in value:
            if len(pair) != 2 or pair[0] == pair[1] or not all(pair):
                raise ValueError(f"a pair is two different person ids, not {pair!r}")
        return value

    @field_validator("terminal_ids")
    @classmethod
    def _terminals(cls, value: list[str]) -> list[str]:
        import re

        for terminal_id in value:
            if not re.match(TERMINAL_ID_PATTERN, terminal_id):
                raise ValueError(f"bad terminal id {terminal_id!r}")
        return value

    @model_validator(mode="after")
    def _order(self) -> TrainingSession:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def minutes(self) -> float:
        """The session's length in minutes."""
        return (self.end - self.start).total_seconds() / 60


class TrainingProgramme(_Model):
    """Training sessions taken as one programme: class hours are accumulated over them, and
    ``lateness_limit`` late arrivals without reason (leave covering the start excuses one) end
    the qualification."""

    programme_id: str = Field(pattern=ID_PATTERN, description="Unique in the schedule.")
    title: str = Field(min_length=1, max_length=128, description="Shown in reports.")
    sessions: list[str] = Field(
        min_length=1, description="The session ids of the programme (sessions of this schedule)."
    )
    lateness_limit: int = Field(
        2, ge=1, description="Late arrivals (in all its sessions) that end the qualification."
    )
    class_hours_required: float | None = Field(
        None, ge=0, description="Class hours a person must be credited with (null: none)."
    )

    @field_validator("sessions")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise ValueError("a session is listed twice in the programme")
        return value


class Schedule(_Model):
    """Shifts, sessions, groups and rules: the whole schedule document."""

    schema_version: Literal[1] = Field(SCHEDULE_SCHEMA_VERSION, description="Schema version.")
    version: int = Field(ge=1, description="Increases with every change the HR system makes.")
    timezone: str = Field("Asia/Shanghai", description="IANA time zone of the shift times.")
    groups: dict[str, list[str]] = Field(
        default_factory=dict, description="Group id -> person ids."
    )
    shifts: list[ShiftPlan] = Field(default_factory=list)
    sessions: list[TrainingSession] = Field(default_factory=list)
    programmes: list[TrainingProgramme] = Field(
        default_factory=list, description="Training programmes: sessions taken together."
    )
    rules: AttendanceRules = Field(default_factory=AttendanceRules)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> Schedule:
        for kind, ids in (
            ("shift", [s.shift_id for s in self.shifts]),
            ("session", [s.session_id for s in self.sessions]),
            ("programme", [p.programme_id for p in self.programmes]),
        ):
            if len(ids) != len(set(ids)):
                raise ValueError(f"a {kind} id is used twice")
        known = set(self.groups)
        named = [s.groups for s in self.shifts] + [s.groups for s in self.sessions]
        for groups in named:
            missing = set(groups) - known
            if missing:
                raise ValueError(f"unknown group(s) {sorted(missing)}")
        sessions = {s.session_id for s in self.sessions}
        for programme in self.programmes:
            unknown = [s for s in programme.sessions if s not in sessions]
            if unknown:
                raise ValueError(
                    f"programme {programme.programme_id} names unknown session(s) {unknown}"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return ZoneInfo(self.timezone)

    def members(self, people: list[str], groups: list[str]) -> set[str]:
        """The person ids named directly or through ``groups``."""
        found = set(people)
        for group in groups:
            found.update(self.groups.get(group, []))
        return found

    def shifts_of(self, person_id: str) -> list[ShiftPlan]:
        """The shifts ``person_id`` is on."""
        return [s for s in self.shifts if person_id in self.members(s.people, s.groups)]

    def local(self, moment: datetime) -> datetime:
        """``moment`` (aware) in the schedule's time zone."""
        return moment.astimezone(self.zone)
