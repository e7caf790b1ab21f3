"""The people of a roster, read from a file (``kiosk roster publish --people``) or a gallery.

JSON: a list of people, or ``{"people": [...]}``, each as in :class:`models.roster.RosterPerson`::

    [{"person_id": "E1001", "name": "张三", "qr_key_ids": ["HR1"],
      "templates": [{"engine": "sface", "model_digest": "...", "dim": 128,
                     "embedding": "<base64 of 128 little-endian float32>"}]}]

CSV (UTF-8, a header row): ``person_id,name`` and optionally ``qr_key_ids`` (space-separated),
``engine``, ``model_digest``, ``embedding`` (base64). A person with several templates takes
one row per template; a row with an empty ``embedding`` adds no template (QR-only person).

Consent (:mod:`models.consent`) goes in a ``consent`` object in JSON, or the CSV columns
``consent`` (``none``, ``on_device`` or ``transfer``), ``consent_given_at`` (``YYYY-MM-DD``) and
``consent_recorded_by``. Templates of a person whose consent is not ``transfer`` are left out
of the roster when it is built (:func:`models.roster_codec.for_transfer`).

:func:`people_from_gallery` turns a terminal database's enrolled people into roster people:
enroll on one station with ``kiosk enroll`` (same engine and models as the terminals), then
``kiosk roster export`` and publish that file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from common.errors import MessageError
from models.roster import RosterPerson
from models.roster_codec import describe_error

_TEMPLATE_COLUMNS = ("engine", "model_digest", "embedding")


def read_people(path: Path) -> list[RosterPerson]:
    """The people in a ``.json`` or ``.csv`` file; :class:`MessageError` naming the problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MessageError(f"{path}: cannot read it: {exc}") from None
    raw = _csv_records(path, text) if path.suffix.lower() == ".csv" else _json_records(path, text)
    people = []
    for number, record in enumerate(raw, 1):
        try:
            people.append(RosterPerson.model_validate(record))
        except ValidationError as exc:
            raise MessageError(f"{path}: person {number}: {describe_error(exc)}") from None
    ids = [person.person_id for person in people]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise MessageError(f"{path}: person {twice!r} is listed twice")
    return people


def _json_records(path: Path, text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MessageError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"people"}:
        data = data["people"]
    if not isinstance(data, list):
        raise MessageError(f'{path}: expected a list of people or {{"people": [...]}}')
    return data


def _csv_records(path: Path, text: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(text.splitlines()))
    columns = set(rows[0]) if rows else set()
    if not {"person_id", "name"} <= columns:
        raise MessageError(f"{path}: the header must name at least person_id and name")
    people: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows, 2):
        person_id = (row.get("person_id") or "").strip()
        person = people.setdefault(
            person_id,
            {
                "person_id": person_id,
                "name": (row.get("name") or "").strip(),
                "qr_key_ids": (row.get("qr_key_ids") or "").split(),
                "templates": [],
            },
        )
        if (row.get("name") or "").strip() != person["name"]:
            raise MessageError(f"{path}: line {line}: another name for {person_id!r}")
        scope = (row.get("consent") or "").strip()
        if scope:
            consent = {
                "scope": scope,
                "given_at": (row.get("consent_given_at") or "").strip(),
                "recorded_by": (row.get("consent_recorded_by") or "").strip(),
            }
            if person.setdefault("consent", consent) != consent:
                raise MessageError(f"{path}: line {line}: another consent for {person_id!r}")
        if (row.get("embedding") or "").strip():
            engine, digest, embedding = (str(row.get(c) or "").strip() for c in _TEMPLATE_COLUMNS)
            dim = len(embedding.rstrip("=")) * 3 // 4 // 4
            person["templates"].append(
                {"engine": engine, "model_digest": digest, "dim": dim, "embedding": embedding}
            )
    return list(people.values())


def people_from_gallery(
    db: sqlite_utils.Database, open_blob: Callable[[bytes, str], bytes] | None = None
) -> list[RosterPerson]:
    """Every enrolled person of a terminal database with their consent, QR key ids and the
    templates their consent lets travel (``transfer``; the others' are not read at all).
    ``open_blob(blob, person_id)`` turns a stored (sealed) template into its plain bytes."""
    people: dict[str, dict[str, Any]] = {}
    columns = {row[1] for row in db.conn.execute("PRAGMA table_info(people)").fetchall()}
    with_consent = "consent_scope" in columns
    consent_sql = ", consent_scope, consent_given_at, consent_recorded_by" if with_consent else ""
    for row in db.conn.execute(
        f"SELECT person_id, name{consent_sql} FROM people ORDER BY person_id"
    ).fetchall():
        person: dict[str, Any] = {"person_id": row[0], "name": row[1], "templates": []}
        if with_consent and row[2] is not None:
            person["consent"] = {"scope": row[2], "given_at": row[3], "recorded_by": row[4]}
        people[row[0]] = person
    transferable = (
        " AND person_id IN (SELECT person_id FROM people WHERE consent_scope = 'transfer')"
        if with_consent
        else " AND 0"
    )
    for person_id, engine, digest, dim, blob in db.conn.execute(
        "SELECT person_id, engine, model_digest, dim, embedding FROM templates"
        f" WHERE engine != ''{transferable} ORDER BY person_id, id"
    ).fetchall():
        plain = open_blob(blob, person_id) if open_blob is not None else blob
        template = {"engine": engine, "model_digest": digest, "dim": dim, "embedding": plain}
        people[person_id]["templates"].append(template)
    if "person_qr_keys" in db.table_names():  # a terminal that had rosters
        for person_id, key_id in db.conn.execute(
            "SELECT person_id, key_id FROM person_qr_keys ORDER BY person_id, key_id"
        ).fetchall():
            people[person_id].setdefault("qr_key_ids", []).append(key_id)
    return [RosterPerson.model_validate(person) for person in people.values()]
