"""The ``[ui]`` and ``[gpio]`` sections: the screen, sounds, lamps, buzzer and door relay."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from terminal.config.base import Section as _Section


class UiSection(_Section):
    """The kiosk screen: a page the daemon serves to Chromium in kiosk mode."""

    enabled: bool = Field(True, description="Serve the kiosk page.")
    listen: str = Field(
        "127.0.0.1:8080",
        description="host:port the page is served on; keep it on loopback unless the screen is"
        " another machine (the page shows names and the camera view).",
    )
    max_stream_clients: int = Field(
        16,
        ge=1,
        le=256,
        strict=True,
        description="Most page streams served at once (the event stream and the live view;"
        " a screen uses two); more are refused with 503 and Retry-After, and the page retries.",
    )
    max_connections: int = Field(
        64,
        ge=2,
        le=1024,
        strict=True,
        description="Most connections to the page server at once (streams, page loads, idle"
        " ones); more are answered 503 and closed at once. Keep it well under the service's"
        " LimitNOFILE.",
    )
    preview: bool = Field(True, description="Show the live camera view with the face boxes.")
    preview_fps: float = Field(
        8.0, gt=0, le=30, description="Largest frame rate of the live view (JPEG-encoded)."
    )
    preview_width: int = Field(
        480, ge=160, le=1920, description="Width the live view is scaled to before encoding."
    )
    result_hold_s: float = Field(
        4.0, gt=0.5, le=60, description="Seconds a result stays on screen before the idle screen."
    )
    sounds: bool = Field(True, description="A short tone for success and another for failure.")
    spoken_prompts: bool = Field(
        False,
        description="Also speak the result and requests (the browser's speech synthesis; on a"
        " Pi it needs speech-dispatcher and a voice for the language).",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_direction(cls, data: Any) -> Any:
        if isinstance(data, dict) and "direction" in data:
            raise ValueError(
                '[ui] direction was removed: set [attendance] direction = "in", "out" or'
                ' "auto"; the screen\'s title follows it'
            )
        return data

    @model_validator(mode="after")
    def _streams_fit(self) -> UiSection:
        if self.max_stream_clients >= self.max_connections:
            raise ValueError(
                "max_stream_clients must be below max_connections (the page itself needs"
                " connections besides its streams)"
            )
        return self

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value


class GpioSection(_Section):
    """Lamps, buzzer and a door or turnstile relay on GPIO pins (gpiozero); all off unless set."""

    green_led: str | None = Field(
        None, description="Pin of the green lamp (gpiozero pin name: 'GPIO17', 'BOARD11', 17)."
    )
    red_led: str | None = Field(None, description="Pin of the red lamp.")
    buzzer: str | None = Field(None, description="Pin of an active buzzer.")
    relay: str | None = Field(
        None, description="Pin of the door or turnstile relay, pulsed on a successful check-in."
    )
    relay_active_high: bool = Field(True, description="The relay closes when the pin is high.")
    relay_pulse_s: float = Field(
        1.0, gt=0, le=30, description="Seconds the relay stays closed on success."
    )
    lamp_s: float = Field(1.5, gt=0, le=30, description="Seconds a lamp stays lit.")
    pin_factory: str | None = Field(
        None,
        description="gpiozero pin factory ('lgpio', 'rpigpio', 'pigpio', 'native', 'mock');"
        " default: GPIOZERO_PIN_FACTORY if set, else the first that starts of lgpio, rpigpio"
        " and native (on a Pi 5 only lgpio).",
    )
