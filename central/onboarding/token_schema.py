"""The schema of the enrollment service's token database: its numbered migrations, the only
place its table is created.

:data:`MIGRATIONS` (SQLite) or :data:`POSTGRESQL_MIGRATIONS` is applied when
:class:`central.onboarding.tokens.TokenStore` opens the file: migration N takes a file at
``PRAGMA user_version`` N-1 to N, and a file at :data:`LATEST` is only read.

Releases before these migrations never set ``user_version`` and made one shape, so token files
in the field are at 0 with ``token_uses`` as below; migration 1 keeps it (``CREATE ... IF NOT
EXISTS``) and creates it in a new file. Migrations from 2 on are plain.
"""

from __future__ import annotations

import sqlite3

from central.db.migrations import Schema
from common.sqlite import Migration


def _baseline(conn: sqlite3.Connection) -> None:
    """1: ``token_uses``, kept as it is in a file of an earlier release."""
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS token_uses (
            jti TEXT PRIMARY KEY,
            terminal_id TEXT NOT NULL,
            key_sha256 TEXT NOT NULL,
            certificate TEXT NOT NULL,
            client_id TEXT NOT NULL,
            hostname TEXT NOT NULL,
            software TEXT NOT NULL,
            used_at TEXT NOT NULL
        )
        """
    )


MIGRATIONS: tuple[Migration, ...] = (_baseline,)
"""Migration N (1-based) takes the token file from ``user_version`` N-1 to N. Append only."""

LATEST = len(MIGRATIONS)
"""The schema version this release makes and expects."""

POSTGRESQL_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE token_uses (
        jti TEXT COLLATE "C" PRIMARY KEY,
        terminal_id TEXT NOT NULL,
        key_sha256 TEXT NOT NULL,
        certificate TEXT NOT NULL,
        client_id TEXT NOT NULL,
        hostname TEXT NOT NULL,
        software TEXT NOT NULL,
        used_at TEXT COLLATE "C" NOT NULL
    )
    """,
)
"""The same table on PostgreSQL (tracked in ``kiosk_schema_versions``). Append only."""

TOKEN_SCHEMA = Schema("tokens", "token database", MIGRATIONS, POSTGRESQL_MIGRATIONS)
"""The token database's schema, for :func:`central.db.migrations.open_database`."""
