"""Matching one face embedding against every enrolled template.

A face is accepted as person P only when P's nearest template is within ``tolerance`` AND every
other person is at least ``margin`` further away: a face that is about as close to two people
is refused rather than guessed. Distances are computed for the whole gallery at once (float32,
no Python loop over templates) and reduced to one distance per person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from common.errors import UnknownPersonError
from drivers.face.base import FaceEngine


@dataclass(frozen=True)
class Match:
    """The outcome of matching one face.

    ``distance`` is the distance to the nearest enrolled person whether accepted or not (None
    with an empty gallery); ``runner_up_distance`` that of the second-nearest person.
    ``person_id``/``name`` are set only when accepted; ``reason`` says why not.
    """

    person_id: str | None
    name: str | None
    distance: float | None
    runner_up_distance: float | None
    reason: str = ""

    @property
    def accepted(self) -> bool:
        """Whether the face was recognised as an enrolled person."""
        return self.person_id is not None


@dataclass(frozen=True)
class Verification:
    """One face compared 1:1 with a claimed person, and with the nearest other person.

    ``distance`` is to the claimed person's nearest template; ``other_id`` and
    ``other_distance`` name the nearest other enrolled person (None when nobody else has
    templates).
    """

    person_id: str
    distance: float
    other_id: str | None
    other_distance: float | None


class Matcher:
    """Identifies embeddings against a fixed gallery (rebuild it when the gallery changes)."""

    def __init__(
        self,
        engine: FaceEngine,
        gallery_matrix: np.ndarray,
        person_ids: list[str],
        names: Mapping[str, str],
        tolerance: float,
        margin: float,
    ) -> None:
        if len(person_ids) != len(gallery_matrix):
            raise ValueError("one person id per gallery row")
        self.engine = engine
        self.tolerance = tolerance
        self.margin = margin
        self.names = dict(names)
        people, labels = np.unique(np.asarray(person_ids, dtype=object), return_inverse=True)
        order = np.argsort(labels, kind="stable")
        self._people: list[str] = [str(person) for person in people]
        self._index = {person: row for row, person in enumerate(self._people)}
        self._matrix = np.ascontiguousarray(gallery_matrix[order], dtype=np.float32)
        sorted_labels = labels[order]
        self._starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
        if not len(person_ids):
            self._starts = np.zeros(0, dtype=np.intp)

    @property
    def people(self) -> int:
        """Number of distinct people with at least one template."""
        return len(self._people)

    @property
    def person_ids(self) -> frozenset[str]:
        """The ids of the people it can recognise (those with templates of its model)."""
        return frozenset(str(person) for person in self._index)

    @property
    def templates(self) -> int:
        """Number of templates in the gallery."""
        return len(self._matrix)

    def has_templates(self, person_id: str) -> bool:
        """Whether ``person_id`` has at least one template in this gallery."""
        return person_id in self._index

    def person_distances(self, embedding: np.ndarray) -> np.ndarray:
        """The distance from ``embedding`` to each person's nearest template (one per person)."""
        if not self._people:
            return np.zeros(0, dtype=np.float32)
        distances = self.engine.distances(self._matrix, np.asarray(embedding, dtype=np.float32))
        if len(self._starts) == len(distances):  # one template each: rows are people already
            return distances
        return np.minimum.reduceat(distances, self._starts)

    def identify(self, embedding: np.ndarray) -> Match:
        """The enrolled person this face belongs to, if the tolerance and margin rules agree."""
        per_person = self.person_distances(embedding)
        if per_person.size == 0:
            return Match(None, None, None, None, "no one is enrolled")
        nearest = (
            np.argpartition(per_person, 1)[:2]
            if per_person.size > 2
            else np.arange(per_person.size)
        )
        nearest = nearest[np.argsort(per_person[nearest], kind="stable")]
        best = int(nearest[0])
        distance = float(per_person[best])
        runner_up_distance = float(per_person[nearest[1]]) if nearest.size > 1 else None
        if distance > self.tolerance:
            return Match(
                None, None, distance, runner_up_distance, "no enrolled face is close enough"
            )
        if runner_up_distance is not None and runner_up_distance - distance < self.margin:
            pair = f"{self._people[best]} and {self._people[int(nearest[1])]}"
            return Match(
                None, None, distance, runner_up_distance, f"ambiguous: {pair} are as close"
            )
        person_id = self._people[best]
        name = self.names.get(person_id, person_id)
        return Match(person_id, name, distance, runner_up_distance, "recognised")

    def verify(self, embedding: np.ndarray, person_id: str) -> Verification:
        """Compare a face with ``person_id`` (1:1) and with the nearest other person.

        Raises :class:`UnknownPersonError` when ``person_id`` has no template here.
        """
        row = self._index.get(person_id)
        if row is None:
            raise UnknownPersonError(f"{person_id} has no face template")
        per_person = self.person_distances(embedding)
        distance = float(per_person[row])
        others = np.delete(per_person, row)
        if not others.size:
            return Verification(person_id, distance, None, None)
        nearest = int(np.argmin(others))
        other = nearest + 1 if nearest >= row else nearest
        return Verification(person_id, distance, self._people[other], float(others[nearest]))
