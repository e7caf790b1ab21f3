"""The reports as text for a terminal window (``kiosk report`` without output files).

Columns are aligned by display width: a Chinese character takes two columns in a terminal, so
names line up. Only the columns a person reads at a glance are shown; the CSV, XLSX and JSON
outputs carry all of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from central.reports.sessions import SessionReport
from central.reports.shifts import ShiftReport


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The rows as dicts keyed by column name (for JSON)."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (wide East Asian characters count two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``columns`` and ``rows`` as aligned text, a header line and a rule first."""
    cells = [list(columns), *([_show(v) for v in row] for row in rows)]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(columns))]
    lines = []
    for number, row in enumerate(cells):
        padded = [text + " " * (widths[i] - display_width(text)) for i, text in enumerate(row)]
        lines.append("  ".join(padded).rstrip())
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _clock(value: object, day: object) -> str | None:
    """``HH:MM`` of a local ``YYYY-MM-DD HH:MM:SS``; with ``(MM-DD)`` when not on ``day``."""
    if not isinstance(value, str):
        return None
    if value[:10] == day:
        return value[11:16]
    return f"{value[11:16]} ({value[5:10]})"


def shift_text(report: ShiftReport) -> str:
    """The shift report as text: one line per person and shift, then the monthly flags."""
    columns, rows = report.to_table()
    at = {name: index for index, name in enumerate(columns)}
    shown = ["day", "person", "shift", "in", "out", "arrival", "late", "departure", "early"]
    shown += ["absence", "status"]
    lines = [
        [
            row[at["day"]],
            row[at["person_id"]],
            row[at["shift_id"]],
            _clock(row[at["arrival"]], row[at["day"]]),
            _clock(row[at["departure"]], row[at["day"]]),
            row[at["arrival_verdict"]],
            row[at["late_min"]] or None,
            row[at["departure_verdict"]],
            row[at["early_min"]] or None,
            row[at["absence"]],
            row[at["status"]],
        ]
        for row in rows
    ]
    head = (
        f"Shift attendance {report.start_day} to {report.end_day}"
        f" ({report.schedule.timezone}, minutes late/early rounded up)"
    )
    parts = [head, "", text_table(shown, lines) if lines else "(no scheduled shifts)"]
    if report.flagged:
        parts += ["", "Flagged this month:", text_table(*report.flags_table())]
    if report.unscheduled:
        parts += ["", f"{len(report.unscheduled)} check-in(s) outside any scheduled shift."]
    return "\n".join(parts)


def session_text(report: SessionReport) -> str:
    """The session report as text: a summary line and one line per person, per session."""
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
                a.credited_hours,
                a.status,
            ]
            for a in result.attendance
        ]
        columns = ["person", "present min", "share", "exits", "no checkout", "hours", "status"]
        parts += [text_table(columns, lines) if lines else "(nobody expected or present)", ""]
    return "\n".join(parts).rstrip() or "(no sessions)"
