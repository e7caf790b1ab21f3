"""Feedback on GPIO pins through gpiozero: green and red lamps, an active buzzer, a door relay.

Only configured pins are claimed. Patterns run in gpiozero's background blink threads, so no
method sleeps. Lamps and buzzer belong to the newest signal (a failure right after a success
puts the green lamp out); the door relay is touched only by :meth:`success` (a new success
restarts the pulse) and by :meth:`close`, so a refusal for someone else cannot cut short the
door opened for the person just checked in. The relay is switched off before anything else on
:meth:`close`, and after any error while pulsing it.

Which pin factory drives the pins: the one named (``pin_factory``), else the first of
:data:`AUTO_ORDER` that starts on this machine (on a Pi 5 only lgpio: RPi.GPIO and gpiozero's
native factory cannot drive its RP1 chip). lgpio works on every Pi through ``/dev/gpiochip*``.
When none starts, :class:`~drivers.gpio.base.GpioUnavailable` says in one line what each said and
what to install (:data:`INSTALL_LGPIO`). Only the choice of factory is tested here (with
stand-in factories and gpiozero's ``MockFactory``); no Raspberry Pi was at hand.

gpiozero is imported when a terminal is built, not with this module.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drivers.gpio.base import GpioUnavailable, Signals

log = logging.getLogger(__name__)

PIN_FACTORIES = {
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
    "mock": "gpiozero.pins.mock:MockFactory",
}
"""gpiozero's pin factories by the names its ``GPIOZERO_PIN_FACTORY`` uses."""

AUTO_ORDER = ("lgpio", "rpigpio", "native")
"""Tried in this order when no factory is named (gpiozero's own order, less pigpio, which needs
its daemon running)."""
PI5_ORDER = ("lgpio",)
"""On a Pi 5: RPi.GPIO and the native factory drive the older chips' registers, not the RP1's."""

INSTALL_LGPIO = (
    "install lgpio: on Raspberry Pi OS `sudo apt install python3-lgpio` (the kiosk's venv must"
    " see system packages: python3 -m venv --system-site-packages), or into the venv"
    " `pip install lgpio` (Python 3.11, 3.12) or `pip install adafruit-lgpio` (3.13)"
)
DEVICE_TREE_COMPATIBLE = Path("/proc/device-tree/compatible")

ROLES = {"green": "green lamp", "red": "red lamp", "buzzer": "buzzer", "relay": "door relay"}

BEEP_S = 0.15
BEEP_GAP_S = 0.1
REPEAT_LAMP_S = 0.4


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def make_pin_factory(name: str) -> Any:
    """A new gpiozero pin factory by name (see :data:`PIN_FACTORIES`).

    Raises :class:`GpioUnavailable` for an unknown name or a factory that cannot start.
    """
    entry = PIN_FACTORIES.get(name.strip().lower())
    if entry is None:
        known = ", ".join(PIN_FACTORIES)
        raise GpioUnavailable(f"unknown GPIO pin factory {name!r} (known: {known})")
    module_name, class_name = entry.split(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)()
    except Exception as exc:  # ImportError, OSError, gpiozero's errors: all mean "not here"
        raise GpioUnavailable(f"GPIO pin factory {name!r} is not usable: {_one_line(exc)}") from exc


def is_pi5(compatible: Path = DEVICE_TREE_COMPATIBLE) -> bool:
    """Whether this machine is a Raspberry Pi 5 (BCM2712), from the device tree."""
    try:
        return b"brcm,bcm2712" in compatible.read_bytes()
    except OSError:
        return False


def choose_pin_factory(order: Sequence[str] | None = None) -> Any:
    """The first pin factory of ``order`` that starts here (see :data:`AUTO_ORDER`).

    ``GPIOZERO_PIN_FACTORY``, when set, names the factory instead. Raises
    :class:`GpioUnavailable` with one line (each factory's reason and what to install) when
    none starts.
    """
    named = os.environ.get("GPIOZERO_PIN_FACTORY", "").strip()
    if named:
        return make_pin_factory(named)
    if order is None:
        order = PI5_ORDER if is_pi5() else AUTO_ORDER
    reasons: list[str] = []
    for name in order:
        try:
            factory = make_pin_factory(name)
        except GpioUnavailable as exc:
            reason = _one_line(exc.__cause__) if exc.__cause__ is not None else str(exc)
            reasons.append(f"{name}: {_shorten(reason)}")
            continue
        log.info("GPIO pin factory: %s", name)
        return factory
    tried = "; ".join(reasons)
    if not _gpiochips():
        raise GpioUnavailable(
            f"no GPIO pin factory starts here ({tried}); no /dev/gpiochip*: this machine has no"
            " GPIO (leave the [gpio] pins unset)"
        )
    notes = _gpiochip_note()
    if any(".lgd-nfy" in reason for reason in reasons):
        notes += "; lgpio needs a writable working directory (kiosk.service: WorkingDirectory)"
    raise GpioUnavailable(f"no GPIO pin factory starts here ({tried}){notes}; {INSTALL_LGPIO}")


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _gpiochips(dev: Path = Path("/dev")) -> list[Path]:
    try:
        return sorted(dev.glob("gpiochip*"))
    except OSError:
        return []


def _gpiochip_note() -> str:
    """Why lgpio could not open the chips, when the devices say so ('' otherwise)."""
    blocked = [chip for chip in _gpiochips() if not os.access(chip, os.R_OK | os.W_OK)]
    if blocked:
        return (
            f"; {blocked[0]}: permission denied: the kiosk user needs the gpio group"
            " (systemd/kiosk.sysusers.conf, systemd/kiosk-gpio.rules)"
        )
    return ""


class GpiozeroSignals(Signals):
    """Lamps, buzzer and door relay on the given pins (None: not fitted).

    ``pin_factory`` is a factory name (:data:`PIN_FACTORIES`), a gpiozero factory object (a
    ``MockFactory()`` in tests) or None for the first that starts (:func:`choose_pin_factory`);
    a factory made here is closed with the signals. Raises
    :class:`GpioUnavailable`, naming the pin, when a pin or the factory cannot be used; pins
    claimed before the failing one are released again.
    """

    def __init__(
        self,
        green_led: str | None = None,
        red_led: str | None = None,
        buzzer: str | None = None,
        relay: str | None = None,
        *,
        relay_active_high: bool = True,
        relay_pulse_s: float = 1.0,
        lamp_s: float = 1.5,
        pin_factory: str | Any | None = None,
    ) -> None:
        if relay_pulse_s <= 0 or lamp_s <= 0:
            raise ValueError("relay_pulse_s and lamp_s must be positive")
        self.relay_pulse_s = relay_pulse_s
        self.lamp_s = lamp_s
        self._lock = threading.Lock()
        self._closed = False
        self.outputs: dict[str, Any] = {}
        """The claimed gpiozero devices by role: ``green``, ``red``, ``buzzer``, ``relay``."""
        self.pin_factory: Any = None
        """The gpiozero pin factory driving the pins (None while no pin is configured)."""
        self._owns_factory = False
        pins = {"green": green_led, "red": red_led, "buzzer": buzzer, "relay": relay}
        if not any(pins.values()):
            return
        try:
            import gpiozero
        except ImportError as exc:
            raise GpioUnavailable(f"gpiozero is not installed: {_one_line(exc)}") from exc
        if pin_factory is None:
            factory = choose_pin_factory()
        elif isinstance(pin_factory, str):
            factory = make_pin_factory(pin_factory)
        else:
            factory = pin_factory
        self.pin_factory = factory
        self._owns_factory = factory is not pin_factory
        kinds: dict[str, Callable[..., Any]] = {
            "green": gpiozero.LED,
            "red": gpiozero.LED,
            "buzzer": gpiozero.Buzzer,
            "relay": gpiozero.DigitalOutputDevice,
        }
        for role, pin in pins.items():
            if not pin:
                continue
            extra = {"active_high": relay_active_high} if role == "relay" else {}
            try:
                self.outputs[role] = kinds[role](
                    pin, initial_value=False, pin_factory=factory, **extra
                )
            except Exception as exc:
                self.close()
                label = ROLES[role]
                message = f"GPIO pin {pin!r} for the {label} is not usable: {_one_line(exc)}"
                raise GpioUnavailable(message) from exc

    def success(self) -> None:
        """Green lamp for ``lamp_s``, one beep, the relay closed for ``relay_pulse_s``."""
        self._signal("success", green=self.lamp_s, beeps=1, door=True)

    def repeat(self) -> None:
        """Green lamp briefly; no beep, the relay untouched."""
        self._signal("repeat", green=min(self.lamp_s, REPEAT_LAMP_S))

    def failure(self) -> None:
        """Red lamp for ``lamp_s`` and two beeps; the relay untouched."""
        self._signal("failure", red=self.lamp_s, beeps=2)

    def prompt(self) -> None:
        """One short beep; lamps out."""
        self._signal("prompt", beeps=1)

    def close(self) -> None:
        """Relay open first, then lamps and buzzer off; every pin released. Idempotent."""
        with self._lock:
            self._closed = True
            outputs, self.outputs = self.outputs, {}
            factory = self.pin_factory if self._owns_factory else None
            self._owns_factory = False
        for role in ("relay", "green", "red", "buzzer"):
            device = outputs.get(role)
            if device is None:
                continue
            try:
                device.off()
            except Exception as exc:
                log.error("could not switch the %s off: %s", ROLES[role], _one_line(exc))
            try:
                device.close()
            except Exception as exc:
                log.error("could not release the %s pin: %s", ROLES[role], _one_line(exc))
        if factory is not None:
            try:
                factory.close()
            except Exception as exc:
                log.error("could not close the GPIO pin factory: %s", _one_line(exc))

    def _signal(
        self, name: str, green: float = 0.0, red: float = 0.0, beeps: int = 0, door: bool = False
    ) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                # Lamp out before the other is lit: never both on for a moment.
                for role, seconds in (("green", green), ("red", red)):
                    if not seconds:
                        self._blink(role, 0.0, 0.0, 0)
                for role, seconds in (("green", green), ("red", red)):
                    if seconds:
                        self._blink(role, seconds, 0.0, 1)
                self._blink("buzzer", BEEP_S, BEEP_GAP_S, beeps)
                if door:
                    self._blink("relay", self.relay_pulse_s, 0.0, 1)
            except Exception as exc:
                log.error("GPIO %s signal failed: %s", name, _one_line(exc))
                if door:
                    self._relay_off()

    def _blink(self, role: str, on_s: float, off_s: float, times: int) -> None:
        device = self.outputs.get(role)
        if device is None:
            return
        if times <= 0:
            device.off()
        else:
            device.blink(on_time=on_s, off_time=off_s, n=times, background=True)

    def _relay_off(self) -> None:
        relay = self.outputs.get("relay")
        if relay is not None:
            try:
                relay.off()
            except Exception as exc:
                log.critical("could not open the door relay: %s", _one_line(exc))
