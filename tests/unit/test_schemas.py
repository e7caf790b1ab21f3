"""The checked-in JSON Schemas are the contract: they must match the code and validate events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import jsonschema
import pytest

from models.messages import CheckInEvent, EventBatch, Method
from models.schema_export import SCHEMA_DIR, load_schema, render_all


def test_checked_in_schemas_match_the_code() -> None:
    rendered = render_all()
    on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")}
    assert on_disk == set(rendered), "run python -m models.schema_export"
    for name, text in rendered.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} drifted from models/; run python -m models.schema_export"
        )


def _event(**overrides: object) -> CheckInEvent:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "seq": 7,
        "terminal_id": "kiosk-01",
        "site": "hq",
        "person_id": "E1001",
        "method": Method.FACE,
        "distance": 0.31,
        "captured_at": datetime(2026, 11, 22, 9, 0, 1, 250000, tzinfo=UTC),
        "clock_synced": True,
    }
    fields.update(overrides)
    return CheckInEvent.model_validate(fields)


def test_serialised_event_validates_against_its_schema() -> None:
    record = json.loads(_event().model_dump_json())
    assert record["captured_at"] == "2026-11-22T09:00:01.250Z"
    assert record["schema_version"] == 1
    jsonschema.Draft202012Validator(load_schema("checkin-event.v1.json")).validate(record)
    batch = json.loads(EventBatch(terminal_id="kiosk-01", events=[_event()]).model_dump_json())
    jsonschema.Draft202012Validator(load_schema("event-batch.v1.json")).validate(batch)


@pytest.mark.parametrize(
    "mutation",
    [
        {"seq": 0},
        {"method": "fingerprint"},
        {"terminal_id": "a/b"},
        {"schema_version": 2},
        {"unexpected": 1},
    ],
)
def test_schema_rejects_bad_events(mutation: dict[str, object]) -> None:
    record = json.loads(_event().model_dump_json())
    record.update(mutation)
    validator = jsonschema.Draft202012Validator(load_schema("checkin-event.v1.json"))
    assert list(validator.iter_errors(record))


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        _event(captured_at=datetime(2026, 11, 22, 9, 0, 1))
