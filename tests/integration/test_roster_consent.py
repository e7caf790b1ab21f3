"""Consent in rosters: only the templates of people who consented to their transfer leave the
central side; the others travel with their consent and no template. Real mosquitto, ``kiosk
roster publish`` and a kiosk's sync applying what it receives."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from cli.main import main
from common.mqtt.topics import Topics
from models.roster import RosterPerson
from terminal.sync.uplink import SyncWorker
from tests.consent_tools import ON_DEVICE, TRANSFER
from tests.delivery_tools import Probe, Threads
from tests.mosquitto import Mosquitto
from tests.roster_tools import (
    make_key,
    random_people,
    roster_config,
    wait_online,
    write_private_key,
)

VERSION = "9.9.9-test"
ROSTER = Topics().roster("kiosk-01")
STATUS = Topics().status("kiosk-01")


def _people() -> list[RosterPerson]:
    """P00001 (transfer), P00002 (on_device), P00003 (no consent), each with one template."""
    shared, on_device, nobody = random_people(3)
    return [
        shared.model_copy(update={"consent": TRANSFER}),
        on_device.model_copy(update={"consent": ON_DEVICE}),
        nobody.model_copy(update={"consent": None}),
    ]


def test_only_templates_whose_consent_allows_transfer_leave_the_central_side(
    tmp_path: Path, broker: Mosquitto, capsys: pytest.CaptureFixture[str]
):
    people = _people()
    assert all(len(p.templates) == 1 for p in people)
    people_file = tmp_path / "people.json"
    people_file.write_text(json.dumps([p.model_dump(mode="json") for p in people]))
    withheld = [t.embedding for p in people[1:] for t in p.templates]
    secrets = withheld + [base64.b64encode(e) for e in withheld]
    key = write_private_key(make_key(tmp_path / "keys", "HR1"), tmp_path / "hr1.pem")
    config = roster_config(tmp_path / "kiosk", broker.url, tmp_path / "keys")
    probe = Probe(broker.url, "test-roster-recorder")
    try:
        probe.subscribe(STATUS)
        probe.subscribe(ROSTER)
        with Threads() as threads:
            worker = SyncWorker(config, threads.stop, VERSION)
            threads.start(worker.run, "sync")
            wait_online(probe)
            command = ["roster", "publish", "--broker", broker.url, "--terminal", "kiosk-01"]
            command += ["--people", str(people_file), "--key", str(key), "--key-id", "HR1"]
            assert main([*command, "--version", "5", "--wait", "30"]) == 0
            assert worker.state.roster_version == 5
        messages = probe.payloads(ROSTER)
    finally:
        probe.close()
    err = capsys.readouterr().err
    assert "face templates of 2 people left out of the roster" in err
    assert "(P00002, P00003)" in err

    # On the wire: the transfer person's template only; everyone's consent as it was given.
    assert messages
    sent: dict[str, dict[str, object]] = {}
    for message in messages:
        payload = base64.b64decode(json.loads(message)["payload"])
        for secret in secrets:
            assert secret not in message and secret not in payload
        for person in json.loads(payload)["people"]:
            sent[person["person_id"]] = person
    assert sorted(sent) == ["P00001", "P00002", "P00003"]
    assert len(sent["P00001"]["templates"]) == 1  # type: ignore[arg-type]
    assert sent["P00002"]["templates"] == [] and sent["P00003"]["templates"] == []
    assert [sent[p]["consent"] for p in sorted(sent)] == [
        TRANSFER.model_dump(mode="json"),
        ON_DEVICE.model_dump(mode="json"),
        None,
    ]

    # At the kiosk: the transfer person's template and each person's consent scope.
    templates = _rows(config.database_path, "SELECT person_id, embedding FROM templates")
    assert templates == [("P00001", people[0].templates[0].embedding)]
    scopes = _rows(
        config.database_path, "SELECT person_id, consent_scope FROM people ORDER BY person_id"
    )
    assert scopes == [("P00001", "transfer"), ("P00002", "on_device"), ("P00003", None)]
    raw = b"".join(p.read_bytes() for p in config.database_path.parent.glob("kiosk.db*"))
    for secret in withheld:
        assert secret not in raw


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in conn.execute(query)]
    finally:
        conn.close()
