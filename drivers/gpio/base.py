"""The feedback interface: what the kiosk's lamps, buzzer and door relay signal.

A terminal signals four things, the same kinds as the screen's results
(:data:`drivers.display.base.ResultKind`): a check-in (``success``: green lamp, one beep, the
door relay pulsed), an earlier check-in seen again (``repeat``: green lamp briefly), a refusal
(``failure``: red lamp, two beeps, never the door) and a request to do something (``prompt``:
one short beep). Every method returns at once: the patterns run in the background and a new
signal replaces the lamps and buzzer of one still running.

This package imports nothing from ``terminal``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class GpioUnavailable(Exception):
    """A configured pin or the pin factory cannot be used (wrong name, pin busy, no GPIO)."""


class Signals(ABC):
    """Feedback outputs; every method returns at once and never raises for a busy output."""

    @abstractmethod
    def success(self) -> None:
        """Checked in: green lamp, one short beep, the door relay pulsed."""

    @abstractmethod
    def repeat(self) -> None:
        """Already checked in: green lamp briefly; no beep, no door."""

    @abstractmethod
    def failure(self) -> None:
        """Not checked in: red lamp, two short beeps; the door stays shut."""

    @abstractmethod
    def prompt(self) -> None:
        """The person must do something (turn the head, show the code): one short beep."""

    @abstractmethod
    def close(self) -> None:
        """Switch every output off (the door relay open) and release the pins; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class NoSignals(Signals):
    """No lamps, buzzer or relay configured: every signal is accepted and dropped."""

    def success(self) -> None:
        """Dropped."""

    def repeat(self) -> None:
        """Dropped."""

    def failure(self) -> None:
        """Dropped."""

    def prompt(self) -> None:
        """Dropped."""

    def close(self) -> None:
        """Nothing to close."""
