"""Write report tables as CSV and XLSX, and draw the report charts as PNG.

A table is ``(columns, rows)``, as the reports' ``to_table()`` return it. CSV is UTF-8 with a
byte-order mark; XLSX (openpyxl) has a bold, frozen header row and columns sized to their
content, with optional further sheets. The charts (matplotlib, Agg backend, imported only when
a chart is drawn) are a daily shift attendance chart (stacked bars: on time, late, early leave,
absent, unverified, on leave per day) and a session participation chart (one horizontal bar per
participant, with the threshold as a line). Chinese names need a CJK font: "Noto Sans CJK SC"
(Debian package ``fonts-noto-cjk``) is used when matplotlib finds it, otherwise the default font
silently.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common.errors import KioskError

Columns = Sequence[str]
Rows = Sequence[Sequence[Any]]

CJK_FONT = "Noto Sans CJK SC"
MAX_COLUMN_WIDTH = 60


@dataclass(frozen=True)
class Sheet:
    """One XLSX sheet: a title (at most 31 characters, as Excel allows) and a table."""

    title: str
    columns: Columns
    rows: Rows


@dataclass(frozen=True)
class DayCounts:
    """Shift attendance of one day, in person-shifts, for the daily chart."""

    day: date
    on_time: int
    late: int
    early_leave: int
    absent: int
    unverified: int = 0
    """Check-ins from a kiosk whose clock was not synchronised: no verdict, not "on time"."""
    on_leave: int = 0
    """Approved leave for the whole shift."""


def _cell(value: Any) -> Any:
    """A value as a spreadsheet cell: numbers, text and dates as is, None empty, others str."""
    if value is None or isinstance(value, bool | int | float | str | date):
        return value
    return str(value)


def check_output_dir(path: Path, what: str) -> None:
    """A one-line error when ``path``'s folder is not there to write the ``what`` in."""
    if not path.parent.is_dir():
        raise KioskError(f"{path}: cannot write the {what}: {path.parent} is not a directory")


@contextmanager
def csv_rows(path: Path, columns: Columns) -> Iterator[Callable[[Sequence[Any]], None]]:
    """A CSV file at ``path`` with the header ``columns``: the block writes rows with the
    function it is given, one at a time; the file is complete when the block ends."""
    check_output_dir(path, "CSV file")
    # utf-8-sig writes a byte-order mark first: without it Excel reads the file in the
    # system's ANSI code page and shows Chinese names as mojibake.
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(columns)
            # The csv module writes None as an empty cell and any other value as str(value):
            # what a spreadsheet cell of it (_cell) shows.
            yield writer.writerow
    except OSError as exc:
        raise KioskError(f"{path}: cannot write the CSV file: {exc.strerror}") from None


def write_csv(path: Path, columns: Columns, rows: Iterable[Sequence[Any]]) -> int:
    """Write the table as CSV at ``path`` (``rows`` may be a stream); the rows written."""
    count = 0
    with csv_rows(path, columns) as write:
        for row in rows:
            write(row)
            count += 1
    return count


def _text_width(value: Any) -> int:
    text = "" if value is None else str(value)
    # East Asian characters take about two columns in a spreadsheet cell.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> None:
    """Write ``sheets`` (at least one) as an XLSX workbook at ``path``."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    if not sheets:
        raise ValueError("an XLSX workbook needs at least one sheet")
    check_output_dir(path, "XLSX file")
    workbook = Workbook()
    for index, sheet in enumerate(sheets):
        worksheet = workbook.active if index == 0 else workbook.create_sheet()
        assert worksheet is not None
        worksheet.title = sheet.title[:31]
        worksheet.append(list(sheet.columns))
        for cell in worksheet[1]:
            cell.font = Font(bold=True)
        for row in sheet.rows:
            worksheet.append([_cell(v) for v in row])
        worksheet.freeze_panes = "A2"
        for number, name in enumerate(sheet.columns, start=1):
            values = [name, *(row[number - 1] for row in sheet.rows if len(row) >= number)]
            width = min(MAX_COLUMN_WIDTH, max(_text_width(v) for v in values) + 2)
            worksheet.column_dimensions[get_column_letter(number)].width = width
    try:
        workbook.save(path)
    except OSError as exc:
        raise KioskError(f"{path}: cannot write the XLSX file: {exc.strerror}") from None


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, with the CJK font first when it is installed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    names = {font.name for font in font_manager.fontManager.ttflist}
    if CJK_FONT in names:
        plt.rcParams["font.sans-serif"] = [CJK_FONT, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _save(plt: Any, figure: Any, path: Path) -> None:
    check_output_dir(path, "chart")
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise KioskError(f"{path}: cannot write the chart: {exc.strerror}") from None
    finally:
        plt.close(figure)


def daily_chart(path: Path, days: Sequence[DayCounts], title: str) -> None:
    """Draw the daily shift attendance as stacked bars per day into a PNG at ``path``."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(6.0, 0.6 * len(days) + 2), 4.5))
    labels = [d.day.strftime("%m-%d") for d in days]
    bottom = [0] * len(days)
    series = (
        ("on time", "on_time", "#4caf50"),
        ("late", "late", "#ffb300"),
        ("early leave", "early_leave", "#fb8c00"),
        ("absent", "absent", "#e53935"),
        ("unverified (clock)", "unverified", "#9e9e9e"),
        ("on leave", "on_leave", "#42a5f5"),
    )
    for label, field, colour in series:
        values = [int(getattr(d, field)) for d in days]
        axes.bar(range(len(days)), values, bottom=bottom, label=label, color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    # Numeric positions and tick labels: strings as categories make matplotlib log a notice.
    axes.set_xticks(range(len(days)), labels)
    axes.set_title(title)
    axes.set_xlabel("day")
    axes.set_ylabel("person-shifts")
    axes.yaxis.get_major_locator().set_params(integer=True)
    if not days:
        axes.text(0.5, 0.5, "no shifts in this period", ha="center", transform=axes.transAxes)
    axes.legend(loc="upper right", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    _save(plt, figure, path)


def participation_chart(
    path: Path, title: str, participants: Sequence[tuple[str, float]], threshold: float
) -> None:
    """Draw a session's participation (name, share 0..1) as horizontal bars into a PNG."""
    plt = _pyplot()
    height = max(3.0, 0.35 * len(participants) + 1.5)
    figure, axes = plt.subplots(figsize=(7.0, height))
    names = [name for name, _ in participants]
    shares = [0.0 if math.isnan(share) else 100 * share for _, share in participants]
    colours = ["#4caf50" if s >= 100 * threshold else "#e53935" for s in shares]
    axes.barh(range(len(names)), shares, color=colours)
    axes.set_yticks(range(len(names)), names)
    axes.axvline(100 * threshold, color="#1e88e5", linestyle="--", label="threshold")
    for position, share in enumerate(shares):
        axes.text(share + 1, position, f"{share:.0f}%", va="center", fontsize="small")
    axes.set_xlim(0, 112)
    axes.invert_yaxis()
    axes.set_xlabel("participation (%)")
    axes.set_title(title)
    if not participants:
        axes.text(0.5, 0.5, "no participants", ha="center", transform=axes.transAxes)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    _save(plt, figure, path)
