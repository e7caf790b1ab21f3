"""The HR system's API (``kiosk api``) against a real database and a real broker, with a real
HTTP client: tokens, paging through events while they are being stored, the attendance reports
against ``kiosk report``, the terminals' retained status, errors, and the OpenAPI document
checked against the code and the answers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from central.hr_api.auth import load_tokens
from central.hr_api.routes import ROUTES, openapi_document
from central.hr_api.service import ApiService, ApiSettings
from central.receiver.store import ReceiverStore
from cli.main import main
from common.errors import ConfigError
from common.mqtt.types import LinkOptions
from models.messages import CheckInEvent, TerminalState, TerminalStatus
from tests.alert_tools import MONDAY, check_in, local, make_schedule
from tests.delivery_tools import Probe, wait_for
from tests.mosquitto import Mosquitto

TOKEN = "t" * 32
DOCUMENT = openapi_document()


@dataclass
class RunningApi:
    """A running API: its base URL and the store it reads."""

    url: str
    store: ReceiverStore
    schedule_file: Path
    stored: list[CheckInEvent]

    def get(self, path: str, token: str | None = TOKEN) -> tuple[int, dict[str, Any], Any]:
        """GET ``path``: the status, the headers and the JSON body."""
        request = urllib.request.Request(self.url + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.load(error)


def _events() -> list[CheckInEvent]:
    """Monday: E1 on time, E2 late (and out early), 张伟 absent; a session check-in."""
    return [
        check_in("E1", local(MONDAY, 8, 55)),
        check_in("E1", local(MONDAY, 18, 1), direction="out"),
        check_in("E2", local(MONDAY, 9, 20)),
        check_in("E2", local(MONDAY, 17, 0), direction="out"),
        check_in("E1", local(MONDAY, 13, 58), terminal_id="room-1"),
    ]


@pytest.fixture
def running_api(tmp_path: Path, central_db: str, broker: Mosquitto) -> Iterator[RunningApi]:
    store = ReceiverStore(central_db)
    stored = _events()
    store.store(stored)
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_text(make_schedule().model_dump_json(), encoding="utf-8")
    token_file = tmp_path / "tokens"
    token_file.write_text(f"# the HR system\n{TOKEN}\n", encoding="utf-8")
    settings = ApiSettings(
        central_db, schedule_file, token_file, "127.0.0.1", 0,
        LinkOptions(url=broker.url, client_id="api-test"),
    )  # fmt: skip
    service = ApiService(settings)
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=service.run, args=(stop, lambda _port: ready.set()))
    thread.start()
    try:
        assert ready.wait(20), "the API did not start"
        yield RunningApi(f"http://127.0.0.1:{service.port}", store, schedule_file, stored)
    finally:
        stop.set()
        thread.join(20)
        store.close()
    assert not thread.is_alive()


def _valid(document_schema: str, body: Any) -> None:
    """``body`` against ``#/components/schemas/<document_schema>`` of the OpenAPI document."""
    schema = {
        "$ref": f"#/components/schemas/{document_schema}",
        "components": DOCUMENT["components"],
    }
    jsonschema.Draft202012Validator(schema).validate(body)


def test_every_path_but_health_needs_a_token(running_api: RunningApi):
    for path in ("/v1/events", "/v1/attendance/shifts?from=2025-03-03", "/v1/terminals"):
        for token in (None, "x" * 32):
            status, headers, body = running_api.get(path, token)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            _valid("Error", body)
    status, _, body = running_api.get("/v1/health", None)
    assert (status, body) == (200, {"status": "ok", "database": "ok"})
    _valid("Health", body)


def test_paging_while_events_are_stored_gives_each_event_once(running_api: RunningApi):
    more = [check_in(f"P{i}", local(MONDAY, 10, i % 60)) for i in range(300)]
    writer = threading.Thread(
        target=lambda: [running_api.store.store(more[i : i + 7]) for i in range(0, 300, 7)]
    )
    writer.start()
    seen: list[str] = []
    cursor = 0
    while True:
        status, _, page = running_api.get(f"/v1/events?after={cursor}&limit=11")
        assert status == 200
        _valid("EventPage", page)
        seen += [item["event"]["event_id"] for item in page["events"]]
        cursor = page["next_cursor"]
        if not page["has_more"] and not writer.is_alive():
            status, _, page = running_api.get(f"/v1/events?after={cursor}&limit=11")
            if not page["events"]:
                break
            seen += [item["event"]["event_id"] for item in page["events"]]
            cursor = page["next_cursor"]
    writer.join()
    assert len(seen) == len(set(seen)) == 305
    assert set(seen) == {str(e.event_id) for e in running_api.stored + more}


def test_shift_attendance_is_the_reports_for_that_day(
    running_api: RunningApi, capsys: pytest.CaptureFixture[str]
):
    status, _, body = running_api.get("/v1/attendance/shifts?from=2025-03-03")
    assert status == 200
    _valid("ShiftAttendance", body)
    assert main(["report", "shifts", "--db", str(running_api.store.location), "--schedule",
                 str(running_api.schedule_file), "--from", "2025-03-03", "--to", "2025-03-03",
                 "--json"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert body["days"] == report["rows"]
    by_person = {row["person_id"]: row["status"] for row in body["days"]}
    assert by_person == {"E1": "present", "E2": "late_and_early_leave", "张伟": "absent"}


def test_session_attendance_for_the_day(running_api: RunningApi):
    status, _, body = running_api.get("/v1/attendance/sessions?from=2025-03-03")
    assert status == 200
    _valid("SessionsAttendance", body)
    assert [s["session_id"] for s in body["sessions"]] == ["fire-101"]
    e1 = next(row for row in body["attendance"] if row["person_id"] == "E1")
    assert e1["first_in"] == "2025-03-03 13:58:00"
    status, _, body = running_api.get("/v1/attendance/sessions?from=2025-03-04")
    assert (status, body["sessions"], body["attendance"]) == (200, [], [])


def test_terminals_show_their_retained_status_and_delivery(
    running_api: RunningApi, broker: Mosquitto
):
    status_message = TerminalStatus(
        terminal_id="kiosk-01", state=TerminalState.ONLINE, version="0.1.0", backlog=3
    )
    probe = Probe(broker.url)
    try:
        probe.publish("attendance/v1/kiosk-01/status", status_message.model_dump_json().encode(),
                      retain=True)  # fmt: skip
        probe.publish("attendance/v1/kiosk-02/status", b"not a status", retain=True)
    finally:
        probe.close()

    def terminals() -> dict[str, Any]:
        return {t["terminal_id"]: t for t in running_api.get("/v1/terminals")[2]["terminals"]}

    wait_for(lambda: (terminals().get("kiosk-01") or {}).get("status") is not None,
             what="kiosk-01's status")  # fmt: skip
    _, _, body = running_api.get("/v1/terminals")
    _valid("Terminals", body)
    found = terminals()
    assert found["kiosk-01"]["status"]["backlog"] == 3
    assert found["kiosk-01"]["delivery"]["events"] == 4
    assert found["room-1"]["status"] is None and found["room-1"]["delivery"]["events"] == 1
    assert "kiosk-02" not in found  # its status was not one
    assert body["broker_connected"] is True


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/v1/events?limit=0", 400, "limit=0: must be from 1 to 5000"),
        ("/v1/events?after=x", 400, "after='x': not a whole number"),
        ("/v1/attendance/shifts", 400, "from=YYYY-MM-DD is required"),
        ("/v1/attendance/shifts?from=2025-3-3", 400, "not a date"),
        ("/v1/attendance/shifts?from=2025-03-01&to=2025-04-30", 400, "at most 31 days"),
        ("/v1/attendance/shifts?from=2025-03-05&to=2025-03-01", 400, "is before"),
        ("/v1/nothing", 404, "Not Found"),
    ],
)
def test_bad_requests_are_json_errors(
    running_api: RunningApi, path: str, status: int, message: str
):
    got, headers, body = running_api.get(path)
    assert got == status and headers["Content-Type"].startswith("application/json")
    assert message in body["error"]


def test_the_document_describes_exactly_the_routes_and_the_models():
    documented = {
        (method.upper(), path, operation["operationId"])
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    }
    assert documented == set(ROUTES)
    schemas = DOCUMENT["components"]["schemas"]
    for model in (CheckInEvent, TerminalStatus):
        expected = model.model_json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        for name, definition in expected.pop("$defs", {}).items():
            assert schemas[name] == definition, name
        assert schemas[model.__name__] == expected, model.__name__
    jsonschema.Draft202012Validator.check_schema({"components": DOCUMENT["components"]})


def test_token_files_that_protect_nothing_are_refused(tmp_path: Path):
    for text, message in (("", "no token"), ("short\n", "shorter than 24")):
        path = tmp_path / "tokens"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_tokens(path)


def test_kiosk_api_serves_until_sigterm_and_a_bad_database_is_one_line(tmp_path: Path):
    db = tmp_path / "central.db"
    ReceiverStore(db).close()
    schedule_file = tmp_path / "schedule.json"
    schedule_file.write_text(make_schedule().model_dump_json(), encoding="utf-8")
    token_file = tmp_path / "tokens"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    args = ["--schedule", str(schedule_file), "--token-file", str(token_file), "--listen",
            "127.0.0.1:0"]  # fmt: skip
    command = [sys.executable, "-m", "cli", "api", "--db", str(tmp_path / "missing.db"), *args]
    failed = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"kiosk: error: {tmp_path / 'missing.db'}: no such receiver database"
        " (run kiosk receive --db first)"
    ]
    command = [sys.executable, "-m", "cli", "api", "--db", f"sqlite:///{db}", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), process.stderr
        api = RunningApi(f"http://{line.split()[-1]}", ReceiverStore(db), schedule_file, [])
        assert api.get("/v1/events")[2] == {"events": [], "next_cursor": 0, "has_more": False}
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0
