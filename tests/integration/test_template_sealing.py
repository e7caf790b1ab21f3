"""Face templates sealed at rest in a real kiosk.db: stored sealed by enrollment and rosters,
opened only with the key, moved to the seal after the fact, and the roster's change logged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from common.errors import StoreError
from models.roster import RosterChunk, RosterPerson
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.processing_log import counts
from terminal.store.rosters import RosterStore
from terminal.store.template_seal import TemplateSeal, is_sealed
from tests.consent_tools import ON_DEVICE, TRANSFER
from tests.roster_tools import DIGEST, random_people

VECTOR = np.linspace(-1, 1, 128, dtype=np.float32)


def _file_bytes(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data.glob("kiosk.db*"))


def test_templates_are_stored_sealed_and_open_only_with_their_key(tmp_path: Path) -> None:
    seal = TemplateSeal.from_key_file(tmp_path / "template.key")
    assert (tmp_path / "template.key").stat().st_mode & 0o777 == 0o600
    db = open_database(tmp_path / "data" / "kiosk.db")
    Gallery(db, seal).add_person("E1", "Wei", [VECTOR], "sface", "d", ["camera"], consent=ON_DEVICE)
    (blob,) = db.conn.execute("SELECT embedding FROM templates").fetchone()
    assert is_sealed(blob)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert VECTOR.astype("<f4").tobytes() not in _file_bytes(tmp_path / "data")
    matrix, owners = Gallery(db, seal).matrix("sface", "d")
    assert owners == ["E1"] and np.array_equal(matrix[0], VECTOR)
    with pytest.raises(StoreError, match="sealed, and no key is configured"):
        Gallery(db).matrix("sface", "d")
    other = TemplateSeal.from_key_file(tmp_path / "other.key")
    with pytest.raises(StoreError, match="could not be unsealed"):
        Gallery(db, other).matrix("sface", "d")
    # A sealed template copied to another person's row does not open.
    db.conn.execute("INSERT INTO people (person_id, name, created_at, consent_scope,"
                    " consent_given_at, consent_recorded_by) VALUES ('E2', 'X', 'now',"
                    " 'on_device', '2026-12-01', 'hr')")  # fmt: skip
    db.conn.execute("UPDATE templates SET person_id = 'E2'")
    with pytest.raises(StoreError, match="could not be unsealed"):
        Gallery(db, seal).matrix("sface", "d")


def test_templates_made_before_the_key_are_sealed_after(tmp_path: Path) -> None:
    db = open_database(tmp_path / "data" / "kiosk.db")
    Gallery(db).add_person("E1", "Wei", [VECTOR], "sface", "d", ["a.jpg"], consent=ON_DEVICE)
    seal = TemplateSeal.from_key_file(tmp_path / "template.key")
    gallery = Gallery(db, seal)
    assert gallery.sealed_counts() == (0, 1)
    assert gallery.seal_plain_templates() == 1
    assert gallery.sealed_counts() == (1, 0)
    assert VECTOR.astype("<f4").tobytes() not in _file_bytes(tmp_path / "data")
    assert np.array_equal(gallery.matrix("sface", "d")[0][0], VECTOR)


def _chunk(version: int, people: list[RosterPerson]) -> RosterChunk:
    return RosterChunk(schema_version=2, roster_version=version, issued_at=datetime.now(UTC),
                       chunk_index=0, chunk_count=1, people=people)  # fmt: skip


def test_a_roster_is_sealed_as_staged_and_an_unchanged_one_logs_nothing(tmp_path: Path) -> None:
    seal = TemplateSeal.from_key_file(tmp_path / "template.key")
    db = open_database(tmp_path / "data" / "kiosk.db")
    store = RosterStore(db, seal)
    people = random_people(3, consent=TRANSFER)
    store.stage(_chunk(1, people), "HR1")
    applied = store.apply(1)
    assert (applied.people, applied.templates) == (3, 3)
    blobs = [row[0] for row in db.conn.execute("SELECT embedding FROM templates")]
    assert all(is_sealed(blob) for blob in blobs)
    matrix, owners = Gallery(db, seal).matrix("sface", DIGEST)
    assert owners == ["P00001", "P00002", "P00003"]
    assert np.array_equal(matrix[1], np.frombuffer(people[1].templates[0].embedding, "<f4"))
    assert counts(db)["template_created"] == 3
    # The same people again: nothing created or deleted, so nothing logged.
    store.stage(_chunk(2, people), "HR1")
    store.apply(2)
    assert counts(db)["template_created"] == 3 and counts(db)["template_deleted"] == 0
    # One person's consent withdrawn by HR: their template goes, and that is logged.
    withdrawn = people[0].model_copy(
        update={"templates": [], "consent": ON_DEVICE.model_copy(update={"scope": "none"})}
    )
    store.stage(_chunk(3, [withdrawn, *people[1:]]), "HR1")
    assert store.apply(3).templates == 2
    assert counts(db)["template_deleted"] == 1
    person = Gallery(db).get("P00001")
    assert person is not None and person.consent is not None
    assert person.consent.scope == "none"
