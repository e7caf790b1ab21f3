"""The roster the central (HR) system pushes to a terminal: who may check in, with which face.

Topic ``{prefix}/{terminal id}/roster`` (central -> terminal, QoS 1, not retained). One roster
*version* travels as ``chunk_count`` messages, each a :class:`RosterEnvelope`
(:mod:`models.signed_envelope`, shared with commands)::

    {"schema_version": 1, "key_id": "HR1", "payload": "<base64>", "signature": "<base64>"}

``payload`` is the base64 (RFC 4648, with padding) of the exact UTF-8 JSON bytes of a
:class:`RosterChunk`; ``signature`` the base64 of the 64-byte Ed25519 signature (RFC 8032) over
those bytes, made with the HR system's private key ``key_id``. A terminal holds the public keys
as ``<key id>.pub`` files (PEM) in ``[central] public_keys_dir``. The payload is verified before
it is parsed, and it is never re-serialised, so no canonical JSON form is needed.

A chunk names its ``roster_version`` (strictly increasing: a terminal refuses any version not
above the one it has), ``chunk_index`` (0-based) of ``chunk_count``, and its share of the
people; every person is in exactly one chunk. When all chunks of a version have arrived the
terminal replaces its people, templates and QR key ids with the roster in one transaction. A
roster with no people (one chunk, ``people: []``) removes everyone.

Chunk 0 may also carry the :class:`~models.schedule.Schedule` the terminals judge check-ins by
(``schedule``; any other chunk carrying one is malformed). It comes into force with the roster,
and a roster version without one removes the schedule a previous version brought: the roster
is the whole truth. A terminal's ``[attendance] schedule_file``, when set, wins over it.

People carry their ``consent`` (:class:`~models.consent.Consent`, schema version 2) and face
templates only when that consent allows them to be transferred (``transfer``): a chunk of
version 2 with templates of anyone else is malformed. :func:`models.roster_codec.for_transfer`
strips them before a roster is built; the templates of ``on_device`` people are made at the
kiosk itself and never travel.

Sizes: at most :data:`MAX_CHUNK_PEOPLE` people and :data:`MAX_PAYLOAD_BYTES` of payload per
chunk (:func:`models.roster_codec.build_roster_messages` packs 500 by default and always stays
under the byte limit), so one message stays below 1.5 MB: a 50,000-person roster with one
SFace template each is 100 messages of about 0.6 MB.

This module imports nothing from ``terminal`` or ``drivers``.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.consent import Consent, allows_transfer
from models.messages import TERMINAL_ID_PATTERN, UtcTimestamp
from models.schedule import Schedule
from models.signed_envelope import KEY_ID_PATTERN, Base64Blob, SignedEnvelope

ROSTER_SCHEMA_VERSION: Literal[2] = 2
"""Version 2 adds each person's ``consent`` (additive: a terminal of this release still takes
version 1 chunks, whose people carry none; a version 1 chunk cannot carry consent)."""
PERSON_ID_MAX = 64
NAME_MAX = 128
MAX_TEMPLATES_PER_PERSON = 20
MAX_QR_KEYS_PER_PERSON = 16
MAX_DIM = 4096
MAX_CHUNK_PEOPLE = 1000
MAX_CHUNKS = 10_000
MAX_PAYLOAD_BYTES = 1024 * 1024
"""Largest decoded payload of one chunk."""
MAX_ENVELOPE_BYTES = MAX_PAYLOAD_BYTES * 4 // 3 + 4096
"""Largest roster message accepted (base64 grows the payload by a third)."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in text)


class RosterTemplate(_Message):
    """One face template: the embedding of one photo by one engine and model."""

    engine: str = Field(
        min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$", description="e.g. sface, dlib."
    )
    model_digest: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Digest of the engine's model files (the terminal's `kiosk models check`).",
    )
    dim: int = Field(ge=1, le=MAX_DIM, description="Number of float32 values.")
    embedding: Base64Blob = Field(
        description="The embedding: `dim` little-endian IEEE 754 float32 values, base64."
    )

    @model_validator(mode="after")
    def _check_embedding(self) -> RosterTemplate:
        if len(self.embedding) != 4 * self.dim:
            size = len(self.embedding)
            raise ValueError(f"embedding has {size} bytes, dim {self.dim} needs {4 * self.dim}")
        if not np.isfinite(np.frombuffer(self.embedding, dtype="<f4")).all():
            raise ValueError("embedding holds a value that is not a finite number")
        return self


class RosterPerson(_Message):
    """Someone who may check in at the terminal."""

    person_id: str = Field(
        min_length=1, max_length=PERSON_ID_MAX, description="The id check-ins are reported with."
    )
    name: str = Field(min_length=1, max_length=NAME_MAX, description="Shown when checked in.")
    qr_key_ids: list[Annotated[str, Field(pattern=KEY_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_QR_KEYS_PER_PERSON,
        description="Ids of the HR keys whose signed QR codes are issued to this person.",
    )
    templates: list[RosterTemplate] = Field(
        default_factory=list,
        max_length=MAX_TEMPLATES_PER_PERSON,
        description="Face templates, of any engine (none: QR check-in only, or templates made"
        " on the kiosk itself). Only for a person whose consent allows transfer.",
    )
    consent: Consent | None = Field(
        None,
        description="The person's consent to face recognition (schema version 2); null: none"
        " recorded by the HR system (the kiosk keeps one it recorded itself at enrollment).",
    )

    @field_validator("person_id")
    @classmethod
    def _check_person_id(cls, value: str) -> str:
        if _has_control(value) or value != value.strip():
            raise ValueError("no control characters, no leading or trailing spaces")
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if _has_control(value) or value != value.strip():
            raise ValueError("no control characters, no leading or trailing spaces")
        return value


class RosterChunk(_Message):
    """The signed payload: one chunk of one roster version."""

    schema_version: Literal[1, 2] = Field(
        ROSTER_SCHEMA_VERSION, description="Version of this schema (1: people carry no consent)."
    )
    terminal_id: str | None = Field(
        None,
        pattern=TERMINAL_ID_PATTERN,
        description="The only terminal that may apply it; null: any terminal that trusts the key.",
    )
    roster_version: int = Field(
        ge=1, le=2**53, description="Strictly increasing across rosters (e.g. unix time)."
    )
    issued_at: UtcTimestamp = Field(description="When the HR system made the roster, RFC 3339.")
    chunk_index: int = Field(ge=0, description="0-based position of this chunk.")
    chunk_count: int = Field(ge=1, le=MAX_CHUNKS, description="Chunks in this roster version.")
    people: list[RosterPerson] = Field(
        max_length=MAX_CHUNK_PEOPLE, description="This chunk's people; each in one chunk only."
    )
    schedule: Schedule | None = Field(
        None,
        description="The shifts and sessions of this roster version (chunk 0 only; absent:"
        " the version removes any schedule an earlier roster brought).",
    )

    @model_validator(mode="after")
    def _check_chunk(self) -> RosterChunk:
        if self.chunk_index >= self.chunk_count:
            raise ValueError(f"chunk_index {self.chunk_index} of a {self.chunk_count}-chunk roster")
        if self.schedule is not None and self.chunk_index != 0:
            raise ValueError(f"chunk {self.chunk_index} carries a schedule: only chunk 0 may")
        seen: set[str] = set()
        dims: dict[tuple[str, str], int] = {}
        for person in self.people:
            if person.person_id in seen:
                raise ValueError(f"person {person.person_id!r} is listed twice")
            seen.add(person.person_id)
            if person.consent is not None and self.schema_version < 2:
                raise ValueError(f"person {person.person_id!r}: consent needs schema_version 2")
            if (
                person.templates
                and self.schema_version >= 2
                and not allows_transfer(person.consent)
            ):
                raise ValueError(
                    f"person {person.person_id!r} has face templates but no consent to transfer"
                    " them"
                )
            for template in person.templates:
                model = (template.engine, template.model_digest)
                if dims.setdefault(model, template.dim) != template.dim:
                    raise ValueError(f"templates of {template.engine} differ in dim")
        return self


class RosterEnvelope(SignedEnvelope):
    """What travels on the roster topic: a payload and the HR system's signature over it."""

    schema_version: Literal[1] = Field(1, description="Version of this schema.")
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="Which HR key signed the payload.")
    payload: Base64Blob = Field(description="The exact JSON bytes of a RosterChunk, base64.")
    signature: Base64Blob = Field(description="Ed25519 signature over the payload bytes, base64.")
