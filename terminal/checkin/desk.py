"""The last step of every check-in, whatever the method: no repeats, use the code, commit.

A check-in is done when the outbox has committed it (SQLite, ``synchronous=FULL``); only then
is it reported. Its direction, schedule reference and verdict are decided right before the
commit (:mod:`terminal.checkin.attendance`), from the person's earlier check-ins in the same outbox.
A single-use code is consumed right before the commit, so a code cannot check in twice; a
commit that then fails burns the code, which is the safe side (a fresh code works). A check-in
by face is counted in the processing log (:mod:`terminal.store.processing_log`) in the same
transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from common.errors import StoreError
from drivers.camera.base import Frame
from drivers.face.base import Box
from models.messages import CheckInEvent, Direction, Method
from terminal.checkin.attendance import Attendance, Marking
from terminal.checkin.badges import QrClaim, QrRefusal
from terminal.checkin.decisions import Decision, ThrottledLog
from terminal.checkin.rules import RepeatGuard
from terminal.store import processing_log
from terminal.store.outbox import CheckInDraft, Outbox

log = logging.getLogger(__name__)

FACE_METHODS = frozenset({Method.FACE, Method.FACE_AND_QR})
"""Check-ins that used the person's face templates (counted in the processing log)."""


class CodeSource(Protocol):
    """Judges decoded QR texts and records single-use codes as used (the kiosk's is
    :class:`~terminal.checkin.code_checker.CodeChecker`: static badges and signed codes)."""

    def check(self, text: str, now: datetime | None = None) -> QrClaim | QrRefusal:
        """A claim for an acceptable code (not yet checked against the roster), else a
        refusal with its reason; ``now`` is the frame's wall-clock time."""
        ...

    def consume_in(
        self, conn: sqlite3.Connection, claim: QrClaim, now: datetime | None = None
    ) -> bool:
        """Record ``claim``'s code as used in ``conn``'s open transaction, the one that commits
        its check-in; False when it already was (a replay: refuse the check-in)."""
        ...


class CheckInDesk:
    """Commits check-ins to the outbox, once per person per ``repeat_window_s``."""

    def __init__(
        self,
        outbox: Outbox,
        repeats: RepeatGuard,
        codes: CodeSource,
        clock_synced: Callable[[], bool],
        throttled: ThrottledLog,
        attendance: Attendance | None = None,
    ) -> None:
        self.outbox = outbox
        self.attendance = attendance
        """Marks each check-in in or out and judges it (None: events carry none of that)."""
        self.repeats = repeats
        self.codes = codes
        self.clock_synced = clock_synced
        self.throttled = throttled
        self.names: dict[str, str] = {}
        """Everyone enrolled (id -> name), with or without face templates."""
        self.face_ids: frozenset[str] = frozenset()
        """The people this terminal can recognise by face (consent and templates of its
        model); in ``face`` mode everyone else checks in with their QR code."""
        self._last_marks: dict[str, tuple[Direction | None, str | None]] = {}
        """Each person's last check-in here: its direction and session title (for repeats)."""

    def repeat(
        self,
        person_id: str,
        method: Method,
        frame: Frame,
        distance: float | None = None,
        box: Box | None = None,
    ) -> Decision | None:
        """A ``repeat`` decision if the person checked in within the window, else None."""
        ago = self.repeats.seconds_since(person_id, frame.monotonic)
        if ago is None:
            return None
        return self.repeat_of(person_id, self.names.get(person_id), method, ago, distance, box)

    def repeat_of(
        self,
        person_id: str,
        name: str | None,
        method: Method,
        ago: float,
        distance: float | None = None,
        box: Box | None = None,
    ) -> Decision:
        """The ``repeat`` decision of a person who checked in ``ago`` seconds ago, with the
        direction and session of that check-in (so the screen says "already checked out")."""
        direction, title = self._last_marks.get(person_id, (None, None))
        done = "checked out" if direction is Direction.OUT else "checked in"
        return Decision("repeat", person_id, name, method, distance, box,
                        reason=f"already {done} {ago:.0f} s ago", session_title=title,
                        direction=direction)  # fmt: skip

    def check_in(
        self,
        person_id: str,
        method: Method,
        frame: Frame,
        distance: float | None = None,
        box: Box | None = None,
        claim: QrClaim | None = None,
    ) -> Decision:
        """Commit a check-in, consuming ``claim`` in the same transaction (a crash or a full
        disk loses neither the check-in alone nor the code alone), or say why not."""
        repeat = self.repeat(person_id, method, frame, distance, box)
        if repeat is not None:
            return repeat
        name = self.names.get(person_id)
        codes = self.codes

        def burn_code(conn: sqlite3.Connection) -> None:
            if claim is not None and not codes.consume_in(conn, claim, frame.wall):
                raise _CodeUsed
            if method in FACE_METHODS:
                processing_log.count_use(conn, person_id, frame.wall)

        try:
            synced = self.clock_synced()
            marking = self._mark(person_id, frame, synced)
            draft = CheckInDraft(person_id, method, frame.wall, distance)
            if marking is not None:
                draft = dataclasses.replace(
                    draft,
                    direction=marking.direction,
                    schedule_ref=marking.schedule_ref,
                    verdict=marking.verdict,
                    verdict_minutes=marking.verdict_minutes,
                )
            event = self.outbox.commit_checkin(draft, clock_synced=synced, also=burn_code)
        except _CodeUsed:
            log.warning("code of %s shown again after it was used: refused", person_id)
            return Decision("refused", person_id, name, method, distance, box,
                            reason="code_used")  # fmt: skip
        except StoreError as exc:
            key = f"store:{type(exc).__name__}"
            self.throttled.log(logging.ERROR, key, str(exc), frame.monotonic)
            return Decision("refused", person_id, name, method, distance, box, reason=str(exc))
        self.repeats.record(person_id, frame.monotonic)
        title = marking.session_title if marking is not None else None
        self._last_marks[person_id] = (event.direction, title)
        log.info(
            "checked in %s (%s) by %s, seq %d%s",
            person_id,
            name,
            method.value,
            event.seq,
            _attendance_note(event),
        )
        return Decision(
            "checked_in", person_id, name, method, distance, box, event, "checked in",
            session_title=title,
        )  # fmt: skip

    def _mark(self, person_id: str, frame: Frame, synced: bool) -> Marking | None:
        """The attendance fields of this check-in (raises StoreError from the history read)."""
        if self.attendance is None:
            return None
        return self.attendance.mark(person_id, frame.wall, synced, self.outbox.checkins_of)


def _attendance_note(event: CheckInEvent) -> str:
    """``: out, day@2026-11-23 early_leave 12 min`` for the log (empty without a direction)."""
    if event.direction is None:
        return ""
    note = f": {event.direction.value}"
    if event.schedule_ref is not None:
        note += f", {event.schedule_ref}"
    if event.verdict is not None:
        note += f" {event.verdict.value}"
    if event.verdict_minutes is not None:
        note += f" {event.verdict_minutes} min"
    return note


class _CodeUsed(Exception):
    """Raised inside the check-in's transaction when its code was already used: rolls it back."""
