"""The central databases on a real PostgreSQL server (and the same checks on SQLite where they
apply): schema versions, claims that race, a server that restarts, values it refuses, chunked
reads, and one-line errors that never show a password.

The receiver and the fleet on PostgreSQL: test_receiver.py, test_receiver_faults.py and
test_loadgen.py run on both (the ``central_db`` fixture).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from central.db.migrations import Schema, open_database
from central.onboarding.tokens import ClaimOutcome, TokenStore
from central.receiver.schema import POSTGRESQL_MIGRATIONS, RECEIVER_SCHEMA
from central.receiver.service import ReceiverStore
from central.records.store import RecordsStore
from common.errors import StoreError
from models.messages import CheckInEvent
from tests.postgres import LocalPostgres
from tests.receiver_tools import raw_event


def _events(count: int, terminal: str = "kiosk-01") -> list[CheckInEvent]:
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    return [
        CheckInEvent.model_validate(
            raw_event(seq, terminal_id=terminal)
            | {"captured_at": (start + timedelta(minutes=seq)).isoformat()}
        )
        for seq in range(1, count + 1)
    ]


def test_two_services_opening_a_new_database_at_once_make_its_tables_once(postgres_url: str):
    errors: list[BaseException] = []
    stores: list[ReceiverStore] = []

    def open_one() -> None:
        try:
            stores.append(ReceiverStore(postgres_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(stores) == 4
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT schema, version FROM kiosk_schema_versions").fetchall()
    assert rows == [("receiver", len(POSTGRESQL_MIGRATIONS))]
    for store in stores:
        store.close()


def test_a_database_of_a_newer_release_is_refused_and_left_untouched(postgres_url: str):
    ReceiverStore(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE kiosk_schema_versions SET version = 99")
    latest = len(POSTGRESQL_MIGRATIONS)
    with pytest.raises(StoreError, match=f"schema version 99, newer than the {latest} "):
        open_database(postgres_url, RECEIVER_SCHEMA)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT version FROM kiosk_schema_versions").fetchone() == (99,)


def test_a_database_of_the_release_before_gets_the_hr_records_tables(postgres_url: str):
    first_release = Schema("receiver", "receiver database", (), POSTGRESQL_MIGRATIONS[:1])
    open_database(postgres_url, first_release).close()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('leave_periods')").fetchone() == (None,)
    store = RecordsStore(postgres_url)
    assert store.leave_between(datetime(2026, 1, 1, tzinfo=UTC), datetime.now(UTC)) == []
    store.close()
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SELECT version FROM kiosk_schema_versions").fetchone()
    assert version == (len(POSTGRESQL_MIGRATIONS),)


def test_a_token_claimed_by_two_services_at_once_has_one_owner(postgres_url: str):
    stores = [TokenStore(postgres_url) for _ in range(6)]
    outcomes: list[ClaimOutcome] = []
    start = threading.Barrier(len(stores))

    def claim(store: TokenStore, index: int) -> None:
        start.wait()
        claimed = store.claim("jti-1", "kiosk-01", f"key-{index}", lambda: f"cert-{index}",
                              client_id="c", hostname="h", software="s")  # fmt: skip
        outcomes.append(claimed.outcome)

    threads = [threading.Thread(target=claim, args=(s, i)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([ClaimOutcome.NEW] + [ClaimOutcome.USED] * 5)
    assert len(stores[0].uses()) == 1
    for store in stores:
        store.close()


def test_values_postgresql_cannot_hold_are_refused_alone(postgres_url: str):
    good = _events(2)
    bad_id = uuid.uuid4()
    too_big = CheckInEvent.model_construct(
        **(good[0].model_dump() | {"seq": 2**63, "event_id": bad_id})
    )
    with_nul = good[1].model_copy(update={"event_id": uuid.uuid4(), "person_id": "E\x001"})
    store = ReceiverStore(postgres_url)
    outcome = store.store([good[0], too_big, with_nul, good[1]], topic="t")
    assert outcome.new == good
    assert len(outcome.refused) == 2
    assert [r.event_id for r in store.reject_records()] == [str(bad_id), str(with_nul.event_id)]
    assert [row["seq"] for row in store.events()] == [1, 2]


def test_the_receiver_store_survives_a_server_restart(tmp_path: object):
    with LocalPostgres() as server:
        url = server.create_database("central")
        store = ReceiverStore(url)
        events = _events(4)
        store.store(events[:2])
        server.stop_server()
        with pytest.raises(StoreError) as down:
            store.store(events[2:])
        assert "kiosk@127.0.0.1" in str(down.value) and "\n" not in str(down.value)
        server.start_server()
        store.store(events[2:])  # a new connection, the same store
        assert store.count() == 4
        store.close()


def test_chunked_reads_give_the_events_of_one_read(central_db: str):
    store = ReceiverStore(central_db)
    events = _events(25, "kiosk-02") + _events(25, "kiosk-01")
    store.store(events)
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    expected = store.events_between(start, end)
    assert list(store.iter_events_between(start, end, chunk_size=7)) == expected
    assert [e.terminal_id for e in expected[:2]] == ["kiosk-01", "kiosk-02"]  # time, terminal


def test_an_unreachable_server_is_one_line_without_the_password():
    url = "postgresql://hr:s3cret@127.0.0.1:1/central"
    with pytest.raises(StoreError) as refused:
        ReceiverStore(url)
    message = str(refused.value)
    assert "s3cret" not in message and "\n" not in message
    assert message.startswith("postgresql://hr@127.0.0.1:1/central: cannot connect")
