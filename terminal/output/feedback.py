"""The kiosk's lamps, buzzer and door relay: the pipeline's decisions as :class:`Signals`.

The pipeline decides about every frame, so most decisions arrive again and again while a
person stands there; :class:`Feedback` turns them into signals a person can follow:

=============================  ============  ================================================
decision                       signal        how often
=============================  ============  ================================================
``checked_in``                 success       every time (one per committed check-in)
``repeat``                     repeat        once per person per ``repeat_every_s`` (5 s)
``refused``                    failure       once per (person, reason) per ``refused_every_s``
                                             (3 s)
``challenge`` ``paired``       prompt        once per (person, reason) per ``prompt_every_s``
``adjust``                                   (3 s)
``unknown``                    failure       only after unknown faces were seen for
                                             ``unknown_after_s`` (1 s) without a gap, then at
                                             most once per ``unknown_every_s`` (5 s)
``pending``                    nothing       the face is still being confirmed
``enrolled``                   prompt        at most once per person per ``repeat_every_s``
                                             (not a success: it opens no door)
``enrolling``                  nothing       a face enrollment's capture in progress
=============================  ============  ================================================

A face enrollment's refusals (``refused``, reason ``enrollment_expired``...) are refusals.

``unknown`` is treated carefully because a face can be unknown for a frame or two before it is
recognised (far away, turned), and strangers pass by in the background: neither should flash
red. For ``success_hold_s`` (2 s) after a success only another success or a refusal replaces
its green lamp; repeats, prompts and unknown faces wait. The door relay itself is only ever
pulsed by a success (see :mod:`drivers.gpio`).

Times come from an injectable monotonic clock, so the limits are tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from drivers.gpio import GpiozeroSignals, NoSignals, Signals
from terminal.checkin.decisions import Decision
from terminal.config.ui import GpioSection

SignalName = str
"""``success``, ``repeat``, ``failure`` or ``prompt``."""

PROMPT_KINDS = frozenset({"challenge", "paired"})
"""Requests to the person beep; quality hints ("come closer") do not: in a hallway they would
beep at every passer-by."""
PRIORITY = {"checked_in": 5, "enrolled": 5, "refused": 4, "unknown": 3, "repeat": 2}
"""Which decision of one frame is signalled (prompts: 1, the rest: never)."""
UNKNOWN_GAP_S = 1.0
"""A pause longer than this between unknown faces starts a new sighting."""


class Feedback:
    """Signals the pipeline's decisions on ``signals``, rate-limited as the module describes."""

    def __init__(
        self,
        signals: Signals,
        clock: Callable[[], float] = time.monotonic,
        *,
        refused_every_s: float = 3.0,
        prompt_every_s: float = 3.0,
        repeat_every_s: float = 5.0,
        unknown_every_s: float = 5.0,
        unknown_after_s: float = 1.0,
        success_hold_s: float = 2.0,
    ) -> None:
        self.signals = signals
        self.clock = clock
        self.refused_every_s = refused_every_s
        self.prompt_every_s = prompt_every_s
        self.repeat_every_s = repeat_every_s
        self.unknown_every_s = unknown_every_s
        self.unknown_after_s = unknown_after_s
        self.success_hold_s = success_hold_s
        self._last: dict[tuple[str | None, ...], float] = {}
        self._success_at: float | None = None
        self._unknown_since: float | None = None
        self._unknown_seen: float | None = None

    def on_decisions(self, decisions: Iterable[Decision]) -> SignalName | None:
        """Signal the most important of one frame's decisions; the signal given, or None."""
        ranked = sorted(decisions, key=_priority, reverse=True)
        now = self.clock()
        for decision in ranked:
            given = self._decide(decision, now)
            if given is not None:
                return given
        return None

    def on_decision(self, decision: Decision) -> SignalName | None:
        """Signal one decision unless it was signalled lately; the signal given, or None."""
        return self._decide(decision, self.clock())

    def close(self) -> None:
        """Switch the outputs off and release them."""
        self.signals.close()

    def _decide(self, decision: Decision, now: float) -> SignalName | None:
        kind: str = decision.kind  # also kinds the pipeline's DecisionKind may not list yet
        person = decision.person_id
        if kind == "enrolled":
            # A prompt, not a success: an enrollment is no check-in and opens no door.
            return self._limited(
                ("enrolled", person), self.repeat_every_s, now, "prompt", holdable=False
            )
        if kind == "unknown":
            return self._unknown(now)
        if kind == "checked_in":
            self._success_at = now
            # The next frames report the person as a repeat: the success says it all.
            self._last[("repeat", person)] = now
            self._signal("success")
            return "success"
        if kind == "refused":
            key = ("refused", person, decision.reason)
            return self._limited(key, self.refused_every_s, now, "failure", holdable=False)
        if kind == "repeat":
            # Not by reason: a repeat's reason counts the seconds since the check-in.
            return self._limited(("repeat", person), self.repeat_every_s, now, "repeat")
        if kind in PROMPT_KINDS:
            key = ("prompt", person, decision.reason)
            return self._limited(key, self.prompt_every_s, now, "prompt")
        return None  # pending: still confirming; enrolling: capture in progress

    def _unknown(self, now: float) -> SignalName | None:
        seen = self._unknown_seen
        if seen is None or now - seen > UNKNOWN_GAP_S or now < seen:
            self._unknown_since = now
        self._unknown_seen = now
        assert self._unknown_since is not None
        if now - self._unknown_since < self.unknown_after_s:
            return None
        return self._limited(("unknown",), self.unknown_every_s, now, "failure")

    def _limited(
        self,
        key: tuple[str | None, ...],
        every_s: float,
        now: float,
        signal: SignalName,
        holdable: bool = True,
    ) -> SignalName | None:
        if holdable and self._held(now):
            return None
        last = self._last.get(key)
        if last is not None and 0 <= now - last < every_s:
            return None
        longest = max(
            self.refused_every_s, self.prompt_every_s, self.repeat_every_s, self.unknown_every_s
        )
        self._last = {k: t for k, t in self._last.items() if 0 <= now - t < longest}
        self._last[key] = now
        self._signal(signal)
        return signal

    def _held(self, now: float) -> bool:
        """Whether a success's lamp is still protected from lesser signals."""
        since = None if self._success_at is None else now - self._success_at
        return since is not None and 0 <= since < self.success_hold_s

    def _signal(self, signal: SignalName) -> None:
        getattr(self.signals, signal)()


def _priority(decision: Decision) -> int:
    if decision.kind in PROMPT_KINDS:
        return 1
    return PRIORITY.get(decision.kind, 0)


def build_signals(gpio: GpioSection) -> Signals:
    """The terminal's feedback outputs: :class:`NoSignals` when no pin is configured.

    Raises :class:`drivers.gpio.GpioUnavailable` (one line, naming the pin) when a configured
    pin or the pin factory cannot be used.
    """
    if not any((gpio.green_led, gpio.red_led, gpio.buzzer, gpio.relay)):
        return NoSignals()
    return GpiozeroSignals(
        gpio.green_led,
        gpio.red_led,
        gpio.buzzer,
        gpio.relay,
        relay_active_high=gpio.relay_active_high,
        relay_pulse_s=gpio.relay_pulse_s,
        lamp_s=gpio.lamp_s,
        pin_factory=gpio.pin_factory,
    )
