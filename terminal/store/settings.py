"""Settings changed by the central side (``set_setting``), kept in the database, applied at start.

Under systemd the kiosk's ``/etc`` is read-only (``ProtectSystem=strict``), so a setting the
central system changes is stored in ``kiosk.db`` (table ``settings_override``: key, JSON value,
when, by which command; created with the database, see :mod:`terminal.store.schema`) and laid
over the TOML config whenever the config is loaded (:func:`terminal.config.load_config` calls
:func:`apply_overrides`): ``kiosk run`` after the restart a ``set_setting`` triggers, and
``kiosk config check`` and ``kiosk doctor`` too, so they show what the kiosk really runs with.
Only :data:`~models.command.SETTABLE_KEYS` can be set; each override is validated with the
config's own model, one at a time, and one that does not validate (a TOML edited since, a
damaged row) is ignored with a warning, never a crash. The database is read strictly read-only
here; a database that cannot be read is a warning too.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from common.errors import ConfigError
from models.command import SETTABLE_KEYS, Scalar
from models.messages import format_rfc3339
from terminal.config import Config, check_verification_mode
from terminal.config.base import describe
from terminal.store.database import write_transaction

log = logging.getLogger(__name__)


def with_setting(config: Config, key: str, value: Any) -> Config:
    """A copy of ``config`` with ``key`` (``section.name``) set; :class:`ConfigError` if the key
    may not be set this way or the result is not a valid config."""
    if key not in SETTABLE_KEYS:
        raise ConfigError(f"{key!r} cannot be set remotely (settable: {', '.join(SETTABLE_KEYS)})")
    section, name = key.split(".")
    raw = config.model_dump()
    raw[section][name] = value
    try:
        changed = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    check_verification_mode(changed)
    return changed


def store_setting(
    db: sqlite_utils.Database,
    key: str,
    value: Scalar,
    command_id: str,
    also: Callable[[sqlite3.Connection], None],
) -> None:
    """Store an override (replacing the key's previous one) and run ``also`` in the same
    transaction (the command's result is recorded with it)."""
    with write_transaction(db) as conn:
        conn.execute(
            "INSERT INTO settings_override (key, value, set_at, command_id) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value, set_at = excluded.set_at,"
            " command_id = excluded.command_id",
            (key, json.dumps(value), format_rfc3339(datetime.now(UTC)), command_id),
        )
        also(conn)


def read_overrides(path: Path) -> list[tuple[str, str]]:
    """Every (key, JSON value) stored in the database at ``path``, read-only; [] without any."""
    if not path.exists():
        return []
    in_use = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = path.absolute().as_uri() + ("?mode=ro" if in_use else "?mode=ro&immutable=1")
    conn = sqlite3.connect(uri, uri=True, timeout=5.0, isolation_level=None)
    try:
        # Read-only, so a file of an earlier release is read as it is, maybe without the table.
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings_override'"
        ).fetchone()
        if found is None:
            return []
        rows = conn.execute("SELECT key, value FROM settings_override ORDER BY key").fetchall()
        return [(str(key), str(value)) for key, value in rows]
    finally:
        conn.close()


def apply_overrides(config: Config) -> Config:
    """``config`` with the stored overrides of its database laid over it (see the module)."""
    path = config.database_path
    try:
        overrides = read_overrides(path)
    except (sqlite3.Error, OSError) as exc:
        log.warning("%s: setting overrides not read, using the config file only (%s)", path, exc)
        return config
    for key, text in overrides:
        try:
            config = with_setting(config, key, json.loads(text))
        except (ConfigError, ValueError) as exc:
            log.warning("ignored the setting override %s = %s from %s: %s", key, text, path, exc)
            continue
        log.info("setting %s = %s (set by the central system, stored in %s)", key, text, path)
    return config
