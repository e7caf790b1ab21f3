"""The display interface: the kiosk shows results, its status and the live camera view.

The daemon turns its decisions into :class:`ResultView` values and its state into
:class:`StatusView` values (every text already in the kiosk's language, from the one catalogue
in ``terminal/output/announcements.py``), and hands frames to :meth:`Display.preview`. A display
only
renders what it is given: it never decides, and it never blocks the capture loop (every method
returns at once; a slow or absent screen loses frames, never check-ins).

This package imports nothing from ``terminal``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Box = tuple[int, int, int, int]
"""A face box in frame pixels: top, right, bottom, left (as :mod:`drivers.face`)."""

ResultKind = Literal["success", "repeat", "refused", "prompt"]
"""success: checked in; repeat: already checked in; refused: not checked in, and why; prompt:
the person must do something (come closer, turn the head, show the code first...)."""

Icon = Literal["ok", "info", "warn", "error"]
Sound = Literal["success", "failure", "prompt", "none"]
Arrow = Literal["left", "right"]
"""A head-turn request's arrow: toward the person's own left or right as they face the screen
(the screen's left is their left; the live view is the camera's unmirrored picture, in which a
head turned to the person's left turns toward the picture's right edge: the arrow follows the
person, not the picture)."""
BoxState = Literal["tracking", "checking", "ok", "refused"]
"""What the kiosk makes of a face in the live view, shown as its box's colour: ``tracking`` a
face seen but not (yet) recognised or not fit to recognise (neutral), ``checking`` a recognised
face being confirmed or asked to turn (amber), ``ok`` checked in or already checked in (green),
``refused`` refused, e.g. as a photo or video (red)."""


@dataclass(frozen=True)
class ResultView:
    """One thing to tell the person, large, for ``hold_s`` seconds (then the idle screen)."""

    kind: ResultKind
    title: str
    """The main line: "签到成功" / "Checked in", or the refusal / request sentence."""
    name: str | None = None
    """The person's name, when known (rendered in a CJK-capable font)."""
    detail: str = ""
    """The second line: the time of the check-in, or what to do."""
    icon: Icon = "info"
    sound: Sound = "none"
    speak: str | None = None
    """A sentence to speak (when spoken prompts are on), else None."""
    hold_s: float = 4.0
    decided_at: float = 0.0
    """Wall-clock time (``time.time()``) the kiosk decided; the page reports how long it took
    to show it (:meth:`Display.latencies`)."""
    sequence: int = 0
    """Increases with every result, so the page can tell a new result from a repeat."""
    arrow: Arrow | None = None
    """A head-turn request: the big arrow to show (see :data:`Arrow`), else None; ``detail``
    then holds the same arrow as text (← or →), which the page draws big in its place."""


@dataclass(frozen=True)
class StatusView:
    """The always-visible status line and the idle screen's texts."""

    online: bool | None
    """Connected to the broker; None: offline-only (no [mqtt] section)."""
    backlog: int
    """Check-ins committed but not yet acknowledged by the central system."""
    clock_synced: bool
    camera_ok: bool
    labels: dict[str, str] = field(default_factory=dict)
    """Texts in the kiosk's language, by key: ``idle`` (what to do), ``online``, ``offline``,
    ``offline_only``, ``backlog`` (with ``{count}``), ``clock``, ``camera``, ``title``,
    ``notice`` (the face-recognition notice, small at the bottom of the idle screen; empty or
    absent: none shown)."""
    language: str = "zh"
    terminal_id: str = ""
    site: str = ""


class DisplayUnavailable(Exception):
    """The display cannot start (e.g. the listen address is taken)."""


class Display(ABC):
    """Somewhere the kiosk shows results; every method returns at once."""

    @abstractmethod
    def start(self) -> None:
        """Start showing (serve the page); raise :class:`DisplayUnavailable` if it cannot."""

    @abstractmethod
    def show(self, view: ResultView) -> None:
        """Show a result now (replacing the one on screen)."""

    @abstractmethod
    def status(self, view: StatusView) -> None:
        """Update the status line and the idle texts (called about once a second)."""

    @abstractmethod
    def preview(
        self, image: np.ndarray, faces: list[Box], states: list[BoxState] | None = None
    ) -> None:
        """Offer a BGR camera frame and the face boxes being considered for the live view,
        with what is made of each face (``states``, one per box; None: all ``tracking``), for
        the boxes' colours; a display may drop it (only the newest frame matters)."""

    def wants_preview(self) -> bool:
        """Whether anyone watches the live view now (the daemon skips :meth:`preview` when
        not, sparing the encoding)."""
        return True

    def frame_arrived(self) -> None:
        """A camera frame has been read and processed (called for every frame, returns at
        once): a display that shows the camera's state can tell a stalled camera from a
        working one by these, not only by the last status. By default ignored."""
        return None

    def latencies(self) -> list[float]:
        """Seconds from ``decided_at`` to the result being on screen, as reported by the
        screen, oldest first (empty when it cannot tell)."""
        return []

    @abstractmethod
    def close(self) -> None:
        """Stop showing and release the address."""


class NullDisplay(Display):
    """No screen (a headless terminal): everything is accepted and dropped."""

    def start(self) -> None:
        """Nothing to start."""

    def show(self, view: ResultView) -> None:
        """Dropped."""

    def status(self, view: StatusView) -> None:
        """Dropped."""

    def preview(
        self, image: np.ndarray, faces: list[Box], states: list[BoxState] | None = None
    ) -> None:
        """Dropped."""

    def wants_preview(self) -> bool:
        """Nobody watches."""
        return False

    def close(self) -> None:
        """Nothing to close."""
