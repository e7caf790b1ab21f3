"""Open-set identification on a labelled set: the kiosk's real question.

At the kiosk a face is compared with everyone enrolled, and most passers-by may not be
enrolled at all. This simulates that with the live decision rule (:class:`Matcher`):

- a quarter of the people (chosen with a fixed seed) are strangers: never enrolled, every one
  of their photos is a probe that must be refused;
- everyone else is enrolled with their first ``enroll_per_person`` photos (sorted by path) and
  probed with all their other photos, which must be accepted as that person.

A probe accepted as the wrong person is the worst outcome (a wrong check-in), then a stranger
accepted; a genuine probe refused just means the employee tries again or shows a QR badge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from devtools.calibration import EmbeddedSet
from drivers.face.base import FaceEngine
from terminal.face.matcher import Matcher

STRANGER_FRACTION = 0.25
SWEEP_FACTORS = (0.75, 0.875, 1.0, 1.125, 1.25)
"""Default sweep: these multiples of the tolerance."""
MAX_MISTAKES_LISTED = 50


@dataclass(frozen=True)
class OpenSetSplit:
    """Which photos (row indices of the embedded set) are enrolled and which are probes."""

    enrolled: list[int]
    genuine_probes: list[int]
    stranger_probes: list[int]
    strangers: list[str]
    """The identities that are not enrolled."""


def split_open_set(
    embedded: EmbeddedSet, enroll_per_person: int = 1, seed: int = 0
) -> OpenSetSplit:
    """A deterministic split: same set, ``enroll_per_person`` and ``seed`` give the same split.

    People with no more than ``enroll_per_person`` photos are enrolled with all of them and
    give no probe (they still make the gallery harder).
    """
    if enroll_per_person < 1:
        raise ValueError("enroll at least one photo per person")
    rows_of: dict[str, list[int]] = {}
    for row in sorted(range(len(embedded.photos)), key=lambda r: embedded.photos[r].relative):
        rows_of.setdefault(embedded.photos[row].identity, []).append(row)
    people = sorted(rows_of)
    count = int(len(people) * STRANGER_FRACTION + 0.5) if len(people) > 1 else 0
    chosen = np.random.default_rng(seed).choice(len(people), size=count, replace=False)
    strangers = sorted(people[int(index)] for index in chosen)
    split = OpenSetSplit([], [], [], strangers)
    for person in people:
        rows = rows_of[person]
        if person in strangers:
            split.stranger_probes.extend(rows)
        else:
            split.enrolled.extend(rows[:enroll_per_person])
            split.genuine_probes.extend(rows[enroll_per_person:])
    return split


@dataclass(frozen=True)
class OpenSetOutcome:
    """The decisions of the matcher for every probe at one tolerance and margin."""

    tolerance: float
    margin: float
    enrolled_people: int
    templates: int
    genuine_probes: int
    genuine_correct: int
    genuine_wrong: int
    """Genuine probes accepted as somebody else: wrong check-ins."""
    stranger_probes: int
    strangers_accepted: int
    mistakes: tuple[str, ...] = ()
    """Up to 50 lines ``photo (identity) -> accepted as X at distance d``."""

    @property
    def genuine_rejected(self) -> int:
        """Genuine probes refused (too far, or ambiguous between two people)."""
        return self.genuine_probes - self.genuine_correct - self.genuine_wrong

    @property
    def correct_rate(self) -> float | None:
        """Share of genuine probes accepted as the right person (None without probes)."""
        return self.genuine_correct / self.genuine_probes if self.genuine_probes else None

    @property
    def stranger_accept_rate(self) -> float | None:
        """Share of stranger probes accepted as someone (None without strangers)."""
        return self.strangers_accepted / self.stranger_probes if self.stranger_probes else None


def evaluate_open_set(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    split: OpenSetSplit,
    tolerance: float,
    margin: float,
) -> OpenSetOutcome:
    """Identify every probe with a :class:`Matcher` over the enrolled photos."""
    identities = embedded.identities
    enrolled_ids = [identities[row] for row in split.enrolled]
    matcher = Matcher(
        engine,
        embedded.matrix[split.enrolled],
        enrolled_ids,
        {person: person for person in enrolled_ids},
        tolerance=tolerance,
        margin=margin,
    )
    correct = wrong = strangers_accepted = 0
    mistakes: list[str] = []
    probes = [(row, True) for row in split.genuine_probes]
    probes += [(row, False) for row in split.stranger_probes]
    for row, genuine in probes:
        match = matcher.identify(embedded.matrix[row])
        if match.person_id is None:
            continue
        if match.person_id == identities[row]:
            correct += 1
            continue
        if genuine:
            wrong += 1
        else:
            strangers_accepted += 1
        mistakes.append(
            f"{embedded.photos[row].relative} ({identities[row]}) -> accepted as"
            f" {match.person_id} at distance {match.distance:.4f}"
        )
    return OpenSetOutcome(
        tolerance,
        margin,
        matcher.people,
        matcher.templates,
        len(split.genuine_probes),
        correct,
        wrong,
        len(split.stranger_probes),
        strangers_accepted,
        tuple(mistakes[:MAX_MISTAKES_LISTED]),
    )


def default_sweep(tolerance: float) -> list[float]:
    """Tolerances around ``tolerance`` (see :data:`SWEEP_FACTORS`), rounded to 3 decimals."""
    return sorted({round(tolerance * factor, 3) for factor in SWEEP_FACTORS})


def sweep_tolerances(
    engine: FaceEngine,
    embedded: EmbeddedSet,
    split: OpenSetSplit,
    tolerances: Sequence[float],
    margin: float,
) -> list[OpenSetOutcome]:
    """The open-set outcome at each tolerance (same split and margin), lowest first."""
    return [
        evaluate_open_set(engine, embedded, split, tolerance, margin)
        for tolerance in sorted(set(tolerances))
    ]
