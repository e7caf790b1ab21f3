"""The schedule a kiosk judges check-ins by: a JSON file, read again whenever it changes.

The HR system (or the admin) replaces ``[attendance] schedule_file`` at any time, ideally by
writing a new file and renaming it over the old one. :meth:`ScheduleFile.current` looks at the
file's identity (inode, size, modification time) on every call and reads it again when that
changed. A file that cannot be read or is not a valid ``schedule.v1.json`` document is logged as
an error, once per change, and the last good schedule stays in force; a file that disappears
also keeps the last good schedule (logged once).
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from common.errors import KioskError
from models.schedule import Schedule

log = logging.getLogger(__name__)

_Signature = tuple[int, int, int] | None


def describe_validation(exc: ValidationError) -> str:
    """``N problem(s), first: where: what`` for a pydantic error."""
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "document"
    count = f"{len(errors)} problem" + ("s" if len(errors) != 1 else "")
    return f"{count}, first: {where}: {first['msg']}"


def load_schedule(path: Path) -> Schedule:
    """The schedule in the JSON file ``path``; a one-line :class:`KioskError` if it is bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KioskError(f"{path}: no such schedule file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KioskError(f"{path}: cannot read the schedule: {exc}") from None
    try:
        return Schedule.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise KioskError(f"{path}: not valid JSON: {first['msg']}") from None
        raise KioskError(f"{path}: not a valid schedule: {describe_validation(exc)}") from None


class ScheduleFile:
    """The schedule in ``path``, reloaded on change; a bad file keeps the last good one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._schedule: Schedule | None = None
        self._seen: _Signature | str = "never"
        self.error: str | None = None
        """Why the file last failed to load (None: the file in force loaded fine)."""

    def current(self) -> Schedule | None:
        """The schedule in force: the file's, reloaded if it changed since the last call."""
        signature = self._signature()
        if signature == self._seen:
            return self._schedule
        self._seen = signature
        if signature is None:
            self._fail("cannot read the schedule file: it does not exist")
            return self._schedule
        try:
            schedule = load_schedule(self.path)
        except KioskError as exc:
            self._fail(str(exc).removeprefix(f"{self.path}: "))
        else:
            previous = self._schedule
            self._schedule, self.error = schedule, None
            log.info(
                "schedule %s: version %d, %d shifts, %d sessions (was %s)",
                self.path,
                schedule.version,
                len(schedule.shifts),
                len(schedule.sessions),
                "none" if previous is None else f"version {previous.version}",
            )
        return self._schedule

    def _signature(self) -> _Signature:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def _fail(self, reason: str) -> None:
        self.error = reason
        kept = (
            "no schedule in force"
            if self._schedule is None
            else f"keeping schedule version {self._schedule.version}"
        )
        log.error("%s: %s; %s", self.path, reason, kept)
