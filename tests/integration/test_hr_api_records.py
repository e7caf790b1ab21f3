"""The HR API's write endpoints against a real database (SQLite and PostgreSQL) and a real HTTP
client: the token scopes, leave imported, listed and cancelled, corrections added and voided,
the errors, and every answer checked against the OpenAPI document."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from central.hr_api.auth import ApiToken, load_tokens, token_scope
from central.hr_api.routes import MAX_LEAVE_ROWS, openapi_document
from central.hr_api.service import ApiService, ApiSettings
from central.receiver.store import ReceiverStore
from common.errors import ConfigError
from models.hr_records import CheckInCorrection, StoredCorrection, StoredLeave
from tests.alert_tools import MONDAY, check_in, local, make_schedule

READ = "r" * 32
WRITE = "w" * 32
DOCUMENT = openapi_document()


def _valid(document_schema: str, body: Any) -> None:
    """``body`` against ``#/components/schemas/<document_schema>`` of the OpenAPI document."""
    schema = {
        "$ref": f"#/components/schemas/{document_schema}",
        "components": DOCUMENT["components"],
    }
    jsonschema.Draft202012Validator(schema).validate(body)


def _answer_schema(method: str, path: str, status: int) -> str:
    """The schema name the document gives for ``status`` of ``method path``."""
    response = DOCUMENT["paths"][path][method.lower()]["responses"][str(status)]
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


@dataclass
class Api:
    """A running API over a database holding one terminal check-in."""

    url: str
    event_id: str

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = WRITE
    ) -> tuple[int, Any]:
        """``method path`` with ``body`` as JSON: the status and the JSON answer."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def checked(
        self, method: str, path: str, template: str, body: Any = None, token: str | None = WRITE
    ) -> tuple[int, Any]:
        """:meth:`call`, the answer validated against the document's schema for its status
        (``template``: the document's path, e.g. ``/v1/leave/{leave_id}``)."""
        status, answer = self.call(method, path, body, token)
        _valid(_answer_schema(method, template, status), answer)
        return status, answer


@pytest.fixture
def api(tmp_path: Path, central_db: str) -> Iterator[Api]:
    store = ReceiverStore(central_db)
    event = check_in("E1", local(MONDAY, 8, 55))
    store.store([event])
    store.close()
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_text(make_schedule().model_dump_json(), encoding="utf-8")
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# reads\n{READ}\n# imports leave\n{WRITE} write\n", encoding="utf-8")
    settings = ApiSettings(central_db, schedule_file, token_file, "127.0.0.1", 0)
    service = ApiService(settings)
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=service.run, args=(stop, lambda _port: ready.set()))
    thread.start()
    try:
        assert ready.wait(20), "the API did not start"
        yield Api(f"http://127.0.0.1:{service.port}", str(event.event_id))
    finally:
        stop.set()
        thread.join(20)
    assert not thread.is_alive()


LEAVE = [
    {"leave_id": "L1", "person_id": "张伟", "kind": "annual", "from": "2025-03-03",
     "to": "2025-03-04", "note": "年假", "approved_by": "王经理"},
    {"leave_id": "L2", "person_id": "E2", "kind": "excused", "from": "2025-03-03 09:00",
     "to": "2025-03-03 11:00", "note": "台风 typhoon"},
]  # fmt: skip


def test_a_read_only_token_reads_but_cannot_write(api: Api):
    for method, path, template in (
        ("POST", "/v1/leave", "/v1/leave"),
        ("DELETE", "/v1/leave/L1", "/v1/leave/{leave_id}"),
        ("POST", "/v1/corrections", "/v1/corrections"),
    ):
        status, body = api.checked(method, path, template, {"leave": LEAVE}, token=READ)
        assert status == 403 and "may only read" in body["error"]
        status, body = api.checked(method, path, template, {"leave": LEAVE}, token=None)
        assert status == 401
    status, body = api.checked("GET", "/v1/leave?from=2025-03-03", "/v1/leave", token=READ)
    assert (status, body["leave"]) == (200, [])
    status, body = api.checked("GET", "/v1/corrections", "/v1/corrections", token=READ)
    assert (status, body) == (200, {"corrections": []})


def test_leave_imported_listed_replaced_and_cancelled(api: Api):
    status, body = api.checked("POST", "/v1/leave", "/v1/leave", {"leave": LEAVE})
    assert (status, body) == (200, {"new": 2, "replaced": 0})
    status, body = api.checked("GET", "/v1/leave?from=2025-03-04", "/v1/leave", token=READ)
    assert status == 200 and body["timezone"] == "Asia/Shanghai"
    assert [p["leave_id"] for p in body["leave"]] == ["L1"]
    first = StoredLeave.model_validate(body["leave"][0])
    assert (first.start, first.end) == (local(MONDAY, 0, 0), local(MONDAY, 48, 0))
    assert first.note == "年假"
    status, body = api.checked("GET", "/v1/leave?from=2025-03-03&person=E2", "/v1/leave")
    assert [(p["leave_id"], p["start"]) for p in body["leave"]] == [
        ("L2", "2025-03-03T01:00:00.000Z")
    ]

    moved = [LEAVE[0], {**LEAVE[1], "to": "2025-03-03 12:00"}]
    status, body = api.checked("POST", "/v1/leave", "/v1/leave", {"leave": moved})
    assert (status, body) == (200, {"new": 0, "replaced": 2})

    template = "/v1/leave/{leave_id}"
    status, body = api.checked("DELETE", "/v1/leave/L1", template, {"cancelled_by": "王经理"})
    assert status == 200 and body["cancelled_by"] == "王经理" and body["cancelled_at"]
    status, body = api.checked("DELETE", "/v1/leave/L1", template, {"cancelled_by": "王经理"})
    assert status == 409 and "already cancelled" in body["error"]
    status, body = api.checked("DELETE", "/v1/leave/L9", template, {"cancelled_by": "王经理"})
    assert status == 404 and "no leave 'L9'" in body["error"]
    status, body = api.checked("DELETE", "/v1/leave/L2", template, {})
    assert status == 400 and "cancelled_by" in body["error"]

    status, body = api.checked("GET", "/v1/leave?from=2025-03-03", "/v1/leave")
    assert [p["leave_id"] for p in body["leave"]] == ["L2"]
    status, body = api.checked("GET", "/v1/leave?from=2025-03-03&cancelled=true", "/v1/leave")
    assert [p["leave_id"] for p in body["leave"]] == ["L1", "L2"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"leave": [*LEAVE, {**LEAVE[0], "leave_id": "L3", "kind": "holiday"}]}, 400,
         "leave: row 3: kind 'holiday' is not one of annual"),
        ({"leave": [LEAVE[0], {**LEAVE[1], "leave_id": "L1"}]}, 400, "given twice: L1"),
        ({"leave": [{**LEAVE[1], "to": "2025-03-03 08:00"}]}, 400, "is not after from"),
        ([LEAVE[0]], 400, 'the body must be {"leave"'),
        ({"leave": [LEAVE[0]] * (MAX_LEAVE_ROWS + 1)}, 413, "at most 10000 per request"),
    ],
)  # fmt: skip
def test_bad_leave_is_refused_and_nothing_is_stored(api: Api, body: Any, status: int, message: str):
    got, answer = api.checked("POST", "/v1/leave", "/v1/leave", body)
    assert got == status and message in answer["error"]
    _, listed = api.call("GET", "/v1/leave?from=2025-03-01&to=2025-03-31&cancelled=true")
    assert listed["leave"] == []


def test_a_body_that_is_not_json_is_a_400(api: Api):
    request = urllib.request.Request(api.url + "/v1/corrections", data=b"{", method="POST")
    request.add_header("Authorization", f"Bearer {WRITE}")
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=30)
    assert failed.value.code == 400
    assert "not JSON" in json.load(failed.value)["error"]


def test_corrections_added_voided_and_refused(api: Api):
    path = "/v1/corrections"
    added = CheckInCorrection(
        action="add", reason="忘带工卡 forgot the badge", signed_off_by="王经理",
        person_id="E2", captured_at=local(MONDAY, 8, 58), direction="in",
        schedule_ref="session:fire-101",
    )  # fmt: skip
    status, body = api.checked("POST", path, path, added.model_dump(mode="json"))
    assert status == 201
    stored = StoredCorrection.model_validate(body)
    assert stored.person_id == "E2" and stored.captured_at == local(MONDAY, 8, 58)

    for target in (api.event_id, str(stored.correction_id)):
        void = {"action": "void", "reason": "wrong person", "signed_off_by": "王经理",
                "event_id": target}  # fmt: skip
        status, body = api.checked("POST", path, path, void)
        assert status == 201 and body["event_id"] == target
        status, body = api.checked("POST", path, path, void)
        assert status == 409 and "already voided" in body["error"]

    unknown = {"action": "void", "reason": "no such", "signed_off_by": "S",
               "event_id": "00000000-0000-4000-8000-000000000000"}  # fmt: skip
    status, body = api.checked("POST", path, path, unknown)
    assert status == 409 and "no check-in" in body["error"]
    status, body = api.checked("POST", path, path, {"action": "void", "reason": "x y",
                                                    "signed_off_by": "S"})  # fmt: skip
    assert status == 400 and "needs the event_id" in body["error"]

    status, body = api.checked("GET", path, path, token=READ)
    assert status == 200
    assert [c["action"] for c in body["corrections"]] == ["add", "void", "void"]


def test_the_document_describes_the_records_as_the_models_do():
    schemas = DOCUMENT["components"]["schemas"]
    for model, mode in (
        (StoredLeave, "serialization"),
        (StoredCorrection, "serialization"),
        (CheckInCorrection, "validation"),
    ):
        expected = model.model_json_schema(
            mode=mode,  # type: ignore[arg-type]
            ref_template="#/components/schemas/{model}",
        )
        for name, definition in expected.pop("$defs", {}).items():
            assert schemas[name] == definition, name
        assert schemas[model.__name__] == expected, model.__name__
    for row in LEAVE:
        _valid("LeaveRow", row)


def test_token_scopes_from_the_file(tmp_path: Path):
    path = tmp_path / "tokens"
    path.write_text(f"{READ}\n{WRITE} write\n", encoding="utf-8")
    tokens = load_tokens(path)
    assert tokens == (ApiToken(READ), ApiToken(WRITE, write=True))
    assert token_scope(f"Bearer {READ}", tokens) == "read"
    assert token_scope(f"bearer {WRITE}", tokens) == "write"
    assert token_scope(f"Bearer {'x' * 32}", tokens) is None
    assert token_scope(f"Bearer {READ}", [READ]) == "read"  # plain strings: read-only
    for line in (f"{WRITE} admin", f"{WRITE} write extra"):
        path.write_text(line + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="token 1 holds a space or an unknown scope"):
            load_tokens(path)


def test_attendance_answers_apply_leave_and_corrections_and_give_month_and_programmes(
    api: Api, tmp_path: Path
):
    assert api.call("POST", "/v1/leave", {"leave": LEAVE})[0] == 200
    fix = {"action": "add", "person_id": "E2", "captured_at": "2025-03-03T02:50:00Z",
           "direction": "in", "reason": "came by taxi", "signed_off_by": "王经理"}  # fmt: skip
    assert api.call("POST", "/v1/corrections", fix)[0] == 201
    status, shifts = api.checked("GET", "/v1/attendance/shifts?from=2025-03-03",
                                 "/v1/attendance/shifts", token=READ)  # fmt: skip
    assert status == 200
    days = {d["person_id"]: d for d in shifts["days"]}
    assert (days["张伟"]["status"], days["张伟"]["leave"]) == ("on_leave", "annual")
    assert (days["E2"]["arrival_verdict"], days["E2"]["arrival_by"]) == ("on_time", "correction")
    status, month = api.checked("GET", "/v1/attendance/month?month=2025-03",
                                "/v1/attendance/month", token=READ)  # fmt: skip
    assert status == 200 and month["month"] == "2025-03"
    zhang = next(r for r in month["rows"] if r["person_id"] == "张伟")
    assert (zhang["leave_annual_days"], zhang["scheduled_days"]) == (2.0, 21)
    status, body = api.checked("GET", "/v1/attendance/month?month=2025-13",
                               "/v1/attendance/month", token=READ)  # fmt: skip
    assert status == 400 and "YYYY-MM" in body["error"]
    status, body = api.checked("GET", "/v1/attendance/programmes", "/v1/attendance/programmes",
                               token=READ)  # fmt: skip
    assert status == 400 and "no training programmes" in body["error"]
    schedule = make_schedule().model_dump(mode="json")
    schedule["programmes"] = [{"programme_id": "fire", "title": "消防", "sessions": ["fire-101"]}]
    (tmp_path / "schedule.json").write_text(json.dumps(schedule), encoding="utf-8")
    status, body = api.checked("GET", "/v1/attendance/programmes?programme=fire",
                               "/v1/attendance/programmes", token=READ)  # fmt: skip
    assert status == 200
    assert {r["person_id"] for r in body["rows"]} == {"E1", "E2", "E3", "E4"}
    status, body = api.checked("GET", "/v1/attendance/programmes?programme=nope",
                               "/v1/attendance/programmes", token=READ)  # fmt: skip
    assert status == 400 and "nope" in body["error"]
