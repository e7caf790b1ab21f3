"""The last step of every check-in, whatever the method: no repeats, use the code, commit.

A check-in is done when the outbox has committed it (SQLite, ``synchronous=FULL``); only then
is it reported. A single-use code is consumed right before the commit, so a code cannot check
in twice; a commit that then fails burns the code, which is the safe side (a fresh code works).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from drivers.camera.base import Frame
from drivers.face.base import Box
from models.messages import Method
from terminal.badges import QrClaim, QrRefusal
from terminal.checkin_rules import RepeatGuard
from terminal.decisions import Decision, ThrottledLog
from terminal.errors import StoreError
from terminal.outbox import CheckInDraft, Outbox

log = logging.getLogger(__name__)


class CodeSource(Protocol):
    """Judges decoded QR texts and records single-use codes as used (the kiosk's is
    :class:`~terminal.code_checker.CodeChecker`: static badges and signed codes)."""

    def check(self, text: str, now: datetime | None = None) -> QrClaim | QrRefusal:
        """A claim for an acceptable code (not yet checked against the roster), else a
        refusal with its reason; ``now`` is the frame's wall-clock time."""
        ...

    def consume(self, claim: QrClaim, now: datetime | None = None) -> bool:
        """Record ``claim``'s code as used, right before its check-in is committed; False when
        it already was (a replay: refuse the check-in)."""
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
    ) -> None:
        self.outbox = outbox
        self.repeats = repeats
        self.codes = codes
        self.clock_synced = clock_synced
        self.throttled = throttled
        self.names: dict[str, str] = {}
        """Everyone enrolled (id -> name), with or without face templates."""

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
        name = self.names.get(person_id)
        reason = f"already checked in {ago:.0f} s ago"
        return Decision("repeat", person_id, name, method, distance, box, reason=reason)

    def check_in(
        self,
        person_id: str,
        method: Method,
        frame: Frame,
        distance: float | None = None,
        box: Box | None = None,
        claim: QrClaim | None = None,
    ) -> Decision:
        """Commit a check-in (consuming ``claim`` first), or say why not (repeat, refused)."""
        repeat = self.repeat(person_id, method, frame, distance, box)
        if repeat is not None:
            return repeat
        name = self.names.get(person_id)
        try:
            if claim is not None and not self.codes.consume(claim, frame.wall):
                log.warning("code of %s shown again after it was used: refused", person_id)
                return Decision("refused", person_id, name, method, distance, box,
                                reason="code_used")  # fmt: skip
            draft = CheckInDraft(person_id, method, frame.wall, distance)
            event = self.outbox.commit_checkin(draft, clock_synced=self.clock_synced())
        except StoreError as exc:
            key = f"store:{type(exc).__name__}"
            self.throttled.log(logging.ERROR, key, str(exc), frame.monotonic)
            return Decision("refused", person_id, name, method, distance, box, reason=str(exc))
        self.repeats.record(person_id, frame.monotonic)
        log.info("checked in %s (%s) by %s, seq %d", person_id, name, method.value, event.seq)
        return Decision("checked_in", person_id, name, method, distance, box, event, "checked in")
