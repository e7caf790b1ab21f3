"""One line of ``kiosk doctor``: a check's status, what it found and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a check came out: it works, it works but needs attention, or it does not work."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``detail`` says what was found, ``hint`` what to do.

    ``data`` holds the figures behind the detail (counts, sizes, dates) for ``--json``.
    """

    name: str
    status: Status
    detail: str
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """True for a failure (the doctor then exits non-zero)."""
        return self.status is Status.FAIL

    def line(self, name_width: int = 12) -> str:
        """One line: status, check name, detail and, unless it passed, what to do."""
        text = f"{self.status.value.upper():<4}  {self.name:<{name_width}}  {self.detail}"
        if self.hint and self.status is not Status.PASS:
            text += f" -> {self.hint}"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "hint": self.hint if self.status is not Status.PASS else None,
            "data": self.data,
        }


def passed(name: str, detail: str, **data: Any) -> CheckResult:
    """A passing result."""
    return CheckResult(name, Status.PASS, detail, None, data)


def warned(name: str, detail: str, hint: str, **data: Any) -> CheckResult:
    """A warning: it works, but ``hint`` should be acted on."""
    return CheckResult(name, Status.WARN, detail, hint, data)


def failed(name: str, detail: str, hint: str, **data: Any) -> CheckResult:
    """A failure: ``hint`` says what to do."""
    return CheckResult(name, Status.FAIL, detail, hint, data)


class Findings:
    """Several findings of one check merged into one line; the worst status wins."""

    def __init__(self) -> None:
        self.status = Status.PASS
        self._details: list[str] = []
        self._hints: list[str] = []

    def add(self, status: Status, detail: str, hint: str | None = None) -> None:
        """Record one finding (its hint is kept only if it is not a pass)."""
        if _RANK[status] > _RANK[self.status]:
            self.status = status
        self._details.append(detail)
        if hint and status is not Status.PASS and hint not in self._hints:
            self._hints.append(hint)

    def result(self, name: str, **data: Any) -> CheckResult:
        """The merged result (details joined with "; ", hints too)."""
        hint = "; ".join(self._hints) or None
        return CheckResult(name, self.status, "; ".join(self._details), hint, data)


def mib(size: float) -> str:
    """A byte count for people: ``512 KiB``, ``87.3 MiB``, ``12.4 GiB``."""
    if size < 2**20:
        return f"{size / 2**10:.0f} KiB"
    if size < 2**30:
        return f"{size / 2**20:.1f} MiB"
    return f"{size / 2**30:.1f} GiB"
