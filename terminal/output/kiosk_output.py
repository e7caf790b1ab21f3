"""Everything the kiosk tells the person in front of it: log lines, the screen, lamps and sounds.

The capture loop hands every frame's decisions to :meth:`KioskOutput.decided` and, about once a
second, its state to :meth:`KioskOutput.tick`. Nothing here blocks: the screen
(:mod:`drivers.display`) and the GPIO signals (:mod:`drivers.gpio`) return at once, and a screen
that fails to start leaves a kiosk that still checks people in (it is logged, and ``kiosk
doctor`` and the systemd status say so).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from drivers.display.base import BoxState, Display, DisplayUnavailable, NullDisplay
from drivers.gpio.base import GpioUnavailable, NoSignals, Signals
from terminal.checkin.decisions import Decision
from terminal.config import Config
from terminal.output.announcements import Language, announce, is_phrase
from terminal.output.feedback import Feedback, build_signals
from terminal.output.screen import ScreenFeed, checkin_sentence, status_view

log = logging.getLogger(__name__)

HINT_AGAIN_S = 5.0
BOX_STATES: dict[str, BoxState] = {
    "checked_in": "ok",
    "repeat": "ok",
    "refused": "refused",
    "pending": "checking",
    "challenge": "checking",
    "paired": "checking",
    "enrolling": "checking",
    "enrolled": "ok",
}
"""The colour of a face's box in the live view by its decision; any other (``unknown``,
``adjust``: seen, nothing decided) is ``tracking``. A face enrollment's capture is
``checking`` (amber), its end ``ok`` (green)."""
SHOW_CODE_FIRST = "show_code_first"
STATUS_EVERY_S = 1.0


def build_display(config: Config) -> Display:
    """The configured screen: the web page (``[ui] enabled``) or none."""
    if not config.ui.enabled:
        return NullDisplay()
    from drivers.display.web import WebDisplay  # aiohttp is imported only when it is used

    ui = config.ui
    return WebDisplay(
        ui.listen,
        preview_fps=ui.preview_fps if ui.preview else 0.0,
        preview_width=ui.preview_width,
        sounds=ui.sounds,
        spoken_prompts=ui.spoken_prompts,
        max_stream_clients=ui.max_stream_clients,
        max_connections=ui.max_connections,
        language=config.terminal.language,
        labels=status_view(config, None, 0, True, True).labels,
    )


def _signals(config: Config) -> Signals:
    """The configured lamps, buzzer and relay; pins that cannot be used are an error in the log
    and the systemd status, and the kiosk goes on checking people in without them."""
    try:
        return build_signals(config.gpio)
    except GpioUnavailable as exc:
        log.error("GPIO signals off: %s", exc)
        return NoSignals()


class KioskOutput:
    """Says, shows and signals the decisions; shows the status and the camera view."""

    def __init__(
        self,
        config: Config,
        display: Display | None = None,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        self.config = config
        self.language: Language = config.terminal.language
        self.display = display if display is not None else build_display(config)
        self.feed = ScreenFeed(config)
        self.feedback = Feedback(_signals(config))
        self.on_decision = on_decision
        self._asked: tuple[str | None, str] | None = None
        self._hinted_at = float("-inf")
        self._enrollment: tuple[str | None, str, str] | None = None
        """The face enrollment step said last (person, kind, progress)."""
        self._status_at = float("-inf")

    def start(self) -> None:
        """Start the screen; a screen that cannot start is logged, never fatal."""
        try:
            self.display.start()
        except DisplayUnavailable as exc:
            log.error("kiosk screen not available: %s; checking in without it", exc)
            self.display = NullDisplay()

    def decided(self, decisions: list[Decision], image: np.ndarray | None = None) -> None:
        """One frame's decisions: logged, shown, signalled; ``image`` feeds the live view. The
        frame itself tells the screen that the camera works (``Display.frame_arrived``)."""
        self.display.frame_arrived()
        for decision in decisions:
            self._say(decision)
            view = self.feed.on_decision(decision)
            if view is not None:
                self.display.show(view)
            if self.on_decision is not None:
                self.on_decision(decision)
        self.feedback.on_decisions(decisions)
        if image is not None and self.config.ui.preview and self.display.wants_preview():
            boxed = [d for d in decisions if d.box is not None]
            faces = [d.box for d in boxed if d.box is not None]
            states = [BOX_STATES.get(d.kind, "tracking") for d in boxed]
            self.display.preview(image, faces, states)

    def tick(self, online: bool | None, backlog: int, clock_synced: bool, camera_ok: bool) -> None:
        """The kiosk's state, shown at most every :data:`STATUS_EVERY_S` (camera changes at
        once)."""
        now = time.monotonic()
        if now - self._status_at < STATUS_EVERY_S and camera_ok:
            return
        self._status_at = now
        self.display.status(status_view(self.config, online, backlog, clock_synced, camera_ok))

    def status_due(self) -> bool:
        """Whether :meth:`tick` would show anything now (spares the caller the counting)."""
        return time.monotonic() - self._status_at >= STATUS_EVERY_S

    def close(self) -> None:
        """Switch the lamps and relay off and stop the screen."""
        self.feedback.close()
        self.display.close()

    def _say(self, decision: Decision) -> None:
        language = self.language
        if decision.kind == "checked_in" and decision.event is not None:
            # Repeats and refusals come every frame while someone stands there; the
            # pipeline logs those itself, throttled.
            # The same sentence the screen shows and speaks (Entered: <session>, Checked out...).
            name = decision.name or decision.person_id or ""
            event = decision.event
            log.info("%s", checkin_sentence(event, decision.session_title, name, language))
        kind: str = decision.kind  # also kinds the pipeline's DecisionKind may not list yet
        if kind in ("enrolling", "enrolled"):
            self._say_enrollment(decision)
        elif decision.kind == "challenge":
            self._say_request(decision)
        elif decision.reason == SHOW_CODE_FIRST:
            self._say_hint(decision)
        else:
            if decision.kind == "paired" or (
                decision.kind == "refused" and is_phrase(decision.reason)
            ):
                # Said as they come: the pipeline gives these once per code or pairing.
                name = decision.name or decision.person_id or ""
                log.info("%s", announce(decision.reason, language, name=name))
            if self._asked is not None and decision.person_id == self._asked[0]:
                self._asked = None

    def _say_request(self, decision: Decision) -> None:
        """Say a liveness request once (it comes with every frame until answered)."""
        asked = (decision.person_id, decision.reason)
        if asked != self._asked:
            name = decision.name or decision.person_id or ""
            log.info("%s", announce(decision.reason, self.language, name=name))
        self._asked = asked

    def _say_enrollment(self, decision: Decision) -> None:
        """Say a face enrollment's step once (it comes with every frame until the next) and
        its end."""
        step = (decision.person_id, decision.kind, decision.reason)
        if step != self._enrollment:
            name = decision.name or decision.person_id or ""
            log.info(
                "%s", announce(decision.kind, self.language, name=name, progress=decision.reason)
            )
        self._enrollment = step

    def _say_hint(self, decision: Decision) -> None:
        """Say a hint that comes with every frame of a face once, and again only after it
        has not come for :data:`HINT_AGAIN_S`."""
        now = time.monotonic()
        if now - self._hinted_at > HINT_AGAIN_S:
            log.info("%s", announce(decision.reason, self.language))
        self._hinted_at = now
