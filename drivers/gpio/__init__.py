"""Feedback outputs on GPIO pins: lamps, a buzzer and a door relay (``base.Signals``)."""

from drivers.gpio.base import GpioUnavailable, NoSignals, Signals
from drivers.gpio.gpiozero_signals import PIN_FACTORIES, GpiozeroSignals

__all__ = ["PIN_FACTORIES", "GpioUnavailable", "GpiozeroSignals", "NoSignals", "Signals"]
