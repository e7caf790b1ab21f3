"""Which gpiozero pin factory drives the pins when none is named, and the line when none starts.

Stand-in factories take the place of lgpio, RPi.GPIO and the native one (none of them can start
on this machine, which has no GPIO); gpiozero's MockFactory drives the pins. No Raspberry Pi was
at hand: that lgpio really drives a Pi 4's and a Pi 5's pins is not tested here.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio import GpioUnavailable, GpiozeroSignals
from drivers.gpio import gpiozero_signals as module
from drivers.gpio.gpiozero_signals import choose_pin_factory, is_pi5

HERE = __name__


class Works:
    made: ClassVar[list[Works]] = []

    def __init__(self) -> None:
        Works.made.append(self)


class NoModule:
    def __init__(self) -> None:
        raise ImportError("No module named 'lgpio'")


class NoBoard:
    def __init__(self) -> None:
        raise OSError("unable to locate Pi revision in /proc/device-tree or /proc/cpuinfo")


class NoWorkingDirectory:
    def __init__(self) -> None:
        raise FileNotFoundError("[Errno 2] No such file or directory: '.lgd-nfy-3'")


class ClosingMock(MockFactory):
    closed: ClassVar[int] = 0

    def close(self) -> None:
        ClosingMock.closed += 1
        super().close()


@pytest.fixture
def factories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Stand-in factories under gpiozero's names; one /dev/gpiochip0 the kiosk may open."""
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    monkeypatch.setattr(
        module,
        "PIN_FACTORIES",
        {
            "lgpio": f"{HERE}:NoModule",
            "rpigpio": f"{HERE}:NoBoard",
            "native": f"{HERE}:Works",
            "nocwd": f"{HERE}:NoWorkingDirectory",
            "mock": f"{HERE}:ClosingMock",
        },
    )
    monkeypatch.setattr(module, "is_pi5", lambda: False)
    chip = tmp_path / "gpiochip0"
    chip.touch()
    monkeypatch.setattr(module, "_gpiochips", lambda: [chip])
    Works.made = []
    ClosingMock.closed = 0
    return chip


def test_the_first_factory_that_starts_is_chosen(factories):
    factory = choose_pin_factory()
    assert isinstance(factory, Works) and Works.made == [factory]


def test_none_starting_is_one_line_with_each_reason_and_the_apt_package(factories):
    with pytest.raises(GpioUnavailable) as raised:
        choose_pin_factory(["lgpio", "rpigpio"])
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(
        "no GPIO pin factory starts here (lgpio: No module named 'lgpio'; rpigpio: unable to"
        " locate Pi revision"
    )
    assert "sudo apt install python3-lgpio" in message
    assert "--system-site-packages" in message and "pip install lgpio" in message
    assert "adafruit-lgpio" in message


def test_a_gpiochip_the_kiosk_may_not_open_is_named(factories, monkeypatch):
    monkeypatch.setattr(module.os, "access", lambda path, mode: False)
    with pytest.raises(GpioUnavailable, match=r"gpiochip0: permission denied: .* gpio group"):
        choose_pin_factory(["lgpio"])


def test_lgpio_without_a_writable_working_directory_says_so(factories):
    with pytest.raises(GpioUnavailable, match="lgpio needs a writable working directory"):
        choose_pin_factory(["nocwd"])


def test_a_machine_without_gpio_says_so_not_what_to_install(factories, monkeypatch):
    monkeypatch.setattr(module, "_gpiochips", lambda: [])
    with pytest.raises(GpioUnavailable) as raised:
        choose_pin_factory(["lgpio"])
    message = str(raised.value)
    assert "this machine has no GPIO" in message and "apt install" not in message


def test_a_pi5_tries_lgpio_only(factories, monkeypatch):
    monkeypatch.setattr(module, "is_pi5", lambda: True)
    with pytest.raises(GpioUnavailable) as raised:
        choose_pin_factory()  # native would "start" here: it must not be tried on a Pi 5
    assert "(lgpio: No module named 'lgpio');" in str(raised.value)
    assert Works.made == []


def test_gpiozero_pin_factory_in_the_environment_names_the_factory(factories, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    assert isinstance(choose_pin_factory(), ClosingMock)


def test_is_pi5_reads_the_device_tree(tmp_path: Path):
    compatible = tmp_path / "compatible"
    compatible.write_bytes(b"raspberrypi,5-model-b\x00brcm,bcm2712\x00")
    assert is_pi5(compatible)
    compatible.write_bytes(b"raspberrypi,4-model-b\x00brcm,bcm2711\x00")
    assert not is_pi5(compatible)
    assert not is_pi5(tmp_path / "missing")


def test_signals_without_a_named_factory_use_the_chosen_one_and_close_it(factories, monkeypatch):
    monkeypatch.setattr(module, "AUTO_ORDER", ("lgpio", "mock"))
    signals = GpiozeroSignals(green_led="GPIO17", relay="GPIO23")
    assert isinstance(signals.pin_factory, ClosingMock)
    assert set(signals.outputs) == {"green", "relay"}
    signals.close()
    signals.close()
    assert ClosingMock.closed == 1


def test_a_factory_given_by_the_caller_is_left_open(factories):
    factory = ClosingMock()
    GpiozeroSignals(green_led="GPIO17", pin_factory=factory).close()
    assert ClosingMock.closed == 0
    factory.close()


def test_signals_on_a_machine_where_nothing_starts_fail_in_one_line(factories, monkeypatch):
    monkeypatch.setattr(module, "AUTO_ORDER", ("lgpio", "rpigpio"))
    with pytest.raises(GpioUnavailable, match="python3-lgpio"):
        GpiozeroSignals(green_led="GPIO17")
