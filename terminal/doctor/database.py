"""``kiosk doctor``'s database check: kiosk.db read strictly read-only, never changed.

The file is opened with a ``file:...?mode=ro`` URI, so SQLite cannot create or write it. When
no ``-wal`` (or ``-journal``) file is next to it, no connection has it open and everything is
in the main file: it is then also opened ``immutable``, so not even the ``-wal``/``-shm`` side
files are created. A damaged file is reported, never quarantined or repaired (``kiosk run``
does that at its start).
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.errors import StoreCorruptError
from common.sqlite import classify
from terminal.config import Config
from terminal.doctor.result import CheckResult, Findings, Status, failed, passed
from terminal.store.outbox import STATES
from terminal.store.rosters import VERSION_KEY

OLD_BACKLOG_S = 86_400.0
"""An unacknowledged event older than this (a day) gives a warning: delivery is stuck."""
QUICK_CHECK_TIMEOUT_S = 10.0
_KIOSK_TABLES = frozenset({"meta", "events", "people"})

_DAMAGED_HINT = (
    "stop the kiosk and copy kiosk.db away; at its next start the kiosk moves a damaged file"
    " aside (kiosk.db.corrupt-<time>, kept [storage] keep_damaged_days) and starts a new one"
)
_BACKLOG_HINT = (
    "delivery is stuck: see the broker line and the central receiver (events wait until it"
    " acknowledges them; `kiosk events list --state sent`)"
)


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that can neither create nor change ``path`` (see the module docstring)."""
    in_use = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = path.absolute().as_uri() + ("?mode=ro" if in_use else "?mode=ro&immutable=1")
    conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    return conn


def age_text(seconds: float) -> str:
    """A duration for people: ``40 s``, ``12 min``, ``5.2 h``, ``3.1 days``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


def check_database(config: Config) -> CheckResult:
    """Integrity (``PRAGMA quick_check``), delivery counts, backlog age, roster version and
    people enrolled."""
    path = config.database_path
    if not path.exists():
        return passed("database", f"{path}: not created yet (the kiosk creates it at its start)")
    try:
        conn = open_read_only(path)
    except sqlite3.Error as exc:
        hint = "check its owner and mode; run the doctor as the kiosk user (sudo -u kiosk)"
        return failed("database", f"{path}: cannot open: {exc}", hint)
    try:
        return _inspect(conn, path)
    except sqlite3.Error as exc:
        if "interrupted" in str(exc):
            hint = "stop the kiosk and run `sqlite3 kiosk.db 'PRAGMA quick_check'` by hand"
            detail = f"{path}: quick_check did not finish in {QUICK_CHECK_TIMEOUT_S:g} s"
            return failed("database", detail, hint)
        error = classify(exc, path)
        if isinstance(error, StoreCorruptError):
            return failed("database", str(error), _DAMAGED_HINT)
        hint = "the file must be readable by the kiosk user (check its owner and mode)"
        return failed("database", str(error), hint)
    finally:
        conn.close()


def _inspect(conn: sqlite3.Connection, path: Path) -> CheckResult:
    deadline = time.monotonic() + QUICK_CHECK_TIMEOUT_S
    conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        detail = f"{path}: damaged, quick_check: {problems[0]}{more}"
        return failed("database", detail, _DAMAGED_HINT, problems=problems[:20])
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables >= _KIOSK_TABLES:
        hint = "does [storage] data_dir point at the kiosk's data directory?"
        return failed("database", f"{path}: not a kiosk database (no events table)", hint)
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    for state, count in conn.execute("SELECT state, count(*) FROM events GROUP BY state"):
        counts[str(state)] = int(count)
    (oldest,) = conn.execute(
        "SELECT min(committed_at) FROM events WHERE state IN ('pending', 'sent')"
    ).fetchone()
    (people,) = conn.execute("SELECT count(*) FROM people").fetchone()
    version = conn.execute("SELECT value FROM meta WHERE key = ?", (VERSION_KEY,)).fetchone()
    roster = None if version is None else str(version[0])
    findings = Findings()
    summary = ", ".join(f"{counts[state]} {state}" for state in STATES)
    findings.add(Status.PASS, f"{path}: quick_check ok; {summary}")
    data: dict[str, Any] = {**counts, "people": int(people), "oldest_unacked_s": None}
    data["roster_version"] = int(roster) if roster is not None and roster.isdigit() else roster
    if oldest is not None:
        age = max(0.0, (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds())
        data["oldest_unacked_s"] = round(age, 1)
        text = f"oldest unacknowledged {age_text(age)} old"
        findings.add(Status.WARN if age > OLD_BACKLOG_S else Status.PASS, text, _BACKLOG_HINT)
    if roster is None:
        findings.add(Status.PASS, f"no roster applied ({people} people enrolled locally)")
    else:
        findings.add(Status.PASS, f"roster version {roster} ({people} people)")
    return findings.result("database", **data)
