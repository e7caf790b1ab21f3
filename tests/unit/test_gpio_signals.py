"""The gpiozero feedback outputs on gpiozero's mock pins: which levels each signal produces.

Only sequences of pin states are asserted, never durations; background patterns are awaited by
polling with a generous deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio import GpioUnavailable, GpiozeroSignals, NoSignals
from drivers.gpio.base import Signals

PINS = {"green_led": "GPIO17", "red_led": "GPIO27", "buzzer": "GPIO22", "relay": "GPIO23"}
DEADLINE_S = 10.0


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    made = MockFactory()
    yield made
    made.close()


@pytest.fixture
def make(factory: MockFactory) -> Iterator[Callable[..., GpiozeroSignals]]:
    built: list[GpiozeroSignals] = []

    def build(**options: Any) -> GpiozeroSignals:
        arguments: dict[str, Any] = {**PINS, "relay_pulse_s": 0.05, "lamp_s": 0.05}
        arguments.update(options)
        signals = GpiozeroSignals(**arguments, pin_factory=factory)
        built.append(signals)
        return signals

    yield build
    for signals in built:
        signals.close()


class History:
    """Pin levels recorded after a starting point (the mock's initial level is not asserted)."""

    def __init__(self, signals: GpiozeroSignals) -> None:
        self.pins = {role: device.pin for role, device in signals.outputs.items()}
        self.start = {role: len(pin.states) for role, pin in self.pins.items()}

    def __call__(self, role: str) -> list[bool]:
        pin = self.pins[role]
        return [bool(change.state) for change in pin.states[self.start[role] :]]

    def wait(self, role: str, expected: list[bool]) -> list[bool]:
        """The levels once they equal ``expected`` or the deadline passed."""
        deadline = time.monotonic() + DEADLINE_S
        while self(role) != expected and time.monotonic() < deadline:
            time.sleep(0.01)
        return self(role)


def test_success_lights_green_beeps_once_and_pulses_the_relay(make):
    signals = make()
    seen = History(signals)
    signals.success()
    assert seen.wait("green", [True, False]) == [True, False]
    assert seen.wait("buzzer", [True, False]) == [True, False]
    assert seen.wait("relay", [True, False]) == [True, False]
    assert seen("red") == []
    assert signals.outputs["relay"].value == 0


def test_an_active_low_relay_is_pulsed_low(make):
    signals = make(relay_active_high=False)
    assert signals.outputs["relay"].pin.state  # open: high
    seen = History(signals)
    signals.success()
    assert seen.wait("relay", [False, True]) == [False, True]


def test_failure_lights_red_beeps_twice_and_never_touches_the_relay(make):
    signals = make()
    seen = History(signals)
    signals.failure()
    assert seen.wait("red", [True, False]) == [True, False]
    assert seen.wait("buzzer", [True, False, True, False]) == [True, False, True, False]
    assert seen("relay") == []
    assert seen("green") == []


def test_repeat_lights_green_only(make):
    signals = make()
    seen = History(signals)
    signals.repeat()
    assert seen.wait("green", [True, False]) == [True, False]
    assert seen("buzzer") == [] and seen("relay") == [] and seen("red") == []


def test_prompt_beeps_once_only(make):
    signals = make()
    seen = History(signals)
    signals.prompt()
    assert seen.wait("buzzer", [True, False]) == [True, False]
    assert seen("green") == [] and seen("red") == [] and seen("relay") == []


def test_failure_replaces_the_green_lamp_but_not_the_door_pulse(make):
    signals = make(lamp_s=30, relay_pulse_s=30)
    seen = History(signals)
    signals.success()
    assert seen.wait("relay", [True]) == [True]
    signals.failure()
    assert seen("green") == [True, False]  # switched off at once, not after 30 s
    assert seen.wait("red", [True]) == [True]
    assert seen("relay") == [True]  # the person just checked in still gets through
    signals.close()
    assert seen("relay") == [True, False]


@pytest.mark.parametrize("active_high", [True, False])
def test_close_opens_the_relay_and_switches_everything_off(make, active_high):
    signals = make(lamp_s=30, relay_pulse_s=30, relay_active_high=active_high)
    pins = {role: device.pin for role, device in signals.outputs.items()}
    seen = History(signals)
    signals.success()
    assert seen.wait("relay", [active_high]) == [active_high]
    signals.close()
    assert seen("relay") == [active_high, not active_high]
    assert pins["relay"].state == (not active_high)
    for role in ("green", "red", "buzzer"):
        assert not pins[role].state, role
    assert signals.outputs == {}
    signals.success()  # closed: ignored, nothing raised
    signals.close()  # idempotent
    assert seen("relay") == [active_high, not active_high]


def test_an_error_while_pulsing_leaves_the_relay_open(make, caplog):
    signals = make(relay_pulse_s=30)
    relay = signals.outputs["relay"]
    seen = History(signals)

    def broken_blink(**_: Any) -> None:
        relay.on()
        raise RuntimeError("pin went away")

    relay.blink = broken_blink
    signals.success()  # logged, not raised
    assert seen("relay") == [True, False]
    assert "pin went away" in caplog.text


def test_unconfigured_pins_are_not_claimed(factory):
    with GpiozeroSignals(green_led="GPIO17", pin_factory=factory) as signals:
        assert set(signals.outputs) == {"green"}
        assert [info.name for info in factory.pins] == ["GPIO17"]
        for signal in (signals.success, signals.repeat, signals.failure, signals.prompt):
            signal()


def test_no_pins_needs_no_pin_factory():
    signals = GpiozeroSignals(pin_factory="no-such-factory")
    assert signals.outputs == {}
    signals.success()
    signals.close()


def test_a_bad_pin_name_is_one_line_naming_the_pin_and_releases_the_others(factory):
    with pytest.raises(GpioUnavailable) as raised:
        GpiozeroSignals("GPIO17", "GPIO27", buzzer="BOARD99", pin_factory=factory)
    message = str(raised.value)
    assert "'BOARD99'" in message and "buzzer" in message and "\n" not in message
    GpiozeroSignals("GPIO17", "GPIO27", pin_factory=factory).close()  # released again


def test_one_pin_for_two_outputs_is_refused(factory):
    with pytest.raises(GpioUnavailable, match="'GPIO17' for the red lamp"):
        GpiozeroSignals("GPIO17", "GPIO17", pin_factory=factory)


def test_pin_factories_by_name():
    with pytest.raises(GpioUnavailable, match="unknown GPIO pin factory 'gpio9'"):
        GpiozeroSignals("GPIO17", pin_factory="gpio9")
    with GpiozeroSignals("GPIO17", relay="GPIO23", pin_factory="mock") as signals:
        assert set(signals.outputs) == {"green", "relay"}


def test_no_signals_accepts_everything():
    signals: Signals = NoSignals()
    for signal in (signals.success, signals.repeat, signals.failure, signals.prompt):
        signal()
    signals.close()
