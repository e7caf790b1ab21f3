"""The numbered schema migrations of the three databases (kiosk.db, the receiver's, the
enrollment tokens').

Every shape of each database found in the field is built here with the DDL of the release that
made it (copied from the git history, with a few rows), then opened with the real opener: it
must end at the latest ``user_version`` with exactly the schema of a new file, its rows intact
and usable through the store classes. Also: an up-to-date file is only read (nothing reaches
its WAL or its main file), a file of a newer release is refused and left as it was, two openers
racing on an old file both succeed and only one migrates, and a failing migration leaves the
file untouched.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from central.onboarding.token_schema import LATEST as TOKENS_LATEST
from central.onboarding.tokens import ClaimOutcome, TokenStore, TokenUse
from central.receiver.schema import LATEST as RECEIVER_LATEST
from central.receiver.schema import MIGRATIONS as RECEIVER_MIGRATIONS
from central.receiver.store import ConflictKind, ReceiverStore, Reject
from common.errors import StoreError
from common.sqlite import migrate
from models.messages import CheckInEvent, Direction, Method, Verdict, format_rfc3339
from terminal.store.commands_done import CommandStore
from terminal.store.database import open_database, open_or_quarantine
from terminal.store.gallery import Gallery
from terminal.store.outbox import CheckInDraft, Outbox
from terminal.store.rosters import RosterStore
from terminal.store.schema import LATEST as KIOSK_LATEST
from terminal.store.settings import read_overrides, store_setting

TERMINAL = "gate-1"
SITE = "hq"
ATTENDANCE = ("direction", "schedule_ref", "verdict", "verdict_minutes")

# --- kiosk.db as earlier releases made it -------------------------------------------------

KIOSK_V1_CORE = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    person_id TEXT NOT NULL,
    method TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'acked')),
    attempts INTEGER NOT NULL DEFAULT 0,
    committed_at TEXT NOT NULL,
    sent_at TEXT,
    acked_at TEXT
);
CREATE INDEX IF NOT EXISTS events_state_seq ON events (state, seq);
CREATE TABLE IF NOT EXISTS people (
    person_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS templates (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    model_digest TEXT NOT NULL,
    dim INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    source TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS templates_person ON templates (person_id);
INSERT OR IGNORE INTO meta (key, value) VALUES ('last_seq', '0');
"""
"""The first release (2343cf0 to 54014d6), which wrote user_version 1."""

KIOSK_QR_TABLES = """
CREATE TABLE IF NOT EXISTS used_codes (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    person_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT NOT NULL,
    PRIMARY KEY (key_id, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS used_codes_expiry ON used_codes (expires_at);
CREATE TABLE IF NOT EXISTS used_codes_horizon (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    horizon INTEGER NOT NULL
);
"""
"""Added to the schema script by the signed-QR release (167f820), still at user_version 1."""

KIOSK_LAZY_TABLES = """
CREATE TABLE IF NOT EXISTS person_qr_keys (
    person_id TEXT NOT NULL REFERENCES people (person_id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    PRIMARY KEY (person_id, key_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roster_staging (
    roster_version INTEGER NOT NULL,
    chunk_index INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (roster_version, chunk_index)
);
CREATE TABLE IF NOT EXISTS roster_staging_people (
    roster_version INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    name TEXT NOT NULL,
    qr_key_ids TEXT NOT NULL,
    PRIMARY KEY (roster_version, person_id)
);
CREATE TABLE IF NOT EXISTS roster_staging_templates (
    roster_version INTEGER NOT NULL,
    person_id TEXT NOT NULL,
    engine TEXT NOT NULL,
    model_digest TEXT NOT NULL,
    dim INTEGER NOT NULL,
    embedding BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS commands_done (
    command_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    result TEXT NOT NULL,
    done_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings_override (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    set_at TEXT NOT NULL,
    command_id TEXT
);
"""
"""Created lazily since 167f820 (first roster, first command, first set_setting)."""

KIOSK_SCHEDULE_TABLES = """
CREATE TABLE IF NOT EXISTS roster_staging_schedule (
    roster_version INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS roster_schedule (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    roster_version INTEGER NOT NULL,
    schedule TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
"""
"""Created lazily with the other roster tables since 11766d5 (schedules with the roster)."""

KIOSK_ATTENDANCE_ADDED = """
ALTER TABLE events ADD COLUMN direction TEXT;
ALTER TABLE events ADD COLUMN schedule_ref TEXT;
ALTER TABLE events ADD COLUMN verdict TEXT;
ALTER TABLE events ADD COLUMN verdict_minutes INTEGER;
CREATE INDEX IF NOT EXISTS events_captured ON events (captured_at);
"""
"""What the attendance release (c6c4ce1, user_version 2) did to a file of an earlier one."""

KIOSK_V2_CORE = (
    KIOSK_V1_CORE.replace(
        "    acked_at TEXT\n);",
        "    acked_at TEXT,\n    direction TEXT,\n    schedule_ref TEXT,\n    verdict TEXT,\n"
        "    verdict_minutes INTEGER\n);",
    )
    + KIOSK_QR_TABLES
    + "CREATE INDEX IF NOT EXISTS events_captured ON events (captured_at);\n"
)
"""A file the attendance release (c6c4ce1 on) created."""


@dataclass(frozen=True)
class KioskShape:
    """One shape of kiosk.db in the field: its user_version, its DDL, which tables it has."""

    name: str
    user_version: int
    ddl: str
    codes: bool = False
    lazy: bool = False
    schedule_tables: bool = False


KIOSK_SHAPES = [
    KioskShape("v1, first release", 1, KIOSK_V1_CORE),
    KioskShape("v1, signed QR codes", 1, KIOSK_V1_CORE + KIOSK_QR_TABLES, codes=True),
    KioskShape(
        "v1, with roster, command and setting tables",
        1,
        KIOSK_V1_CORE + KIOSK_QR_TABLES + KIOSK_LAZY_TABLES,
        codes=True,
        lazy=True,
    ),
    KioskShape(
        "v2, upgraded from v1 by the attendance release",
        2,
        KIOSK_V1_CORE + KIOSK_QR_TABLES + KIOSK_LAZY_TABLES + KIOSK_ATTENDANCE_ADDED,
        codes=True,
        lazy=True,
    ),
    KioskShape("v2, new, no lazy tables yet", 2, KIOSK_V2_CORE, codes=True),
    KioskShape(
        "v2, with every lazy table",
        2,
        KIOSK_V2_CORE + KIOSK_LAZY_TABLES + KIOSK_SCHEDULE_TABLES,
        codes=True,
        lazy=True,
        schedule_tables=True,
    ),
    KioskShape(
        "v1 written over v2 by an older release run again",
        1,
        KIOSK_V2_CORE + KIOSK_LAZY_TABLES + KIOSK_SCHEDULE_TABLES,
        codes=True,
        lazy=True,
        schedule_tables=True,
    ),
    KioskShape("v0, a crash before the version was written", 0, KIOSK_V2_CORE, codes=True),
]

# --- the receiver's database as earlier releases made it (user_version never set: 0) -------

RECEIVER_FIRST = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    site TEXT NOT NULL,
    person_id TEXT NOT NULL,
    method TEXT NOT NULL,
    distance REAL,
    captured_at TEXT NOT NULL,
    clock_synced INTEGER NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_terminal_seq ON events (terminal_id, seq);
CREATE TABLE IF NOT EXISTS terminals (
    terminal_id TEXT PRIMARY KEY,
    duplicates INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rejects (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    payload_head TEXT NOT NULL
);
"""
"""The first release (e3ecbe3)."""

RECEIVER_INDEX = (
    "CREATE INDEX IF NOT EXISTS events_captured ON events (captured_at, terminal_id, seq);\n"
)

RECEIVER_SCHEDULE_ADDED = """
ALTER TABLE events ADD COLUMN direction TEXT;
ALTER TABLE events ADD COLUMN schedule_ref TEXT;
ALTER TABLE events ADD COLUMN verdict TEXT;
ALTER TABLE events ADD COLUMN verdict_minutes INTEGER;
"""
"""What the schedule release (c6c4ce1) did, column by column, to a file of the first one."""

RECEIVER_SHAPES = {
    "first release": RECEIVER_FIRST,
    "schedule release, new file": RECEIVER_FIRST.replace(
        "    received_at TEXT NOT NULL\n);",
        "    received_at TEXT NOT NULL,\n    direction TEXT,\n    schedule_ref TEXT,\n"
        "    verdict TEXT,\n    verdict_minutes INTEGER\n);",
        1,
    )
    + RECEIVER_INDEX,
    "first release upgraded by the schedule release": RECEIVER_FIRST
    + RECEIVER_SCHEDULE_ADDED
    + RECEIVER_INDEX,
    "an upgrade cut short after one column": RECEIVER_FIRST
    + "ALTER TABLE events ADD COLUMN direction TEXT;\n",
}

TOKENS_FIRST = """
CREATE TABLE IF NOT EXISTS token_uses (
    jti TEXT PRIMARY KEY,
    terminal_id TEXT NOT NULL,
    key_sha256 TEXT NOT NULL,
    certificate TEXT NOT NULL,
    client_id TEXT NOT NULL,
    hostname TEXT NOT NULL,
    software TEXT NOT NULL,
    used_at TEXT NOT NULL
);
"""
"""The token database of every release before the migrations (e06c60e on)."""

# --- helpers ------------------------------------------------------------------------------


def _build(path: Path, ddl: str, user_version: int) -> sqlite3.Connection:
    """A file in WAL mode (as every release left it) with ``ddl`` run and ``user_version`` set;
    the connection stays open for the rows (commit and close it)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(ddl)
    conn.execute(f"PRAGMA user_version = {user_version}")
    return conn


def _schema(path: Path) -> dict[str, Any]:
    """Every table and index: its SQL (whitespace and case aside), columns, indexes, foreign
    keys; autoindexes (PRIMARY KEY, UNIQUE) by their columns."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        described: dict[str, Any] = {}
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        for kind, name, table, sql in rows:
            text = None if sql is None else re.sub(r"\s+", "", sql).lower()
            if kind == "table":
                indexes = conn.execute(f"PRAGMA index_list('{name}')").fetchall()
                details: tuple[Any, ...] = (
                    conn.execute(f"PRAGMA table_xinfo('{name}')").fetchall(),
                    sorted(row[1:] for row in indexes),
                    conn.execute(f"PRAGMA foreign_key_list('{name}')").fetchall(),
                )
            else:
                details = (conn.execute(f"PRAGMA index_xinfo('{name}')").fetchall(),)
            described[name] = (kind, table, text, details)
        return described
    finally:
        conn.close()


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


Opener = Callable[[Path], Callable[[], None]]
"""Opens a database with the real opener; returns how to close it."""


def _open_kiosk(path: Path) -> Callable[[], None]:
    return open_database(path).conn.close


def _open_receiver(path: Path) -> Callable[[], None]:
    return ReceiverStore(path).close


def _open_tokens(path: Path) -> Callable[[], None]:
    return TokenStore(path).close


DATABASES: dict[str, tuple[Opener, int]] = {
    "kiosk": (_open_kiosk, KIOSK_LATEST),
    "receiver": (_open_receiver, RECEIVER_LATEST),
    "tokens": (_open_tokens, TOKENS_LATEST),
}


@pytest.fixture(scope="module")
def fresh_schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The schema of a new file of each database, made by its real opener."""
    schemas = {}
    for name, (opener, _latest) in DATABASES.items():
        path = tmp_path_factory.mktemp("fresh") / f"{name}.db"
        opener(path)()
        schemas[name] = _schema(path)
    return schemas


def _event(
    seq: int, person_id: str = "E1001", method: Method = Method.QR, **fields: Any
) -> CheckInEvent:
    return CheckInEvent(
        event_id=uuid.uuid4(),
        seq=seq,
        terminal_id=TERMINAL,
        site=SITE,
        person_id=person_id,
        method=method,
        captured_at=datetime(2026, 11, 20, 8, seq, tzinfo=UTC),
        clock_synced=True,
        **fields,
    )


def _old_payload(event: CheckInEvent) -> str:
    """The event's JSON as a release before the attendance fields wrote it."""
    return event.model_dump_json(exclude=set(ATTENDANCE))


# --- kiosk.db -----------------------------------------------------------------------------

COMMAND_ID = uuid.UUID("8a0e5f0c-2f43-4c55-9a55-3c7f2a1d9e01")


def _fill_kiosk(conn: sqlite3.Connection, shape: KioskShape) -> list[CheckInEvent]:
    """An acknowledged and a pending check-in, one person with a template, and a row in each
    optional table the shape has; returns the two events."""
    acked, pending = _event(1), _event(2)
    insert = (
        "INSERT INTO events (seq, event_id, person_id, method, captured_at, payload, state,"
        " attempts, committed_at, sent_at, acked_at) VALUES (?, ?, ?, 'qr', ?, ?, ?, ?, ?, ?, ?)"
    )
    stamp = "2026-11-20T08:00:00.000Z"
    for event, state, attempts, done in ((acked, "acked", 1, stamp), (pending, "pending", 0, None)):
        conn.execute(
            insert,
            (event.seq, str(event.event_id), event.person_id, format_rfc3339(event.captured_at),
             _old_payload(event), state, attempts, stamp, done, done),
        )  # fmt: skip
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'last_seq'")
    conn.execute("INSERT INTO people VALUES ('E1001', 'Ann Old', ?)", (stamp,))
    conn.execute(
        "INSERT INTO templates (person_id, engine, model_digest, dim, embedding, source,"
        " created_at) VALUES ('E1001', 'sface', 'd1', 2, ?, 'photo.jpg', ?)",
        (b"\x00" * 8, stamp),
    )
    if shape.codes:
        conn.execute("INSERT INTO used_codes VALUES ('HR1', 'n1', 'E1001', 1.8e9, ?)", (stamp,))
        conn.execute("INSERT INTO used_codes_horizon VALUES (1, 1700000000)")
    if shape.lazy:
        conn.execute("INSERT INTO meta VALUES ('roster_version', '4')")
        conn.execute("INSERT INTO person_qr_keys VALUES ('E1001', 'HR1')")
        conn.execute(
            "INSERT INTO commands_done VALUES (?, 'sync_now', '{\"status\": \"done\"}', ?,"
            " '2099-01-01T00:00:00.000Z')",
            (str(COMMAND_ID), stamp),
        )
        conn.execute(
            "INSERT INTO settings_override VALUES ('terminal.language', '\"en\"', ?, 'c1')",
            (stamp,),
        )
    if shape.schedule_tables:
        schedule = '{"version": 1, "shifts": [{"people": ["E1001"]}]}'
        conn.execute("INSERT INTO roster_schedule VALUES (1, 4, ?, ?)", (schedule, stamp))
    return [acked, pending]


@pytest.mark.parametrize("shape", KIOSK_SHAPES, ids=[shape.name for shape in KIOSK_SHAPES])
def test_every_kiosk_db_of_the_field_is_migrated_and_keeps_its_rows(
    tmp_path: Path, shape: KioskShape, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    path = tmp_path / "kiosk.db"
    conn = _build(path, shape.ddl, shape.user_version)
    acked, pending = _fill_kiosk(conn, shape)
    conn.commit()
    conn.close()

    db = open_database(path)
    try:
        outbox = Outbox(db, TERMINAL, SITE)
        assert outbox.due(10) == [pending]  # still due, as the old release left it
        assert [row.state for row in outbox.rows()] == ["acked", "pending"]
        assert outbox.rows()[0].event == acked
        at = datetime(2026, 11, 20, 9, tzinfo=UTC)
        draft = CheckInDraft("E1001", Method.FACE, at, 0.3, Direction.IN)
        new = outbox.commit_checkin(draft, clock_synced=True)
        assert new.seq == 3  # seq continues after the old file's
        assert outbox.due(10) == [pending, new]
        gallery = Gallery(db)
        assert [(p.person_id, p.name, p.templates) for p in gallery.people()] == [
            ("E1001", "Ann Old", 1)
        ]
        rosters = RosterStore(db)
        commands = CommandStore(db)
        if shape.lazy:
            assert rosters.current_version() == 4
            assert rosters.qr_key_ids("E1001") == ["HR1"]
            assert commands.result_of(COMMAND_ID) == b'{"status": "done"}'
            assert read_overrides(path) == [("terminal.language", '"en"')]
        else:
            assert rosters.current_version() is None and rosters.qr_key_ids("E1001") == []
            assert commands.result_of(COMMAND_ID) is None
            assert read_overrides(path) == []
        store_setting(db, "terminal.language", "zh", "c2", lambda _conn: None)
        assert read_overrides(path) == [("terminal.language", '"zh"')]
        if shape.codes:
            rows = db.conn.execute("SELECT key_id, nonce FROM used_codes").fetchall()
            assert rows == [("HR1", "n1")]
        gallery.remove("E1001")  # cascades to templates and QR key ids, scrubs schedules
        assert gallery.people() == []
        assert db.conn.execute("SELECT count(*) FROM person_qr_keys").fetchone() == (0,)
        if shape.schedule_tables:
            (text,) = db.conn.execute("SELECT schedule FROM roster_schedule").fetchone()
            assert "E1001" not in text
    finally:
        db.conn.close()
    assert _user_version(path) == KIOSK_LATEST
    assert _schema(path) == fresh_schemas["kiosk"]


def test_an_empty_kiosk_file_is_made_like_a_new_one(
    tmp_path: Path, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    path = tmp_path / "kiosk.db"
    path.touch()  # e.g. created by hand, or cut short before the first write
    db = open_database(path)
    assert (
        Outbox(db, TERMINAL, SITE)
        .commit_checkin(
            CheckInDraft("E1", Method.QR, datetime(2026, 11, 20, 9, tzinfo=UTC)), clock_synced=True
        )
        .seq
        == 1
    )
    db.conn.close()
    assert _user_version(path) == KIOSK_LATEST
    assert _schema(path) == fresh_schemas["kiosk"]


# --- the receiver's database --------------------------------------------------------------


def _receiver_row(event: CheckInEvent, received_at: str) -> tuple[Any, ...]:
    return (
        str(event.event_id), event.terminal_id, event.seq, event.site, event.person_id,
        event.method.value, event.distance, format_rfc3339(event.captured_at),
        int(event.clock_synced), received_at,
    )  # fmt: skip


@pytest.mark.parametrize("shape", list(RECEIVER_SHAPES))
def test_every_receiver_database_of_the_field_is_migrated_and_keeps_its_rows(
    tmp_path: Path, shape: str, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    path = tmp_path / "received.db"
    conn = _build(path, RECEIVER_SHAPES[shape], 0)
    old = [_event(1, method=Method.FACE, distance=0.31), _event(2, "E1002")]
    for event in old:
        conn.execute(
            "INSERT INTO events (event_id, terminal_id, seq, site, person_id, method, distance,"
            " captured_at, clock_synced, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            _receiver_row(event, "2026-11-20T09:00:00.000Z"),
        )
    conn.execute(f"INSERT INTO terminals VALUES ('{TERMINAL}', 3)")
    conn.execute(
        "INSERT INTO rejects (received_at, topic, reason, payload_head)"
        " VALUES ('2026-11-20T09:00:00.000Z', 'attendance/x/events', 'not JSON', '{oops')"
    )
    conn.commit()
    conn.close()

    store = ReceiverStore(path)
    try:
        assert store.count() == 2 and store.duplicates() == 3
        assert store.rejects() == [
            {"topic": "attendance/x/events", "reason": "not JSON", "payload_head": "{oops"}
        ]
        rows = store.events()
        assert [row["event_id"] for row in rows] == [str(e.event_id) for e in old]
        assert all(row[name] is None for row in rows for name in ATTENDANCE)
        new = _event(
            3, direction=Direction.OUT, schedule_ref="day@2026-11-20", verdict=Verdict.ON_TIME,
            verdict_minutes=0,
        )  # fmt: skip
        outcome = store.store([old[0], new], [Reject("t", "bad", b"x")])
        assert outcome.new == [new] and outcome.duplicates == [old[0]]
        assert store.duplicates() == 4 and len(store.rejects()) == 2
        start, end = datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
        assert store.events_between(start, end) == [*old, new]
        assert [s.missing for s in store.terminals()] == [0]
    finally:
        store.close()
    assert _user_version(path) == RECEIVER_LATEST
    assert _schema(path) == fresh_schemas["receiver"]


def test_a_receiver_database_at_version_1_gets_full_rejects_and_conflicts(
    tmp_path: Path, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    path = tmp_path / "received.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, path, RECEIVER_MIGRATIONS[:1], "receiver database")  # the release before
    stored = _event(1)
    conn.execute(
        "INSERT INTO events (event_id, terminal_id, seq, site, person_id, method, distance,"
        " captured_at, clock_synced, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        _receiver_row(stored, "2026-11-20T09:00:00.000Z"),
    )
    conn.execute(
        "INSERT INTO rejects (received_at, topic, reason, payload_head)"
        " VALUES ('2026-11-20T09:00:00.000Z', 'attendance/x/events', 'not JSON', '{oops')"
    )
    conn.close()

    store = ReceiverStore(path)
    try:
        (old,) = store.reject_records()
        assert (old.reason, old.terminal_id, old.event_id, old.payload) == (
            "not JSON", None, None, None,
        )  # fmt: skip
        changed = stored.model_copy(update={"person_id": "E1002"})
        reused = _event(1, "E1003")  # another event_id at the same seq
        outcome = store.store([changed, reused])
        assert outcome.new == [reused] and outcome.duplicates == []
        assert [(c.kind, c.stored_event_id) for c in store.conflicts()] == [
            (ConflictKind.EVENT_ID, str(stored.event_id)),
            (ConflictKind.SEQ, str(stored.event_id)),
        ]
        (summary,) = store.terminals()
        assert (summary.events, summary.conflicts, summary.reused_seqs) == (2, 1, 1)
    finally:
        store.close()
    assert _user_version(path) == RECEIVER_LATEST
    assert _schema(path) == fresh_schemas["receiver"]


# --- the enrollment tokens' database ------------------------------------------------------


def test_the_token_database_of_the_field_is_migrated_and_keeps_its_rows(
    tmp_path: Path, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    path = tmp_path / "tokens.db"
    conn = _build(path, TOKENS_FIRST, 0)
    used = TokenUse("jti-1", TERMINAL, "ab" * 32, "PEM", "client", "host", "kiosk 1.0", "t")
    conn.execute("INSERT INTO token_uses VALUES (?,?,?,?,?,?,?,?)", dataclasses.astuple(used))
    conn.commit()
    conn.close()

    store = TokenStore(path)
    try:
        assert store.get("jti-1") == used and store.uses() == [used]

        def never() -> str:
            raise AssertionError("a token used before gets no new certificate")

        again = store.claim(
            "jti-1", TERMINAL, "ab" * 32, never, client_id="c", hostname="h", software="s"
        )
        assert again.outcome == ClaimOutcome.AGAIN and again.use == used
        other = store.claim(
            "jti-1", "gate-2", "cd" * 32, never, client_id="c", hostname="h", software="s"
        )
        assert other.outcome == ClaimOutcome.USED
        first = store.claim(
            "jti-2", TERMINAL, "ab" * 32, lambda: "PEM2", client_id="c", hostname="h", software="s"
        )
        assert first.outcome == ClaimOutcome.NEW and len(store.uses()) == 2
    finally:
        store.close()
    assert _user_version(path) == TOKENS_LATEST
    assert _schema(path) == fresh_schemas["tokens"]


# --- every database: up to date, newer, racing, failing -------------------------------------


def _old_file(name: str, path: Path) -> None:
    """The oldest field shape of database ``name`` at ``path``, with a row."""
    if name == "kiosk":
        conn = _build(path, KIOSK_V1_CORE, 1)
        _fill_kiosk(conn, KIOSK_SHAPES[0])
    elif name == "receiver":
        conn = _build(path, RECEIVER_FIRST, 0)
        conn.execute(
            "INSERT INTO events (event_id, terminal_id, seq, site, person_id, method, distance,"
            " captured_at, clock_synced, received_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            _receiver_row(_event(1), "2026-11-20T09:00:00.000Z"),
        )
    else:
        conn = _build(path, TOKENS_FIRST, 0)
        conn.execute("INSERT INTO token_uses VALUES ('j', 't', 'k', 'c', 'i', 'h', 's', 'u')")
    conn.commit()
    conn.close()


_KEY_ROWS = {
    "kiosk": "SELECT seq, event_id, state, payload FROM events ORDER BY seq",
    "receiver": "SELECT event_id, seq, captured_at FROM events ORDER BY seq",
    "tokens": "SELECT jti, certificate FROM token_uses ORDER BY jti",
}


def _key_rows(name: str, path: Path) -> list[tuple[Any, ...]]:
    """The rows :func:`_old_file` put in database ``name`` (their columns of the first release)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(_KEY_ROWS[name]).fetchall()
    finally:
        conn.close()


def _state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("name", list(DATABASES))
@pytest.mark.parametrize("start", ["new", "migrated"])
def test_an_up_to_date_database_opens_without_writing_anything(
    tmp_path: Path, name: str, start: str
) -> None:
    opener, latest = DATABASES[name]
    path = tmp_path / f"{name}.db"
    if start == "migrated":
        _old_file(name, path)
    opener(path)()  # made or migrated; closing the last connection folds the WAL in
    wal = Path(f"{path}-wal")
    assert not wal.exists()
    before = _state(path)
    close = opener(path)
    try:
        # Any write, even of the same user_version, would append a frame to the WAL.
        assert not wal.exists() or wal.stat().st_size == 0
    finally:
        close()
    assert _state(path) == before
    assert _user_version(path) == latest


@pytest.mark.parametrize("name", list(DATABASES))
def test_a_database_of_a_newer_release_is_refused_and_left_untouched(
    tmp_path: Path, name: str
) -> None:
    opener, latest = DATABASES[name]
    path = tmp_path / f"{name}.db"
    opener(path)()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")  # WAL mode on open would change the header
    conn.execute(f"PRAGMA user_version = {latest + 1}")
    conn.close()
    before = _state(path)
    with pytest.raises(StoreError) as refused:
        opener(path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert f"schema version {latest + 1}, newer than the {latest} this program knows" in message
    assert "upgrade the software" in message
    assert _state(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no WAL, nothing aside


def test_open_or_quarantine_does_not_quarantine_a_newer_kiosk_db(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.db"
    open_database(path).conn.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {KIOSK_LATEST + 7}")
    conn.close()
    with pytest.raises(StoreError, match="upgrade the software"):
        open_or_quarantine(path)
    assert _user_version(path) == KIOSK_LATEST + 7
    assert not list(tmp_path.glob("*.corrupt-*"))


class _MigrationLog(logging.Handler):
    """What :mod:`common.sqlite` logs; ``started`` is set once ``wanted`` openers have read an
    old version and gone for the write lock."""

    def __init__(self, wanted: int) -> None:
        super().__init__(logging.INFO)
        self.wanted = wanted
        self.messages: list[str] = []
        self.started = threading.Event()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.messages.append(record.getMessage())
            if sum(", migrating to " in m for m in self.messages) >= self.wanted:
                self.started.set()


@contextmanager
def _watching_migrations(wanted: int) -> Iterator[_MigrationLog]:
    logger = logging.getLogger("common.sqlite")
    handler = _MigrationLog(wanted)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("name", list(DATABASES))
def test_two_openers_racing_on_an_old_file_both_succeed_and_it_is_migrated_once(
    tmp_path: Path, name: str, fresh_schemas: dict[str, dict[str, Any]]
) -> None:
    opener, latest = DATABASES[name]
    path = tmp_path / f"{name}.db"
    _old_file(name, path)
    rows_before = _key_rows(name, path)
    # Hold the write lock, so that both openers read the old version and queue up at their
    # BEGIN IMMEDIATE before either may migrate: the race, made certain.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            opener(path)()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(2)]
    with _watching_migrations(len(threads)) as log:
        for thread in threads:
            thread.start()
        try:
            assert log.started.wait(60), log.messages
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
            for thread in threads:
                thread.join(60)
    assert errors == []
    assert sum(" migrated from schema version " in m for m in log.messages) == 1, log.messages
    assert sum(" already migrated to version " in m for m in log.messages) == 1, log.messages
    assert _user_version(path) == latest
    assert _schema(path) == fresh_schemas[name]
    assert _key_rows(name, path) == rows_before and rows_before


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = _build(path, "CREATE TABLE kept (x INTEGER);", 1)
    conn.execute("INSERT INTO kept VALUES (1)")
    conn.commit()
    conn.close()
    conn = sqlite3.connect(path, isolation_level=None)

    def second(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE added (y INTEGER)")
        c.execute("INSERT INTO kept VALUES (2)")

    def third(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO missing VALUES (1)")

    def first(c: sqlite3.Connection) -> None:
        raise AssertionError("a file at version 1 does not run migration 1")

    with pytest.raises(StoreError, match="no such table: missing"):
        migrate(conn, path, (first, second, third), "test database")
    assert not conn.in_transaction
    conn.close()
    assert _user_version(path) == 1
    assert set(_schema(path)) == {"kept"}
    check = sqlite3.connect(path)
    assert check.execute("SELECT x FROM kept").fetchall() == [(1,)]
    check.close()


@pytest.mark.parametrize("name", list(DATABASES))
def test_a_new_file_is_created_quietly_and_an_old_one_migrated_aloud(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    opener, latest = DATABASES[name]
    caplog.set_level(logging.DEBUG, logger="common.sqlite")
    opener(tmp_path / "new.db")()
    created = [r for r in caplog.records if r.name == "common.sqlite"]
    assert created and {r.levelno for r in created} == {logging.DEBUG}
    caplog.clear()
    _old_file(name, tmp_path / "old.db")
    opener(tmp_path / "old.db")()
    migrated = [r for r in caplog.records if r.name == "common.sqlite"]
    assert any(r.levelno == logging.INFO and "migrated from" in r.getMessage() for r in migrated)
    assert _user_version(tmp_path / "new.db") == _user_version(tmp_path / "old.db") == latest
