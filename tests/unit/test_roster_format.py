"""The roster wire format without a broker: people files, chunking, the exported schemas."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from central.rosters.people import read_people
from common.errors import MessageError
from models.roster import MAX_ENVELOPE_BYTES
from models.roster_codec import build_roster_messages
from models.schedule import Schedule, TrainingProgramme, TrainingSession
from models.schema_export import load_schema
from tests.roster_tools import make_key, random_people


def test_people_files_in_csv_and_json(tmp_path: Path):
    vector = base64.b64encode(np.arange(4, dtype="<f4").tobytes()).decode()
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "person_id,name,qr_key_ids,engine,model_digest,embedding\n"
        f"E1,张三,HR1 HR2,sface,abc,{vector}\nE1,张三,,sface,abc,{vector}\nE2,Li Si,,,,\n",
        encoding="utf-8",
    )
    people = read_people(csv_file)
    assert [(p.person_id, p.name, p.qr_key_ids, len(p.templates)) for p in people] == [
        ("E1", "张三", ["HR1", "HR2"], 2),
        ("E2", "Li Si", [], 0),
    ]
    assert people[0].templates[0].dim == 4
    json_file = tmp_path / "people.json"
    json_file.write_text(json.dumps({"people": [json.loads(p.model_dump_json()) for p in people]}))
    assert read_people(json_file) == people
    json_file.write_text(json.dumps([{"person_id": "E1", "name": "A", "templates": [{}]}]))
    with pytest.raises(MessageError, match=r"person 1: templates.0.engine: Field required"):
        read_people(json_file)


def test_chunks_stay_under_the_byte_limit_whatever_the_templates():
    heavy = random_people(60, templates=20, dim=512)  # 55 KB of base64 per person
    messages = build_roster_messages(heavy, make_key(None, "HR1"), "HR1", 1)
    payloads = [json.loads(base64.b64decode(json.loads(m)["payload"])) for m in messages]
    assert len(messages) > 1 and all(len(m) < MAX_ENVELOPE_BYTES for m in messages)
    assert [p["chunk_index"] for p in payloads] == list(range(len(messages)))
    assert {p["chunk_count"] for p in payloads} == {len(messages)}
    ids = [person["person_id"] for p in payloads for person in p["people"]]
    assert ids == [p.person_id for p in heavy]


def test_messages_validate_against_the_exported_schemas():
    key = make_key(None, "HR1")
    (message,) = build_roster_messages(random_people(3), key, "HR1", 5, terminal_id="kiosk-01")
    envelope = json.loads(message)
    jsonschema.Draft202012Validator(load_schema("roster-envelope.v1.json")).validate(envelope)
    chunk = json.loads(base64.b64decode(envelope["payload"]))
    jsonschema.Draft202012Validator(load_schema("roster-chunk.v2.json")).validate(chunk)
    assert (chunk["roster_version"], chunk["chunk_index"], chunk["chunk_count"]) == (5, 0, 1)
    assert chunk["terminal_id"] == "kiosk-01" and len(chunk["people"]) == 3
    template = chunk["people"][0]["templates"][0]
    vector = np.frombuffer(base64.b64decode(template["embedding"]), dtype="<f4")
    assert vector.shape == (template["dim"],) == (128,)


def test_a_roster_leaves_out_what_only_the_central_reports_read():
    """Programmes and pairs stay on the central side: terminals of the release before them
    (whose schedule model refuses unknown fields) accept the roster's schedule."""
    session = TrainingSession(
        session_id="rm-01", title="储备经理 1", terminal_ids=["room-1"],
        start=datetime(2026, 3, 2, 2, tzinfo=UTC), end=datetime(2026, 3, 2, 4, tzinfo=UTC),
        participants=["clerk-1", "rm-1"], pairs=[["clerk-1", "rm-1"]],
    )  # fmt: skip
    programme = TrainingProgramme(programme_id="rm", title="储备经理", sessions=["rm-01"])
    schedule = Schedule(version=3, sessions=[session], programmes=[programme])
    key = make_key(None, "HR1")
    (message,) = build_roster_messages(random_people(2), key, "HR1", 5, schedule=schedule)
    chunk = json.loads(base64.b64decode(json.loads(message)["payload"]))
    assert "programmes" not in chunk["schedule"]
    assert "pairs" not in chunk["schedule"]["sessions"][0]
    jsonschema.Draft202012Validator(load_schema("roster-chunk.v2.json")).validate(chunk)
    for_terminal = schedule.model_copy(
        update={"programmes": [], "sessions": [session.model_copy(update={"pairs": []})]}
    )
    assert Schedule.model_validate(chunk["schedule"]) == for_terminal
