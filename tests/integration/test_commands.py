"""Signed commands from the central side to one terminal: each kind end to end through
``kiosk command send`` (or its library) against a running sync, once-only delivery, refusals.
Real mosquitto, real SQLite, no mocks."""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from central.commands import CommandSender
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from models.command import MAX_ENVELOPE_BYTES, Command, CommandEnvelope, build_command
from models.signed_envelope import sign_payload
from terminal.config import load_config
from terminal.store.database import open_database, write_transaction
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from tests.command_tools import COMMANDS, EVENTS, STATUS, running_terminal, terminal_config
from tests.consent_tools import TRANSFER
from tests.delivery_tools import commit, wait_for
from tests.mosquitto import Mosquitto
from tests.roster_tools import config_toml, make_key, tables

MARKER = np.full(128, 0.123456789, dtype=np.float32)


def _enroll(db_file: Path) -> None:
    """E7777 (two templates, one QR key id) to remove, E1001 to keep."""
    db = open_database(db_file)
    gallery = Gallery(db)
    gallery.add_person(
        "E7777", "Zyxw Quor", [MARKER, MARKER * 2], "sface", "d1", ["a", "b"], consent=TRANSFER
    )
    gallery.add_person("E1001", "Kept Person", [MARKER * 3], "sface", "d1", ["c"], consent=TRANSFER)
    with write_transaction(db) as conn:
        conn.execute("INSERT INTO person_qr_keys (person_id, key_id) VALUES ('E7777', 'HR1')")
    db.conn.close()


def _notices(db_file: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(db_file)
    try:
        return conn.execute("SELECT person_id FROM enrollment_notices ORDER BY 1").fetchall()
    finally:
        conn.close()


def _rename_table(db_file: Path, table: str, to: str) -> None:
    """Rename a table of the kiosk database behind the running sync's back."""
    conn = sqlite3.connect(db_file, timeout=10)
    try:
        conn.execute(f"ALTER TABLE {table} RENAME TO {to}")
        conn.commit()
    finally:
        conn.close()


def _kept_unacknowledged(caplog: pytest.LogCaptureFixture) -> int:
    """How often a command message met a database error and was kept unacknowledged."""
    return sum(
        "stays unacknowledged" in r.getMessage() and COMMANDS in r.getMessage()
        for r in caplog.records
    )


def _sent_ids(payloads: list[bytes]) -> list[str]:
    return [event["event_id"] for p in payloads for event in json.loads(p)["events"]]


def test_sync_now_sends_every_unacknowledged_event_again_and_a_status(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    config = terminal_config(tmp_path, broker.url, ack_timeout_s=3600)
    events = commit(Outbox.open(config.database_path, "kiosk-01", "hq"), 3)
    with running_terminal(tmp_path, config) as (central, _worker):
        probe = central.probe
        wait_for(lambda: len(_sent_ids(probe.payloads(EVENTS))) >= 3, what="the first send")
        statuses = len(probe.payloads(STATUS))
        status, result = central.send(capsys, "sync_now")
        assert status == 0 and result["status"] == "done", result
        assert result["data"] == {"unacknowledged": 3}
        wait_for(lambda: len(_sent_ids(probe.payloads(EVENTS))) >= 6, what="the second send")
        wait_for(lambda: len(probe.payloads(STATUS)) > statuses, what="a fresh status")
    sent = _sent_ids(probe.payloads(EVENTS))
    assert {event_id: sent.count(event_id) >= 2 for event_id in sent} == {
        str(event.event_id): True for event in events
    }


def test_remove_person_leaves_nothing_of_them_in_the_database_files(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    config = terminal_config(tmp_path, broker.url)
    _enroll(config.database_path)
    with running_terminal(tmp_path, config) as (central, _worker):
        status, result = central.send(capsys, "remove_person", "person_id=E7777")
        assert status == 0 and result["status"] == "done", result
        assert result["data"] == {"removed": True, "templates": 2, "qr_key_ids": 1}
        status, again = central.send(capsys, "remove_person", "person_id=E7777")
        assert status == 0 and again["detail"] == "not enrolled: nothing to remove"
        # The central side is told the enrollment is gone; only then is its id dropped.
        wait_for(lambda: _notices(config.database_path) == [("E1001",)], what="the notice")
    files = sorted(config.storage.data_dir.glob("kiosk.db*"))
    raw = b"".join(path.read_bytes() for path in files)
    for trace in (b"E7777", b"Zyxw Quor", MARKER.tobytes(), (MARKER * 2).tobytes()):
        assert trace not in raw, f"{trace[:12]!r} is still in {[p.name for p in files]}"
    assert b"Kept Person" in raw


def test_a_command_delivered_twice_runs_once_and_gets_the_same_result(
    tmp_path: Path, broker: Mosquitto
):
    config = terminal_config(tmp_path, broker.url)
    _enroll(config.database_path)
    key = make_key(tmp_path / "keys", "HR1")
    command, message = build_command(
        key, "HR1", "kiosk-01", "remove_person", {"person_id": "E7777"}
    )
    with running_terminal(tmp_path, config, key) as (central, _worker):
        central.publish_raw(message)
        central.publish_raw(message)
        first, second = central.wait_results(2)
    with running_terminal(tmp_path, config, key) as (central, _worker):  # after a restart too
        central.publish_raw(message)
        (third,) = central.wait_results(1)
    assert first == second == third
    assert first.command_id == command.command_id and first.status == "done"
    assert first.data == {"removed": True, "templates": 2, "qr_key_ids": 1}
    rows = tables(config.database_path)
    assert [(r[0], r[1]) for r in rows["commands_done"]] == [
        (str(command.command_id), "remove_person")
    ]


def test_report_diagnostics_through_the_library_returns_the_checks_but_the_camera(
    tmp_path: Path, broker: Mosquitto
):
    config = terminal_config(tmp_path, broker.url)
    with running_terminal(tmp_path, config) as (central, _worker):
        command, message = build_command(central.key, "HR1", "kiosk-01", "report_diagnostics")
        options = LinkOptions(url=broker.url, client_id="hr-system")
        sender = CommandSender(options, Topics(), "kiosk-01")
        try:
            sender.send(message, timeout_s=30)
            result = sender.wait_result(command.command_id, timeout_s=60)
        finally:
            sender.close()
    assert result is not None and result.status == "done", result
    assert result.data is not None
    checks = {check["name"]: check["status"] for check in result.data["checks"]}
    names = {"provisioning", "models", "disk", "database", "clock", "broker", "tls"}
    names |= {"credentials", "qr-keys", "schedule", "screen", "liveness", "face-data"}
    assert set(checks) == names
    assert checks["broker"] == "pass" and checks["database"] != "fail"


def test_set_setting_is_stored_the_kiosk_restarts_and_config_loading_applies_it(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    config = terminal_config(tmp_path, broker.url)
    keys = tmp_path / "keys"
    toml = config_toml(tmp_path / "kiosk.toml", config.storage.data_dir, broker.url, keys)
    before = load_config(toml)
    assert before.terminal.language == "zh"
    with running_terminal(tmp_path, config) as (central, worker):
        args = ("key=terminal.language", "value=en")
        status, result = central.send(capsys, "set_setting", *args)
        assert status == 0 and result["status"] == "done", result
        assert "applies after restart" in result["detail"]
        wait_for(lambda: worker.state.restart_requested, what="the restart request")
    restarted = load_config(toml)
    assert restarted.terminal.language == "en"
    assert restarted.model_dump(exclude={"terminal"}) == before.model_dump(exclude={"terminal"})


def _signed(key: object, payload: dict[str, object], key_id: str = "HR1") -> bytes:
    return sign_payload(CommandEnvelope, json.dumps(payload).encode(), key, key_id)  # type: ignore[arg-type]


def test_refused_commands_are_answered_with_the_reason_and_change_nothing(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    config = terminal_config(tmp_path, broker.url)
    _enroll(config.database_path)
    key = make_key(tmp_path / "keys", "HR1")
    stranger = make_key(None, "HR1")
    remove = {"person_id": "E7777"}
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    unsigned_cmd, signed = build_command(key, "HR1", "kiosk-01", "remove_person", remove)
    unsigned = json.dumps({k: v for k, v in json.loads(signed).items() if k != "signature"})
    cases = {
        "unsigned": (unsigned_cmd.command_id, unsigned.encode()),
        "bad signature": _pair(build_command(stranger, "HR1", "kiosk-01", "remove_person", remove)),
        "unknown key 'HR9'": _pair(
            build_command(stranger, "HR9", "kiosk-01", "remove_person", remove)
        ),
        "for terminal 'kiosk-02'": _pair(
            build_command(key, "HR1", "kiosk-02", "remove_person", remove)
        ),
        "expired at": _pair(
            build_command(key, "HR1", "kiosk-01", "remove_person", remove, 60, issued_at=long_ago)
        ),
    }
    now = datetime.now(UTC)
    times = {"issued_at": now.isoformat(), "expires_at": (now + timedelta(hours=1)).isoformat()}
    reboot: dict[str, object] = {
        "schema_version": 1,
        "command_id": str(uuid.uuid4()),
        "terminal_id": "kiosk-01",
        **times,
        "kind": "reboot",
        "args": {},
    }
    cases["unknown command kind 'reboot'"] = (
        uuid.UUID(str(reboot["command_id"])),
        _signed(key, reboot),
    )
    no_args = {**reboot, "command_id": str(uuid.uuid4()), "kind": "remove_person"}
    cases["person_id: Field required"] = (
        uuid.UUID(str(no_args["command_id"])),
        _signed(key, no_args),
    )
    with running_terminal(tmp_path, config, key) as (central, worker):
        for _command_id, message in cases.values():
            central.publish_raw(message)
        central.wait_results(len(cases))
        args = ("key=storage.data_dir", "value=/tmp")
        status, result = central.send(capsys, "set_setting", *args)
        assert status == 1 and result["status"] == "refused", result
        assert "'storage.data_dir' cannot be set remotely" in result["detail"]
        results = central.wait_results(len(cases) + 1)
        assert not worker.stop.is_set()
    by_id = {result.command_id: result for result in results}
    for case, (command_id, _message) in cases.items():
        assert by_id[command_id].status == "refused" and case in by_id[command_id].detail, case
    rows = tables(config.database_path)
    assert rows["commands_done"] == [] and rows["settings_override"] == []
    assert sorted(r[0] for r in rows["people"]) == ["E1001", "E7777"]
    assert len(rows["templates"]) == 3 and len(rows["person_qr_keys"]) == 1


def _pair(built: tuple[Command, bytes]) -> tuple[uuid.UUID, bytes]:
    return built[0].command_id, built[1]


def test_overrides_apply_at_load_and_bad_ones_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    from terminal.store.settings import store_setting

    data = tmp_path / "data"
    toml = tmp_path / "kiosk.toml"
    toml.write_text(f'[storage]\ndata_dir = "{data}"\n[qr]\nenabled = false\n'
                    '[verification]\nmode = "face"\n')  # fmt: skip
    db = open_database(data / "kiosk.db")
    overrides: list[tuple[str, str | int]] = [
        ("terminal.language", "en"),
        ("recognition.repeat_window_s", 90),
        ("verification.mode", "qr"),  # the TOML switches QR codes off: no longer valid
        ("liveness.mode", "sometimes"),  # not a mode
    ]
    for key, value in overrides:
        store_setting(db, key, value, "c", lambda _conn: None)
    with write_transaction(db) as conn:
        conn.execute("INSERT INTO settings_override VALUES ('qr.static_badges', '{x', 't', NULL)")
        conn.execute(
            "INSERT INTO settings_override VALUES ('storage.data_dir', '\"/\"', 't', NULL)"
        )
    db.conn.close()
    with caplog.at_level("WARNING", logger="terminal.store.settings"):
        config = load_config(toml)
    assert (config.terminal.language, config.recognition.repeat_window_s) == ("en", 90.0)
    assert (config.verification.mode, config.liveness.mode) == ("face", "passive")
    assert config.qr.static_badges is True and config.storage.data_dir == data
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    ignored = ["verification.mode", "liveness.mode", "qr.static_badges", "storage.data_dir"]
    assert sorted(m.split()[4] for m in warned) == sorted(ignored), warned
    (data / "kiosk.db").write_bytes(b"not a database at all" * 100)
    caplog.clear()
    with caplog.at_level("WARNING", logger="terminal.store.settings"):
        assert load_config(toml).terminal.language == "zh"
    assert "setting overrides not read" in caplog.text


def test_commands_done_is_a_table_of_the_kiosk_database(tmp_path: Path):
    from terminal.store.commands_done import CommandStore

    store = CommandStore(open_database(tmp_path / "kiosk.db"))
    command_id = uuid.uuid4()
    assert store.result_of(command_id) is None
    store.save(command_id, "sync_now", b'{"x": 1}', datetime.now(UTC) - timedelta(days=31))
    assert store.result_of(command_id) == b'{"x": 1}'
    assert store.purge(datetime.now(UTC)) == 1 and store.kinds() == {}


def test_a_command_the_database_fails_stays_unacknowledged_in_order_and_runs_once_it_works(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    """A raw sqlite3 error (``person_qr_keys`` renamed away) is the database's problem, not the
    command's: nothing is answered or recorded, the message is not PUBACKed (after a restart
    the broker delivers it again), the command behind it waits its turn, and both run, in
    order, once the table is back."""
    config = terminal_config(tmp_path, broker.url)
    _enroll(config.database_path)
    key = make_key(tmp_path / "keys", "HR1")
    remove, remove_message = build_command(
        key, "HR1", "kiosk-01", "remove_person", {"person_id": "E7777"}
    )
    sync_now, sync_now_message = build_command(key, "HR1", "kiosk-01", "sync_now")
    _rename_table(config.database_path, "person_qr_keys", "person_qr_keys_away")
    caplog.set_level(logging.WARNING)
    with running_terminal(tmp_path, config, key) as (central, worker):
        central.publish_raw(remove_message)
        central.publish_raw(sync_now_message)
        wait_for(
            lambda: central.results() or _kept_unacknowledged(caplog) >= 2,
            what="the first attempts",
        )
        assert central.results() == []
        assert worker.state.waiting_messages == 2
        assert "no such table: person_qr_keys" in (worker.state.last_error or "")
    assert tables(config.database_path)["commands_done"] == []
    failures = _kept_unacknowledged(caplog)
    with running_terminal(tmp_path, config, key) as (central, worker):
        wait_for(lambda: _kept_unacknowledged(caplog) > failures, what="the broker's redelivery")
        assert central.results() == []
        _rename_table(config.database_path, "person_qr_keys_away", "person_qr_keys")
        results = central.wait_results(2)
        wait_for(lambda: worker.state.waiting_messages == 0, what="the queue to empty")
        assert worker.state.failed_messages == 0
    assert [(r.command_id, r.status) for r in results] == [
        (remove.command_id, "done"),
        (sync_now.command_id, "done"),
    ]
    assert results[0].data == {"removed": True, "templates": 2, "qr_key_ids": 1}
    rows = tables(config.database_path)
    assert [r[0] for r in rows["people"]] == ["E1001"]
    assert sorted(r[1] for r in rows["commands_done"]) == ["remove_person", "sync_now"]
    answered = [r for r in caplog.records if r.name == "terminal.sync.commands"]
    assert not [r for r in answered if r.levelno >= logging.WARNING]  # not refused, not failed


def test_deeply_nested_or_oversized_commands_are_refused_as_malformed_without_a_traceback(
    tmp_path: Path, broker: Mosquitto, caplog: pytest.LogCaptureFixture
):
    """Nesting 100,000 deep over the size limit, 10,000 deep within it, and 7,000 deep inside a
    correctly signed payload: each is refused with its reason, none raises RecursionError."""
    config = terminal_config(tmp_path, broker.url)
    key = make_key(tmp_path / "keys", "HR1")
    now = datetime.now(UTC)
    head = {
        "schema_version": 1,
        "command_id": str(uuid.uuid4()),
        "terminal_id": "kiosk-01",
        "issued_at": now.isoformat(),
        "expires_at": (now + timedelta(hours=1)).isoformat(),
        "kind": "sync_now",
    }
    deep_payload = json.dumps(head)[:-1] + ', "args": ' + "[" * 7000 + "]" * 7000 + "}"
    deep_signed = sign_payload(CommandEnvelope, deep_payload.encode(), key, "HR1")
    nested = "Invalid JSON: nested too deeply (recursion limit exceeded"
    cases = [
        (
            b"[" * 100_000 + b"]" * 100_000,
            f"200000 bytes, more than the {MAX_ENVELOPE_BYTES} a command envelope may have",
        ),
        (b"[" * 10_000 + b"]" * 10_000, f"not a command envelope: message: {nested}"),
        (deep_signed, f"malformed command: message: {nested}"),
    ]
    assert len(deep_signed) <= MAX_ENVELOPE_BYTES
    caplog.set_level(logging.INFO)
    with running_terminal(tmp_path, config, key) as (central, worker):
        for message, _reason in cases:
            central.publish_raw(message)
        good, good_message = build_command(key, "HR1", "kiosk-01", "sync_now")
        central.publish_raw(good_message)
        (result,) = central.wait_results(1)  # the refusals came first: no command id, no answer
        assert worker.state.failed_messages == 0
    assert (result.command_id, result.status) == (good.command_id, "done")
    refusals = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "terminal.sync.commands"
    ]
    assert len(refusals) == len(cases), refusals
    for refusal, (_message, reason) in zip(refusals, cases, strict=True):
        assert refusal.startswith(f"refused a command message: {reason}"), refusal
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
