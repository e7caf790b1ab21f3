"""Report exports: CSV and XLSX read back, PNG charts decoded (Chinese names included)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest
from openpyxl import load_workbook

from central.reports.export import (
    DayCounts,
    Sheet,
    daily_chart,
    participation_chart,
    write_csv,
    write_xlsx,
)
from common.errors import KioskError

COLUMNS = ["person_id", "name", "day", "minutes", "note"]
ROWS = [
    ["E1001", "张伟", date(2025, 3, 3), 12, None],
    ["E1002", "李娜", date(2025, 3, 3), 0, 'on time, "quoted"'],
    ["E1003", "Ann O'Neil", date(2025, 3, 4), 31.5, "line\nbreak"],
]


def test_csv_has_a_bom_and_reads_back_with_chinese_names(tmp_path: Path):
    path = tmp_path / "report.csv"
    write_csv(path, COLUMNS, ROWS)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == COLUMNS
    assert rows[1] == ["E1001", "张伟", "2025-03-03", "12", ""]
    assert rows[2][4] == 'on time, "quoted"'
    assert rows[3] == ["E1003", "Ann O'Neil", "2025-03-04", "31.5", "line\nbreak"]
    assert len(rows) == 4


def test_xlsx_reads_back_with_a_bold_frozen_header_and_a_second_sheet(tmp_path: Path):
    path = tmp_path / "report.xlsx"
    summary = Sheet("Summary", ["metric", "value"], [["people", 3], ["参加率", 0.75]])
    write_xlsx(path, [Sheet("Daily attendance", COLUMNS, ROWS), summary])
    book = load_workbook(path)
    assert book.sheetnames == ["Daily attendance", "Summary"]
    sheet = book["Daily attendance"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == COLUMNS
    assert values[1][:2] == ["E1001", "张伟"]
    assert values[1][2].date() == date(2025, 3, 3)
    assert values[1][3] == 12
    assert values[1][4] is None
    assert values[3][3] == 31.5
    assert len(values) == 4
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet["A2"].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= 6
    assert sheet.column_dimensions["E"].width > sheet.column_dimensions["D"].width
    assert [list(r) for r in book["Summary"].iter_rows(values_only=True)][2] == ["参加率", 0.75]


def test_xlsx_sheet_titles_are_cut_to_what_excel_allows(tmp_path: Path):
    path = tmp_path / "long.xlsx"
    write_xlsx(path, [Sheet("x" * 40, ["a"], [[1]])])
    assert load_workbook(path).sheetnames == ["x" * 31]


def test_writing_into_a_missing_directory_is_one_line(tmp_path: Path):
    with pytest.raises(KioskError, match="is not a directory"):
        write_csv(tmp_path / "nope" / "r.csv", COLUMNS, ROWS)
    with pytest.raises(KioskError, match="is not a directory"):
        write_xlsx(tmp_path / "nope" / "r.xlsx", [Sheet("s", COLUMNS, ROWS)])


def _decoded(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a decodable PNG"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return image


def test_daily_chart_is_a_png_with_coloured_bars(tmp_path: Path):
    path = tmp_path / "daily.png"
    days = [
        DayCounts(date(2025, 3, 3), on_time=8, late=2, early_leave=1, absent=1),
        DayCounts(date(2025, 3, 4), on_time=10, late=0, early_leave=0, absent=2),
        DayCounts(date(2025, 3, 5), on_time=5, late=4, early_leave=2, absent=1),
    ]
    daily_chart(path, days, "出勤 March 2025")
    image = _decoded(path)
    height, width = image.shape[:2]
    assert width >= 500 and height >= 300
    # The bars: many pixels of the "absent" red (BGR 57, 57, 229) and the "on time" green.
    red = np.all(np.abs(image.astype(int) - [57, 57, 229]) < 30, axis=2).sum()
    green = np.all(np.abs(image.astype(int) - [80, 175, 76]) < 30, axis=2).sum()
    assert red > 200 and green > 1000


def test_check_ins_of_an_unsynchronised_clock_are_grey_not_on_time_green(tmp_path: Path):
    path = tmp_path / "unverified.png"
    daily_chart(path, [DayCounts(date(2025, 3, 3), 0, 0, 0, 0, unverified=9)], "unverified")
    image = _decoded(path)
    grey = np.all(np.abs(image.astype(int) - [158, 158, 158]) < 12, axis=2).sum()
    green = np.all(np.abs(image.astype(int) - [80, 175, 76]) < 30, axis=2).sum()
    assert grey > 1000 and green < 500  # the legend's swatch is all the green there is


def test_participation_chart_has_one_bar_per_participant(tmp_path: Path):
    path = tmp_path / "session.png"
    participants = [("张伟", 1.0), ("李娜", 0.5), ("E1003", 0.85), ("王芳", 0.0)]
    participation_chart(path, "消防安全培训", participants, threshold=0.8)
    image = _decoded(path)
    height, width = image.shape[:2]
    assert width >= 500 and height >= 250
    red = np.all(np.abs(image.astype(int) - [57, 57, 229]) < 30, axis=2).sum()
    green = np.all(np.abs(image.astype(int) - [80, 175, 76]) < 30, axis=2).sum()
    assert red > 200 and green > 200


def test_charts_without_data_still_render(tmp_path: Path):
    daily_chart(tmp_path / "empty-daily.png", [], "nothing")
    participation_chart(tmp_path / "empty-session.png", "nothing", [], 0.8)
    assert _decoded(tmp_path / "empty-daily.png").shape[1] >= 500
    assert _decoded(tmp_path / "empty-session.png").shape[1] >= 500
