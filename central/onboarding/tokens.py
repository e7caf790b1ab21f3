"""The enrollment service's record of used provisioning tokens: each ``jti`` is claimed once.

SQLite in WAL mode with ``synchronous=FULL``. A token's first use records the terminal id, the
SHA-256 fingerprint of the requesting key (its SubjectPublicKeyInfo DER), the certificate
issued for it and who asked (MQTT client id, host name, software). A repeated request with the
same key gets that certificate again, so a kiosk that missed the reply can simply ask again; a
request with another key is refused: whoever used the token first owns it. The table
``token_uses`` is made on open by :mod:`central.onboarding.token_schema`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from central.onboarding.token_schema import MIGRATIONS
from common.sqlite import classify, immediate_transaction, open_central_db
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
    """One connection to the token database at ``db_path`` (created if needed)."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self._conn = open_central_db(db_path, MIGRATIONS, "token database")

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

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
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise classify(exc, self.path) from None

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._conn, self.path)
