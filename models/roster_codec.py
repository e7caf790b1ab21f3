"""Signing and opening roster messages (see :mod:`models.roster` for the format).

An HR system calls :func:`build_roster_messages` with its people and its Ed25519 private key and
publishes the messages it returns, in order, on ``{prefix}/{terminal id}/roster``. A terminal
calls :func:`open_roster_message`, which checks size, envelope, key, signature, then the
payload, and raises :class:`RosterRefusal` naming the first problem.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from models.consent import allows_transfer
from models.roster import (
    MAX_CHUNK_PEOPLE,
    MAX_ENVELOPE_BYTES,
    MAX_PAYLOAD_BYTES,
    RosterChunk,
    RosterEnvelope,
    RosterPerson,
)
from models.schedule import Schedule
from models.signed_code import load_private_key, load_public_key
from models.signed_envelope import (
    BAD_SIGNATURE,
    MALFORMED,
    SIGNATURE_BYTES,
    UNKNOWN_KEY,
    UNSIGNED,
    WRONG_TERMINAL,
    EnvelopeRefusal,
    describe_error,
    open_envelope,
    sign_payload,
)

__all__ = [
    "BAD_SIGNATURE",
    "DEFAULT_CHUNK_PEOPLE",
    "MALFORMED",
    "MAX_SCHEDULE_BYTES",
    "SIGNATURE_BYTES",
    "UNKNOWN_KEY",
    "UNSIGNED",
    "WRONG_TERMINAL",
    "RosterRefusal",
    "build_roster_messages",
    "describe_error",
    "for_transfer",
    "load_private_key",
    "load_public_key",
    "open_roster_message",
    "plan_chunks",
    "sign_chunk",
    "withheld_templates",
]

DEFAULT_CHUNK_PEOPLE = 500
_CHUNK_OVERHEAD_BYTES = 1024
"""Room left in a payload for everything but the people (version, times, brackets)."""
MAX_SCHEDULE_BYTES = MAX_PAYLOAD_BYTES - _CHUNK_OVERHEAD_BYTES - 16
"""Largest schedule (its JSON) a roster can carry: chunk 0 holds it and no one else then."""

CENTRAL_ONLY_SCHEDULE_FIELDS: dict[str, Any] = {
    "programmes": True,
    "sessions": {"__all__": {"pairs"}},
}
"""Schedule fields a terminal does not use, left out of the rosters it is sent."""

RosterRefusal = EnvelopeRefusal
"""A roster message that must not be applied (the envelope's refusal; ``kind``, ``reason``)."""


def sign_chunk(chunk: RosterChunk, private_key: Ed25519PrivateKey, key_id: str) -> bytes:
    """The JSON bytes of the :class:`RosterEnvelope` carrying ``chunk`` signed by ``key_id``."""
    # Without a schedule the key is left out, so terminals that predate it accept the chunk; a
    # schedule goes without what only the central reports read (programmes, sessions' pairs),
    # so terminals that predate those accept it too.
    leave_out: dict[str, Any] = (
        {"schedule": True} if chunk.schedule is None else {"schedule": CENTRAL_ONLY_SCHEDULE_FIELDS}
    )
    if chunk.schema_version < 2:
        # Version 1 people have no consent key: terminals that predate it accept the chunk.
        leave_out["people"] = {"__all__": {"consent"}}
    payload = chunk.model_dump_json(exclude=leave_out).encode()
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"chunk of {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    return sign_payload(RosterEnvelope, payload, private_key, key_id)


def for_transfer(person: RosterPerson) -> RosterPerson:
    """``person`` as a roster may carry them: without face templates unless their consent
    allows transfer (:mod:`models.consent`)."""
    if not person.templates or allows_transfer(person.consent):
        return person
    return person.model_copy(update={"templates": []})


def withheld_templates(people: Sequence[RosterPerson]) -> list[str]:
    """Ids of the people whose templates :func:`for_transfer` leaves out (in order)."""
    return [p.person_id for p in people if p.templates and not allows_transfer(p.consent)]


def plan_chunks(
    people: Sequence[RosterPerson], chunk_size: int = DEFAULT_CHUNK_PEOPLE, first_reserve: int = 0
) -> list[list[RosterPerson]]:
    """People split in order into chunks of at most ``chunk_size`` and the payload byte limit,
    keeping ``first_reserve`` bytes of the first chunk free (for the schedule)."""
    if not 1 <= chunk_size <= MAX_CHUNK_PEOPLE:
        raise ValueError(f"chunk size must be 1-{MAX_CHUNK_PEOPLE} people")
    budget = MAX_PAYLOAD_BYTES - _CHUNK_OVERHEAD_BYTES
    chunks: list[list[RosterPerson]] = [[]]
    used = first_reserve
    for person in people:
        size = len(person.model_dump_json().encode()) + 1
        if (chunks[-1] or used) and (len(chunks[-1]) >= chunk_size or used + size > budget):
            chunks.append([])
            used = 0
        chunks[-1].append(person)
        used += size
    return chunks


def build_roster_messages(
    people: Sequence[RosterPerson],
    private_key: Ed25519PrivateKey,
    key_id: str,
    version: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_PEOPLE,
    terminal_id: str | None = None,
    issued_at: datetime | None = None,
    schedule: Schedule | None = None,
) -> list[bytes]:
    """Every signed message of one roster version, in order (``version`` default: unix time).

    ``terminal_id`` binds the roster to one terminal (others refuse it); None lets any terminal
    that trusts ``key_id`` apply it. An empty ``people`` makes a roster that removes everyone.
    ``schedule`` travels in chunk 0; without one, the roster removes any schedule in force.
    Templates of people whose consent does not allow transfer are left out
    (:func:`for_transfer`); a chunk is schema version 2 when one of its people carries consent,
    else version 1, which terminals of earlier releases still take.
    """
    people = [for_transfer(person) for person in people]
    version = int(time.time()) if version is None else version
    issued = issued_at or datetime.now(UTC)
    reserve = 0 if schedule is None else len(schedule.model_dump_json().encode()) + 16
    if reserve > MAX_SCHEDULE_BYTES + 16:
        raise ValueError(f"a schedule of {reserve - 16} bytes, more than {MAX_SCHEDULE_BYTES}")
    groups = plan_chunks(people, chunk_size, reserve)
    messages = []
    for index, group in enumerate(groups):
        chunk = RosterChunk(
            schema_version=2 if any(p.consent is not None for p in group) else 1,
            terminal_id=terminal_id,
            roster_version=version,
            issued_at=issued,
            chunk_index=index,
            chunk_count=len(groups),
            people=group,
            schedule=schedule if index == 0 else None,
        )
        messages.append(sign_chunk(chunk, private_key, key_id))
    return messages


def open_roster_message(
    data: bytes,
    public_key: Callable[[str], Ed25519PublicKey | None],
    terminal_id: str | None = None,
) -> tuple[RosterChunk, str]:
    """The verified chunk in ``data`` and the id of the key that signed it.

    ``public_key`` returns the trusted key of an id, or None. With ``terminal_id``, a chunk
    bound to another terminal is refused. Raises :class:`RosterRefusal`.
    """
    payload, key_id = open_envelope(
        data, RosterEnvelope, public_key, MAX_ENVELOPE_BYTES, "roster envelope"
    )
    if len(payload) > MAX_PAYLOAD_BYTES:
        size = len(payload)
        raise RosterRefusal(MALFORMED, f"payload of {size} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        chunk = RosterChunk.model_validate_json(payload)
    except ValidationError as exc:
        raise RosterRefusal(MALFORMED, f"malformed payload: {describe_error(exc)}") from None
    if terminal_id is not None and chunk.terminal_id not in (None, terminal_id):
        raise RosterRefusal(
            WRONG_TERMINAL, f"roster for terminal {chunk.terminal_id!r}, not {terminal_id!r}"
        )
    return chunk, key_id
