"""Leave as the HR system exports it: rows of ``leave_id, person_id, kind, from, to`` (and
optionally ``note``, ``approved_by``), from a CSV file, a JSON file or an API request body.

``from`` and ``to`` are either days, ``YYYY-MM-DD`` (whole days in the schedule's zone, ``to``
included: ``2026-03-02`` to ``2026-03-03`` is two days; they cover every shift that starts on
those days, a night shift whole), or local times ``YYYY-MM-DD HH:MM``
(seconds optional; ``to`` is the first minute no longer on leave: ``09:00`` to ``12:00`` is
three hours), or RFC 3339 times with an offset. Both ends must be of the same form.

A file is taken whole or not at all: every problem is counted and the first one named, in one
line (:class:`~common.errors.RecordError`), with its row number.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from common.errors import RecordError
from models.hr_records import LEAVE_KINDS, LeavePeriod

FIELDS = ("leave_id", "person_id", "kind", "from", "to", "note", "approved_by")
REQUIRED = FIELDS[:5]


def _moment(text: str, zone: ZoneInfo, is_end: bool) -> tuple[str, datetime]:
    """``text`` as (form, aware instant); ValueError with a readable reason."""
    value = text.strip()
    try:
        day = date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        raise ValueError(f"{value!r} is not a day (YYYY-MM-DD)") from None
    if day is not None:
        start = datetime.combine(day + timedelta(days=1) if is_end else day, time(0), zone)
        return "day", start
    try:
        moment = datetime.fromisoformat(value.replace("T", " ").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a day (YYYY-MM-DD) nor a time (YYYY-MM-DD HH:MM)"
        ) from None
    if moment.tzinfo is None:
        return "time", moment.replace(tzinfo=zone)
    return "time", moment


def leave_from_row(row: Mapping[str, Any], zone: ZoneInfo) -> LeavePeriod:
    """One leave period from a row of :data:`FIELDS` (local times in ``zone``); ValueError
    with a readable reason."""
    missing = [f for f in REQUIRED if not str(row.get(f) or "").strip()]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    kind = str(row["kind"]).strip()
    if kind not in LEAVE_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(LEAVE_KINDS)}")
    start_form, start = _moment(str(row["from"]), zone, is_end=False)
    end_form, end = _moment(str(row["to"]), zone, is_end=True)
    if start_form != end_form:
        raise ValueError("from and to must both be days or both be times")
    if end <= start:
        raise ValueError(f"to {row['to']!r} is not after from {row['from']!r}")
    try:
        return LeavePeriod(
            leave_id=str(row["leave_id"]).strip(),
            person_id=str(row["person_id"]).strip(),
            kind=kind,
            start=start,
            end=end,
            whole_days=start_form == "day",
            note=str(row.get("note") or ""),
            approved_by=str(row.get("approved_by") or ""),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{where}: {first['msg']}") from None


def leave_from_rows(
    rows: Iterable[Mapping[str, Any]], zone: ZoneInfo, source: str
) -> list[LeavePeriod]:
    """Every row as a leave period, or one :class:`RecordError` naming ``source``, the number
    of bad rows and the first (row 1 is the first after a CSV header)."""
    periods: list[LeavePeriod] = []
    problems: list[str] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            problems.append(f"row {number}: not an object")
            continue
        try:
            periods.append(leave_from_row(row, zone))
        except ValueError as exc:
            problems.append(f"row {number}: {exc}")
    if problems:
        more = f" ({len(problems)} bad rows, first shown)" if len(problems) > 1 else ""
        raise RecordError(f"{source}: {problems[0]}{more}; nothing was imported")
    return periods


def read_leave_file(path: Path, zone: ZoneInfo) -> list[LeavePeriod]:
    """The leave periods of a CSV file (with a header row of :data:`FIELDS`; UTF-8, a BOM
    allowed) or a JSON file (a list of objects, or ``{"leave": [...]}``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read the leave file ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not JSON ({exc})") from None
        rows = document.get("leave") if isinstance(document, dict) else document
        if not isinstance(rows, list):
            raise RecordError(f'{path}: expected a list of leave objects or {{"leave": [...]}}')
        return leave_from_rows(rows, zone, str(path))
    reader = csv.DictReader(text.splitlines())
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [f for f in REQUIRED if f not in header]
    if missing:
        raise RecordError(
            f"{path}: the header lacks {', '.join(missing)} (columns: {', '.join(FIELDS)})"
        )
    rows_csv = ({k.strip(): v for k, v in row.items() if k is not None} for row in reader)
    return leave_from_rows(rows_csv, zone, str(path))
