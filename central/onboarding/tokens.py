"""The enrollment service's record of used provisioning tokens: each ``jti`` is claimed once.

An SQLite file (WAL, ``synchronous=FULL``) or a PostgreSQL database, by database URL
(:mod:`central.db`); several services may share one PostgreSQL database, their claims taking
turns (:meth:`central.db.connection.Database.transaction`). A token's first use records the
terminal id, the SHA-256 fingerprint of the requesting key (its SubjectPublicKeyInfo DER), the
certificate issued for it and who asked (MQTT client id, host name, software). A repeated
request with the same key gets that certificate again, so a kiosk that missed the reply can
simply ask again; a request with another key is refused: whoever used the token first owns it.
The table ``token_uses`` is made on open by :mod:`central.onboarding.token_schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from central.db.connection import Database
from central.db.migrations import open_database
from central.db.url import DatabaseUrl
from central.onboarding.token_schema import TOKEN_SCHEMA
from models.messages import format_rfc3339

_COLUMNS = "jti, terminal_id, key_sha256, certificate, client_id, hostname, software, used_at"


class ClaimOutcome(StrEnum):
    """What :meth:`TokenStore.claim` found."""

    NEW = "new"
    """First use: the certificate was issued now and recorded."""
    AGAIN = "again"
    """The same terminal and key used the token before: the recorded certificate."""
    USED = "used"
    """Another key (or terminal) used the token before: refuse."""


@dataclass(frozen=True)
class TokenUse:
    """One recorded use of a token."""

    jti: str
    terminal_id: str
    key_sha256: str
    certificate: str
    client_id: str
    hostname: str
    software: str
    used_at: str


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim and the token's recorded use (the earlier one if ``USED``)."""

    outcome: ClaimOutcome
    use: TokenUse


class TokenStore:
    """One connection to the token database at ``location`` (a database URL or an SQLite
    file's path; an SQLite file is created if needed)."""

    def __init__(self, location: str | Path | DatabaseUrl) -> None:
        self._db = open_database(location, TOKEN_SCHEMA)

    @property
    def name(self) -> str:
        """The database in messages (never with a password)."""
        return self._db.name

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def claim(
        self,
        jti: str,
        terminal_id: str,
        key_sha256: str,
        issue: Callable[[], str],
        *,
        client_id: str,
        hostname: str,
        software: str,
    ) -> Claim:
        """Claim ``jti`` for ``terminal_id`` and the key ``key_sha256``, atomically.

        On first use ``issue()`` makes the certificate (PEM), which is recorded in the same
        transaction: a token never has two certificates, even with two services on one file.
        If ``issue`` raises, nothing is recorded.
        """
        with self._transaction() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM token_uses WHERE jti = ?", (jti,)
            ).fetchone()
            if row is not None:
                use = TokenUse(*row)
                same = use.key_sha256 == key_sha256 and use.terminal_id == terminal_id
                return Claim(ClaimOutcome.AGAIN if same else ClaimOutcome.USED, use)
            now = format_rfc3339(datetime.now(UTC))
            use = TokenUse(
                jti, terminal_id, key_sha256, issue(), client_id, hostname, software, now
            )
            conn.execute(
                f"INSERT INTO token_uses ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                (use.jti, use.terminal_id, use.key_sha256, use.certificate, use.client_id,
                 use.hostname, use.software, use.used_at),
            )  # fmt: skip
            return Claim(ClaimOutcome.NEW, use)

    def get(self, jti: str) -> TokenUse | None:
        """The recorded use of ``jti``, or None if it was never used."""
        rows = self._query(f"SELECT {_COLUMNS} FROM token_uses WHERE jti = ?", (jti,))
        return TokenUse(*rows[0]) if rows else None

    def uses(self) -> list[TokenUse]:
        """Every recorded use, oldest first."""
        rows = self._query(f"SELECT {_COLUMNS} FROM token_uses ORDER BY used_at, jti", ())
        return [TokenUse(*row) for row in rows]

    def _query(self, sql: str, params: tuple[str, ...]) -> list[tuple[str, ...]]:
        return self._db.query(sql, params)

    def _transaction(self) -> AbstractContextManager[Database]:
        return self._db.transaction()
