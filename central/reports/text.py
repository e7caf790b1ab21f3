"""The reports as text for a terminal window (``kiosk report`` without output files).

Columns are aligned by display width: a Chinese character takes two columns in a terminal, so
names line up. Only the columns a person reads at a glance are shown; the CSV, XLSX and JSON
outputs carry all of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from central.reports.programmes import ProgrammeReport
from central.reports.sessions import SessionReport
from central.reports.shifts import ShiftReport


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The rows as dicts keyed by column name (for JSON)."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _show(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(value)
    if value is None:
        return "-"
    if kind is bool:
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class AlignedTable:
    """A text table filled row by row: each row is kept as one string of its shown cells (a
    year of rows stays small) and the column widths are tracked as rows come."""

    _SEPARATOR = "\x00"

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.widths = [display_width(c) for c in self.columns]
        self._rows: list[str | tuple[str, ...]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: Sequence[Any]) -> None:
        """Add one row (one value per column)."""
        cells = list(map(_show, row))
        joined = self._SEPARATOR.join(cells)
        if joined.isascii():
            self.widths = list(map(max, self.widths, map(len, cells)))
        else:
            self.widths = list(map(max, self.widths, map(display_width, cells)))
        fits = joined.count(self._SEPARATOR) == len(cells) - 1
        self._rows.append(joined if fits else tuple(cells))

    def lines(self) -> Iterator[str]:
        """The header line, a rule, then one line per row."""
        widths = self.widths
        yield self._line(self.columns)
        yield "  ".join("-" * w for w in widths)
        for row in self._rows:
            yield self._line(row.split(self._SEPARATOR) if isinstance(row, str) else row)

    def _line(self, cells: Sequence[str]) -> str:
        widths = self.widths
        if all(map(str.isascii, cells)):
            return "  ".join(map(str.ljust, cells, widths)).rstrip()
        padded = [text + " " * (widths[i] - display_width(text)) for i, text in enumerate(cells)]
        return "  ".join(padded).rstrip()


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``columns`` and ``rows`` as aligned text, a header line and a rule first."""
    table = AlignedTable(columns)
    for row in rows:
        table.add(row)
    return "\n".join(table.lines())


def _clock(value: object, day: object) -> str | None:
    """``HH:MM`` of a local ``YYYY-MM-DD HH:MM:SS``; with ``(MM-DD)`` when not on ``day``."""
    if not isinstance(value, str):
        return None
    if value[:10] == day:
        return value[11:16]
    return f"{value[11:16]} ({value[5:10]})"


SHIFT_TEXT_COLUMNS = ["day", "person", "shift", "in", "out", "arrival", "late", "departure",
                      "early", "absence", "status"]  # fmt: skip
"""The columns the shift report's text shows."""


def shift_text_cells(columns: Sequence[str]) -> Callable[[Sequence[Any]], list[Any]]:
    """A function giving the cells :data:`SHIFT_TEXT_COLUMNS` shows of a shift report's table
    row (whose columns are ``columns``)."""
    at = {name: index for index, name in enumerate(columns)}
    day_at, person_at, shift_at = at["day"], at["person_id"], at["shift_id"]
    arrival_at, departure_at = at["arrival"], at["departure"]
    verdicts_at = at["arrival_verdict"], at["late_min"], at["departure_verdict"], at["early_min"]
    absence_at, status_at = at["absence"], at["status"]

    def cells(row: Sequence[Any]) -> list[Any]:
        day = row[day_at]
        return [
            day,
            row[person_at],
            row[shift_at],
            _clock(row[arrival_at], day),
            _clock(row[departure_at], day),
            row[verdicts_at[0]],
            row[verdicts_at[1]] or None,
            row[verdicts_at[2]],
            row[verdicts_at[3]] or None,
            row[absence_at],
            row[status_at],
        ]

    return cells


def shift_text_lines(
    head: str,
    table: AlignedTable,
    flags: tuple[Sequence[str], Sequence[Sequence[Any]]],
    unscheduled: int,
) -> Iterator[str]:
    """The shift report's text, line by line: ``head``, the table of
    :data:`SHIFT_TEXT_COLUMNS` rows, the monthly flags, the count of unscheduled check-ins."""
    yield from (head, "")
    if len(table):
        yield from table.lines()
    else:
        yield "(no scheduled shifts)"
    if flags[1]:
        yield from ("", "Flagged this month:", text_table(*flags))
    if unscheduled:
        yield from ("", f"{unscheduled} check-in(s) outside any scheduled shift.")


def shift_text_head(report_start: object, report_end: object, timezone: str) -> str:
    """The first line of the shift report's text."""
    return (
        f"Shift attendance {report_start} to {report_end}"
        f" ({timezone}, minutes late/early rounded up)"
    )


def shift_text(report: ShiftReport) -> str:
    """The shift report as text: one line per person and shift, then the monthly flags."""
    columns, rows = report.to_table()
    table = AlignedTable(SHIFT_TEXT_COLUMNS)
    cells = shift_text_cells(columns)
    for row in rows:
        table.add(cells(row))
    head = shift_text_head(report.start_day, report.end_day, report.schedule.timezone)
    return "\n".join(shift_text_lines(head, table, report.flags_table(), len(report.unscheduled)))


def session_text(report: SessionReport) -> str:
    """The session report as text: a summary line and one line per person, per session, then
    the pairs where someone did not attend."""
    parts: list[str] = []
    threshold = report.schedule.rules.participation_threshold
    for result in report.sessions:
        session = result.session
        parts += [
            f"{session.session_id} {session.title}: {result.attended} of {result.expected}"
            f" expected attended, mean participation {result.mean_participation:.0%}"
            f" (threshold {threshold:.0%}), {round(session.minutes)} min",
        ]
        lines = [
            [
                a.person_id + ("" if a.expected else " (not expected)"),
                round(a.present_minutes, 1),
                f"{a.participation:.0%}",
                a.mid_session_exits,
                a.missing_checkout,
                a.late_minutes or None,
                a.leave_text,
                a.credited_hours,
                a.status,
            ]
            for a in result.attendance
        ]
        columns = ["person", "present min", "share", "exits", "no checkout", "late min",
                   "leave", "hours", "status"]  # fmt: skip
        parts += [text_table(columns, lines) if lines else "(nobody expected or present)", ""]
    columns, rows = report.pairs_table()
    broken = [row for row in rows if row[columns.index("pair_status")] != "complete"]
    if broken:
        parts += ["Pairs with an absentee:", text_table(columns, broken), ""]
    return "\n".join(parts).rstrip() or "(no sessions)"


def programme_text(report: ProgrammeReport) -> str:
    """The programme report as text: per programme a line with its sessions and rules, then
    one line per person."""
    parts: list[str] = []
    columns = ["person", "expected", "attended", "missed", "on leave", "unverified", "hours",
               "lates", "qualification", "hours met"]  # fmt: skip
    for programme in report.programmes:
        required = programme.class_hours_required
        needs = f", {required:g} class hours required" if required is not None else ""
        parts.append(
            f"{programme.programme_id} {programme.title}: {len(programme.sessions)} session(s),"
            f" qualification lost at {programme.lateness_limit} late(s){needs}"
        )
        lines = [
            [
                r.person_id,
                r.sessions_expected,
                r.sessions_attended,
                r.sessions_missed,
                r.sessions_on_leave,
                r.sessions_unverified,
                round(r.class_hours, 2),
                r.lates,
                "lost" if r.qualification_lost else "kept",
                None if r.hours_met is None else "yes" if r.hours_met else "no",
            ]
            for r in report.rows_of(programme.programme_id)
        ]
        parts += [text_table(columns, lines) if lines else "(nobody expected)", ""]
    return "\n".join(parts).rstrip() or "(no programmes)"
