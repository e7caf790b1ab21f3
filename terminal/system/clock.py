"""Whether the system clock is synchronised (NTP/chrony/timesyncd), as the kernel sees it.

Uses ``adjtimex(2)`` like ``timedatectl``: the clock counts as synchronised when the kernel's
``STA_UNSYNC`` flag is clear. Every check-in records the answer, because a kiosk that booted
without network may have a wrong wall clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import time

_TIME_ERROR = 5
_TIMEX_SIZE = 512  # larger than struct timex on every Linux ABI; only `modes` (0) is read


def clock_is_synchronised() -> bool:
    """True when the kernel reports a synchronised clock; False if unknown or not Linux."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buffer = ctypes.create_string_buffer(_TIMEX_SIZE)
        state = int(libc.adjtimex(buffer))
    except (OSError, AttributeError):
        return False
    return 0 <= state < _TIME_ERROR


class ClockState:
    """Caches :func:`clock_is_synchronised` for a few seconds (called once per check-in)."""

    def __init__(self, ttl_s: float = 10.0, forced: bool | None = None) -> None:
        self.ttl_s = ttl_s
        self.forced = forced
        self._value = False
        self._checked_at = float("-inf")

    def __call__(self) -> bool:
        """The (cached) synchronisation state; ``forced`` overrides it (tests, demo)."""
        if self.forced is not None:
            return self.forced
        now = time.monotonic()
        if now - self._checked_at > self.ttl_s:
            self._value = clock_is_synchronised()
            self._checked_at = now
        return self._value
