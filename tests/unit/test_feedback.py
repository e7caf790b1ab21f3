"""Decisions to lamps, buzzer and relay: which decisions signal, and how often (fake clock)."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest

from drivers.gpio import GpioUnavailable, GpiozeroSignals, NoSignals
from drivers.gpio.base import Signals
from terminal.checkin.decisions import Decision
from terminal.config.ui import GpioSection
from terminal.output.feedback import Feedback, build_signals


class Recorder(Signals):
    """Remembers the signals given, in order."""

    def __init__(self) -> None:
        self.given: list[str] = []
        self.closed = False

    def success(self) -> None:
        self.given.append("success")

    def repeat(self) -> None:
        self.given.append("repeat")

    def failure(self) -> None:
        self.given.append("failure")

    def prompt(self) -> None:
        self.given.append("prompt")

    def close(self) -> None:
        self.closed = True


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signals() -> Recorder:
    return Recorder()


@pytest.fixture
def feedback(signals: Recorder, clock: Clock) -> Feedback:
    return Feedback(signals, clock)


def frames(feedback: Feedback, clock: Clock, decision: Decision, seconds: float, step: float):
    """Feed ``decision`` every ``step`` seconds for ``seconds``; the signals given."""
    given = []
    end = clock.now + seconds
    while clock.now < end - 1e-9:
        given.append(feedback.on_decision(decision))
        clock.now += step
    return [signal for signal in given if signal is not None]


def test_every_check_in_is_a_success(feedback, signals):
    for person in ("p1", "p2", "p1"):
        assert feedback.on_decision(Decision("checked_in", person)) == "success"
    assert signals.given == ["success"] * 3


def test_a_refusal_held_up_signals_once_per_three_seconds(feedback, clock, signals):
    refused = Decision("refused", "p1", reason="code_used")
    assert frames(feedback, clock, refused, seconds=2.9, step=0.1) == ["failure"]
    clock.now += 0.2
    assert feedback.on_decision(refused) == "failure"
    assert feedback.on_decision(Decision("refused", "p1", reason="face_mismatch")) == "failure"
    assert feedback.on_decision(Decision("refused", "p2", reason="code_used")) == "failure"
    assert signals.given == ["failure"] * 4


def test_repeats_signal_once_per_person_whatever_the_seconds_in_the_reason(feedback, clock):
    given = []
    for second in range(12):
        reason = f"already checked in {second} s ago"
        given.append(feedback.on_decision(Decision("repeat", "p1", reason=reason)))
        clock.now += 1.0
    assert given == ["repeat", *[None] * 4, "repeat", *[None] * 4, "repeat", None]


def test_the_repeats_right_after_a_check_in_are_quiet(feedback, clock, signals):
    feedback.on_decision(Decision("checked_in", "p1"))
    repeat = Decision("repeat", "p1", reason="already checked in 0 s ago")
    assert frames(feedback, clock, repeat, seconds=4.9, step=0.1) == []
    assert signals.given == ["success"]


def test_prompts_once_per_person_and_request(feedback, clock):
    turn = Decision("challenge", "p1", reason="turn_left")
    assert frames(feedback, clock, turn, seconds=2.9, step=0.1) == ["prompt"]
    assert feedback.on_decision(Decision("paired", "p1", reason="look_now")) == "prompt"
    assert feedback.on_decision(Decision("paired", "p1", reason="look_now")) is None
    clock.now += 3.0
    assert feedback.on_decision(Decision("paired", "p1", reason="look_now")) == "prompt"


def test_quality_hints_never_beep(feedback, clock, signals):
    for hint in ("center_face", "move_closer", "hold_still", "look_at_camera"):
        assert frames(feedback, clock, Decision("adjust", reason=hint), seconds=4, step=0.1) == []
    assert signals.given == []


def test_pending_is_silent(feedback, signals):
    assert feedback.on_decision(Decision("pending", "p1", reason="confirming")) is None
    assert signals.given == []


def test_an_unknown_face_fails_only_when_it_stays(feedback, clock, signals):
    unknown = Decision("unknown", reason="no match")
    assert frames(feedback, clock, unknown, seconds=0.5, step=0.1) == []  # a passer-by
    clock.now += 2.0  # gone for a while: the next sighting starts over
    given = [feedback.on_decision(unknown) for _ in range(1)]
    assert given == [None]
    clock.now += 0.1
    assert frames(feedback, clock, unknown, seconds=0.85, step=0.1) == []
    assert frames(feedback, clock, unknown, seconds=5.0, step=0.1) == ["failure"]
    assert frames(feedback, clock, unknown, seconds=0.5, step=0.1) == ["failure"]
    assert signals.given == ["failure", "failure"]


def test_a_success_holds_against_prompts_repeats_and_strangers_not_refusals(feedback, clock):
    feedback.on_decision(Decision("checked_in", "p1"))
    clock.now += 0.5
    assert feedback.on_decision(Decision("challenge", "p4", reason="turn_left")) is None
    assert feedback.on_decision(Decision("repeat", "p2", reason="already")) is None
    assert frames(feedback, clock, Decision("unknown"), seconds=1.4, step=0.1) == []
    assert feedback.on_decision(Decision("refused", "p3", reason="code_used")) == "failure"
    clock.now += 0.2  # 2.1 s after the success
    assert feedback.on_decision(Decision("challenge", "p4", reason="turn_left")) == "prompt"


def test_one_frame_signals_its_most_important_decision(feedback, signals):
    frame = [
        Decision("adjust", reason="center_face"),
        Decision("pending", "p2"),
        Decision("checked_in", "p1"),
        Decision("refused", "p3", reason="code_used"),
    ]
    assert feedback.on_decisions(frame) == "success"
    assert feedback.on_decisions([Decision("pending", "p2")]) is None
    assert signals.given == ["success"]


def enrollment(kind: str, person: str = "p1", reason: str = "") -> Decision:
    """A face enrollment's decision (``enrolling``, ``enrolled``: kinds the pipeline's
    ``DecisionKind`` may not list yet)."""
    return Decision(cast(Any, kind), person, "Li Si", reason=reason)


def test_an_enrollment_is_a_prompt_once_and_its_steps_are_quiet(feedback, clock, signals):
    for step in ("1/5", "2/5", "3/5", "4/5", "5/5"):
        assert frames(feedback, clock, enrollment("enrolling", reason=step), 1.0, 0.1) == []
    done = enrollment("enrolled", reason="enrolled")
    # A prompt, not a success: an enrollment is no check-in and opens no door.
    assert frames(feedback, clock, done, seconds=1.0, step=0.1) == ["prompt"]
    assert feedback.on_decision(enrollment("enrolled", "p2", reason="enrolled")) == "prompt"
    assert signals.given == ["prompt", "prompt"]


@pytest.mark.parametrize(
    "reason", ["enrollment_expired", "enrollment_failed", "enroll_code_not_here"]
)
def test_an_enrollment_refusal_is_a_failure(feedback, signals, reason):
    assert feedback.on_decision(Decision("refused", None, reason=reason)) == "failure"
    assert signals.given == ["failure"]


def test_an_enrollment_in_one_frame_outranks_a_refusal(feedback):
    frame = [Decision("refused", "p3", reason="code_used"), enrollment("enrolled")]
    assert feedback.on_decisions(frame) == "prompt"


def test_close_closes_the_signals(feedback, signals):
    feedback.close()
    assert signals.closed


def test_build_signals_without_pins_is_no_signals():
    assert isinstance(build_signals(GpioSection()), NoSignals)
    assert isinstance(build_signals(GpioSection(pin_factory="lgpio")), NoSignals)


def test_build_signals_claims_the_configured_pins():
    gpio = GpioSection(green_led="GPIO17", relay="GPIO23", relay_pulse_s=0.05, pin_factory="mock")
    signals = build_signals(gpio)
    try:
        assert isinstance(signals, GpiozeroSignals)
        assert set(signals.outputs) == {"green", "relay"}
        relay = signals.outputs["relay"].pin
        start = len(relay.states)
        Feedback(signals).on_decision(Decision("checked_in", "p1"))
        deadline = time.monotonic() + 10
        while len(relay.states) < start + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [change.state for change in relay.states[start:]] == [True, False]
    finally:
        signals.close()


def test_build_signals_names_a_bad_pin():
    with pytest.raises(GpioUnavailable, match="'GPIO99' for the buzzer"):
        build_signals(GpioSection(buzzer="GPIO99", pin_factory="mock"))
