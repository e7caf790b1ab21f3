"""``kiosk report shifts``' outputs, written while the check-ins stream by.

:func:`write_shift_report` turns the rows of
:func:`~central.reports.shift_stream.stream_shift_days` into each output asked for in one pass:
the CSV file and the JSON document get each row as it is judged, the text table keeps each
row as one short string (its widths must be known before the first line), the chart keeps a
count per day, and only the XLSX workbook holds the whole table. What the other tables need
(daily totals, monthly flags, unscheduled check-ins) is added up on the way
(:class:`ShiftTotals`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from central.reports.adjustments import Adjustments
from central.reports.common import CheckIn
from central.reports.export import (
    DayCounts,
    Sheet,
    check_output_dir,
    csv_rows,
    daily_chart,
    write_xlsx,
)
from central.reports.json_stream import JsonDocument
from central.reports.shift_days import (
    SHIFT_COLUMNS,
    UNSCHEDULED_COLUMNS,
    ShiftDay,
    ShiftRows,
    ShiftTotals,
    flags_table,
)
from central.reports.shift_stream import stream_shift_days
from central.reports.text import (
    SHIFT_TEXT_COLUMNS,
    AlignedTable,
    shift_text_cells,
    shift_text_head,
    shift_text_lines,
)
from models.schedule import Schedule

Row = Sequence[object]

_CHART_CATEGORY = {"present": 0, "late": 1, "late_and_early_leave": 1, "early_leave": 2}
_CHART_CATEGORY |= {"absent": 3, "no_verdict_clock": 4, "on_leave": 5}
"""Each judged status's bar in the daily chart ("open": still running, not judged yet)."""


@dataclass(frozen=True)
class ShiftOutputs:
    """What to write: files, JSON on ``out``, and the text table when nothing else is asked."""

    csv_path: Path | None = None
    xlsx_path: Path | None = None
    png_path: Path | None = None
    as_json: bool = False

    @property
    def text(self) -> bool:
        """Whether the text table is printed (no other output asked for)."""
        return not (self.csv_path or self.xlsx_path or self.png_path or self.as_json)


class _ChartCounts:
    """Person-shifts per day and chart category, from the table's rows."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}
        self._day = SHIFT_COLUMNS.index("day")
        self._status = SHIFT_COLUMNS.index("status")

    def add(self, row: Row) -> None:
        counts = self.counts.setdefault(str(row[self._day]), [0, 0, 0, 0, 0, 0])
        category = _CHART_CATEGORY.get(str(row[self._status]))
        if category is not None:
            counts[category] += 1

    def days(self) -> list[DayCounts]:
        return [DayCounts(date.fromisoformat(d), *self.counts[d]) for d in sorted(self.counts)]


def _rows(
    days: Iterable[ShiftDay],
    totals: ShiftTotals,
    render: ShiftRows,
    sinks: list[Callable[[Row], None]],
) -> Iterator[Row]:
    """The table rows of ``days``, each counted in ``totals`` and given to every sink first."""
    for d in days:
        totals.add(d)
        row = render.row(d)
        for sink in sinks:
            sink(row)
        yield row


def write_shift_report(
    ordered_events: Iterable[CheckIn],
    schedule: Schedule,
    start_day: date,
    end_day: date,
    now: datetime | None,
    outputs: ShiftOutputs,
    out: TextIO,
    wrote: Callable[[Path, str], None],
    adjustments: Adjustments | None = None,
) -> int:
    """Write the shift report of ``ordered_events`` (in ``event_order``, each once) to each of
    ``outputs`` (JSON and text on ``out``), calling ``wrote`` for each file; the row count.
    ``adjustments``: the leave and corrections to apply."""
    totals = ShiftTotals(schedule.zone, schedule.rules.monthly_flag_count)
    render = ShiftRows(schedule.zone)

    if outputs.xlsx_path:
        check_output_dir(outputs.xlsx_path, "XLSX file")
    if outputs.png_path:
        check_output_dir(outputs.png_path, "chart")
    xlsx_rows: list[Row] = []
    chart = _ChartCounts()
    table = AlignedTable(SHIFT_TEXT_COLUMNS)
    document = JsonDocument(out) if outputs.as_json else None
    with ExitStack() as files:
        sinks: list[Callable[[Row], None]] = []
        if outputs.csv_path:
            sinks.append(files.enter_context(csv_rows(outputs.csv_path, SHIFT_COLUMNS)))
        if outputs.xlsx_path:
            sinks.append(xlsx_rows.append)
        if outputs.png_path:
            sinks.append(chart.add)
        if outputs.text:
            shown = shift_text_cells(SHIFT_COLUMNS)
            sinks.append(lambda row: table.add(shown(row)))
        days = stream_shift_days(
            ordered_events, schedule, start_day, end_day, now, totals.add_unscheduled,
            adjustments,
        )  # fmt: skip
        stream = _rows(days, totals, render, sinks)
        if document is not None:
            document.value("report", "shifts")
            document.value("from", start_day.isoformat())
            document.value("to", end_day.isoformat())
            document.value("timezone", schedule.timezone)
            count = document.rows("rows", SHIFT_COLUMNS, stream)
        else:
            count = sum(1 for _ in stream)
    flagged = flags_table(totals.flags())
    if outputs.csv_path:
        wrote(outputs.csv_path, f"{count} rows")
    if outputs.xlsx_path:
        sheets = [
            Sheet("Shifts", SHIFT_COLUMNS, xlsx_rows),
            Sheet("Daily", *totals.daily_table()),
            Sheet("Monthly flags", *flagged),
            Sheet("Unscheduled", UNSCHEDULED_COLUMNS, totals.unscheduled_rows),
        ]
        write_xlsx(outputs.xlsx_path, sheets)
        wrote(outputs.xlsx_path, f"{count} rows")
    if outputs.png_path:
        daily_chart(outputs.png_path, chart.days(), f"Shift attendance {start_day} to {end_day}")
        wrote(outputs.png_path, "daily chart")
    if document is not None:
        document.rows("daily", *totals.daily_table())
        document.rows("flagged", *flagged)
        document.rows("unscheduled", UNSCHEDULED_COLUMNS, totals.unscheduled_rows)
        document.close()
    if outputs.text:
        head = shift_text_head(start_day, end_day, schedule.timezone)
        for line in shift_text_lines(head, table, flagged, len(totals.unscheduled_rows)):
            out.write(line + "\n")
    return count
