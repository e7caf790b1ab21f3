"""Training programmes: sessions taken together, class hours accumulated, lateness counted.

:func:`programme_report` reads a :class:`~central.reports.sessions.SessionReport` holding every
session of the programmes asked for (:func:`programme_sessions` names them) and gives one row
per programme and person expected at any of its sessions. Only the sessions a person is
expected at count for them:

- ``sessions_attended``: status attended; ``sessions_missed``: absent or flagged (below the
  participation threshold); ``sessions_on_leave``: leave covered the whole session;
  ``sessions_unverified``: no verdict (unsynchronised clocks);
- ``class_hours``: the class hours credited, summed (a session's ``class_hours`` when
  attended, 0 otherwise); ``hours_met``: at least ``class_hours_required`` (None when the
  programme requires none);
- ``lates``: sessions the person came late to. Lateness is measured from the end of leave
  covering the start, so a late arrival excused in advance (``excused``, or any leave) is not
  a late without reason; a first entry from an unsynchronised clock has no verdict;
- ``qualification_lost``: ``lates >= lateness_limit`` ("being late twice without reason during
  training ends the qualification": with the default limit of 2, exactly 2 lates lose it, 1
  does not).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from central.reports.common import Table, chosen_by_id
from central.reports.sessions import SessionAttendance, SessionReport
from models.schedule import Schedule, TrainingProgramme


@dataclass(frozen=True)
class ProgrammeRow:
    """One person in one programme."""

    programme: TrainingProgramme
    person_id: str
    sessions_expected: int
    sessions_attended: int
    sessions_missed: int
    sessions_on_leave: int
    sessions_unverified: int
    class_hours: float
    lates: int

    @property
    def qualification_lost(self) -> bool:
        """Whether the person came late ``lateness_limit`` times or more."""
        return self.lates >= self.programme.lateness_limit

    @property
    def hours_met(self) -> bool | None:
        """Whether the class hours reach the requirement (None when there is none)."""
        required = self.programme.class_hours_required
        return None if required is None else self.class_hours >= required


@dataclass(frozen=True)
class ProgrammeReport:
    """The programmes asked for, in schedule order, each person in id order."""

    schedule: Schedule
    programmes: list[TrainingProgramme]
    rows: list[ProgrammeRow]

    COLUMNS = (
        "programme_id", "title", "person_id", "sessions_expected", "sessions_attended",
        "sessions_missed", "sessions_on_leave", "sessions_unverified", "class_hours", "lates",
        "lateness_limit", "qualification_lost", "class_hours_required", "hours_met",
    )  # fmt: skip
    """The columns of :meth:`to_table`."""

    def to_table(self) -> Table:
        """One row per programme and person."""
        rows: list[list[object]] = []
        for r in self.rows:
            p = r.programme
            rows.append([
                p.programme_id, p.title, r.person_id, r.sessions_expected, r.sessions_attended,
                r.sessions_missed, r.sessions_on_leave, r.sessions_unverified,
                round(r.class_hours, 2), r.lates, p.lateness_limit, r.qualification_lost,
                p.class_hours_required, r.hours_met,
            ])  # fmt: skip
        return list(self.COLUMNS), rows

    def rows_of(self, programme_id: str) -> list[ProgrammeRow]:
        """The rows of one programme."""
        return [r for r in self.rows if r.programme.programme_id == programme_id]


def chosen_programmes(
    schedule: Schedule, programme_ids: Iterable[str] | None = None
) -> list[TrainingProgramme]:
    """The programmes named (all when None), in schedule order; ValueError naming an unknown
    id, or when the schedule has none."""
    if not schedule.programmes:
        raise ValueError("the schedule has no training programmes")
    return chosen_by_id(schedule.programmes, programme_ids, lambda p: p.programme_id, "programme")


def programme_sessions(schedule: Schedule, programme_ids: Iterable[str] | None = None) -> list[str]:
    """The session ids of the programmes named (all when None), each once, in schedule order
    (what :func:`~central.reports.sessions.session_report_range` and the session report need);
    ValueError as :func:`chosen_programmes`."""
    wanted = {s for p in chosen_programmes(schedule, programme_ids) for s in p.sessions}
    return [s.session_id for s in schedule.sessions if s.session_id in wanted]


def programme_report(
    session_report: SessionReport,
    schedule: Schedule,
    programme_ids: Iterable[str] | None = None,
) -> ProgrammeReport:
    """Per programme (all when None) and person expected at any of its sessions: the sessions
    attended, missed, on leave and unverified, class hours, lates and the qualification.
    ValueError when a programme is unknown or ``session_report`` lacks one of its sessions."""
    programmes = chosen_programmes(schedule, programme_ids)
    results = {r.session.session_id: r for r in session_report.sessions}
    rows: list[ProgrammeRow] = []
    for programme in programmes:
        lacking = [s for s in programme.sessions if s not in results]
        if lacking:
            raise ValueError(
                f"the session report lacks session(s) {', '.join(lacking)}"
                f" of programme {programme.programme_id}"
            )
        seen: dict[str, list[SessionAttendance]] = {}
        for session_id in programme.sessions:
            for a in results[session_id].attendance:
                if a.expected:
                    seen.setdefault(a.person_id, []).append(a)
        for person, attended in sorted(seen.items()):
            rows.append(_row(programme, person, attended))
    return ProgrammeReport(schedule, programmes, rows)


def _row(
    programme: TrainingProgramme, person: str, attendance: list[SessionAttendance]
) -> ProgrammeRow:
    """One person's row from their attendance at the programme's sessions they were expected at."""
    statuses = [a.status for a in attendance]
    return ProgrammeRow(
        programme,
        person,
        sessions_expected=len(attendance),
        sessions_attended=statuses.count("attended"),
        sessions_missed=statuses.count("absent") + statuses.count("flagged"),
        sessions_on_leave=statuses.count("on_leave"),
        sessions_unverified=statuses.count("unverified"),
        class_hours=sum(a.credited_hours for a in attendance),
        lates=sum(a.late for a in attendance),
    )
