"""Progress of the command line's long steps: a bar on a terminal, nothing otherwise.

tqdm draws on standard error and turns itself off when standard error is not a terminal
(``disable=None``), so logs, pipes, CI and JSON on standard output stay as they were.
``KIOSK_PROGRESS=always`` draws the bars anyway (a log that should show them), ``never`` never
(a terminal that should not); anything else, or unset, is ``auto``. Three
shapes: :func:`counted` wraps an iterable whose items are counted (check-ins read),
:func:`progress_bar` is moved by a callback (roster messages acknowledged), and :class:`Steps`
names the steps of a command that runs a few long ones in turn (a benchmark's sides).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

PROGRESS_ENV = "KIOSK_PROGRESS"


def _disable() -> bool | None:
    """tqdm's ``disable``: False to draw, True not to, None to draw on a terminal only."""
    return {"always": False, "never": True}.get(os.environ.get(PROGRESS_ENV, "auto"))


def progress_wanted() -> bool:
    """Whether bars are drawn (to skip work only a bar needs, such as counting first)."""
    disable = _disable()
    return sys.stderr.isatty() if disable is None else not disable


def counted(
    items: Iterable[T], what: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """``items``, each counted on a bar labelled ``what`` (``total``: how many to expect,
    for the rate and the time left); the bar is removed when they are all read."""
    bar = tqdm(
        items, desc=what, total=total, unit=unit, file=sys.stderr,
        disable=_disable(), leave=False, dynamic_ncols=True,
    )  # fmt: skip
    return iter(bar)


def progress_bar(what: str, total: int | None, unit: str = "it") -> tqdm:
    """A bar the caller moves (``update(n)``) and ends (``close()``): for work counted from a
    callback rather than an iterable (messages the broker acknowledged)."""
    return tqdm(
        desc=what, total=total, unit=unit, file=sys.stderr, disable=_disable(),
        leave=False, dynamic_ncols=True,
    )  # fmt: skip


class Steps:
    """The named steps of one long command on one bar: :meth:`start` each in turn,
    :meth:`close` at the end (the bar then says how long it all took)."""

    def __init__(self, what: str, total: int | None = None) -> None:
        shown = "{n}/{total}" if total else "{n}"
        layout = "{desc}: " + shown + " steps done [{elapsed}] {postfix}"
        self._bar = tqdm(
            total=total, desc=what, unit="step", file=sys.stderr, disable=_disable(),
            dynamic_ncols=True, bar_format=layout,
        )  # fmt: skip
        self._started = False

    def start(self, name: str) -> None:
        """The next step begins (the one before it is done)."""
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_postfix_str(name)

    def close(self) -> None:
        """Every step is done."""
        if self._started:
            self._bar.update(1)
        self._bar.set_postfix_str("done")
        self._bar.close()
