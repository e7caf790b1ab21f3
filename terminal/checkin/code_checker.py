"""The kiosk's verifier of QR codes: static badges and signed short-lived codes, one entry point.

:meth:`CodeChecker.check` reads a decoded QR text and returns a :class:`QrClaim` or a
:class:`QrRefusal` whose ``code`` (:class:`RefusalCode`) says why. A signed code
(``models/signed_code.py``) is checked in this order: structure, key id known (``[qr]
public_keys_dir``), signature, validity not longer than ``max_validity_s``, the time window
``issued - clock_skew_s <= now < expires + clock_skew_s``, and finally that its
(key id, nonce) was never used. Right after the signature verifies, the key must also be one
the roster allows for that person: a person for whom the roster lists ``qr_key_ids`` (table
``person_qr_keys``, see :mod:`terminal.store.rosters`) is accepted only with codes signed by one
of those keys (else ``key_not_allowed``); a person with none listed (as everyone before the
first roster) takes any trusted key. The table is read on every signed code (one primary-key
lookup), so a new roster applies from the next code. Before committing the check-in, the
pipeline must call :meth:`CodeChecker.consume`, which records the nonce durably (a second use,
also after a restart, is refused as ``replayed``; two sightings racing for one code: only one
consumes it).
A crash between ``consume`` and the commit burns the code without a check-in: the employee
shows a fresh one, which is the safe side. Enrollment codes (``ATT1:E:``) are checked the same
way and come out as claims of kind ``enroll``; their nonce is consumed in the transaction that
stores the templates (:mod:`terminal.face.kiosk_enrollment`).

Used nonces live in the table ``used_codes`` of the terminal's database (created with the
database by :mod:`terminal.store.schema`, so a full disk cannot keep the kiosk from starting),
purged once they can no longer verify (expiry + skew passed). So that a clock set back cannot
revive a purged code, the purge horizon is kept too (table ``used_codes_horizon``): a code
that expired before it is refused whatever the clock says.

When the kiosk's clock is not synchronised (``clock_synced()`` False), codes are still checked
against the local clock, the only one there is: a code that passes is accepted, since its
signature and the replay store do not depend on the clock. A code that fails only on time is
refused with ``clock_not_synchronised`` ("kiosk clock not synchronised ...") instead of expired
or not yet valid, so an admin sees the cause rather than employees with "expired" codes. Used
nonces are never purged while the clock is not synchronised (a clock running ahead would
otherwise forget codes that are still valid), so an unsynchronised clock never weakens replay
protection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from common.code_keys import PublicKeys
from models.signed_code import (
    ENROLL_PREFIX,
    PREFIX,
    CodeFormatError,
    SignedCode,
    parse_code,
    verify_signature,
)
from terminal.checkin.badges import QrClaim, QrRefusal, RefusalCode, parse_qr
from terminal.config import QrSection
from terminal.store.database import write_transaction

log = logging.getLogger(__name__)


class CodeChecker:
    """Checks QR texts against ``[qr]`` settings, the HR public keys and the used-code store."""

    def __init__(
        self, qr: QrSection, db: sqlite_utils.Database, clock_synced: Callable[[], bool]
    ) -> None:
        self.qr = qr
        self.db = db
        self.clock_synced = clock_synced
        self.keys = PublicKeys(qr.public_keys_dir) if qr.public_keys_dir is not None else None

    def check(self, text: str, now: datetime | None = None) -> QrClaim | QrRefusal:
        """A claim for an acceptable badge or code, else a refusal with its reason.

        ``now`` is the UTC wall-clock time the code was seen (the frame's; default: now).
        Nothing is recorded: a signed claim is only used once :meth:`consume` says so.
        """
        if not (text.startswith((PREFIX, ENROLL_PREFIX)) or text == PREFIX.removesuffix(":")):
            parsed = parse_qr(text)
            if isinstance(parsed, QrClaim) and not self.qr.static_badges:
                return QrRefusal(
                    "static badges are disabled on this terminal; show a signed code",
                    RefusalCode.STATIC_DISABLED,
                )
            return parsed
        if self.keys is None:
            return QrRefusal(
                "signed codes are not accepted here ([qr] public_keys_dir is not set)",
                RefusalCode.SIGNED_DISABLED,
            )
        try:
            code = parse_code(text)
        except CodeFormatError as exc:
            return QrRefusal(f"garbled signed code: {exc.reason}", RefusalCode.MALFORMED)
        return self._check_signed(code, _seconds(now))

    def consume(self, claim: QrClaim, now: datetime | None = None) -> bool:
        """:meth:`consume_in` in a transaction of its own (for callers that commit no event)."""
        with write_transaction(self.db) as conn:
            return self.consume_in(conn, claim, now)

    def consume_in(
        self, conn: sqlite3.Connection, claim: QrClaim, now: datetime | None = None
    ) -> bool:
        """Record a signed claim's nonce as used, in the caller's open transaction (the one
        that commits its check-in, so the code is burned if and only if the check-in is
        stored); False if it already was (a racing replay). Static claims are not consumed
        (True)."""
        if claim.kind == "static":
            return True
        if claim.key_id is None or claim.nonce is None or claim.expires_at is None:
            raise ValueError("a signed claim needs its key id, nonce and expiry")
        moment = now or datetime.now(UTC)
        expires = int(claim.expires_at.timestamp())
        added = conn.execute(
            "INSERT OR IGNORE INTO used_codes (key_id, nonce, person_id, expires_at, used_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (claim.key_id, claim.nonce, claim.person_id, expires, moment.isoformat()),
        ).rowcount
        if self.clock_synced():
            self._purge(conn, int(moment.timestamp() - self.qr.clock_skew_s))
        if not added:
            log.warning("signed code %s/%s was used twice at once", claim.key_id, claim.nonce)
        return bool(added)

    def _check_signed(self, code: SignedCode, now: float) -> QrClaim | QrRefusal:
        assert self.keys is not None
        key = self.keys.get(code.key_id)
        if key is None:
            return QrRefusal(
                f"signed with key {code.key_id!r}, which this terminal does not know",
                RefusalCode.UNKNOWN_KEY,
            )
        if not verify_signature(code, key):
            return QrRefusal(
                f"forged code: the signature does not match key {code.key_id!r}",
                RefusalCode.BAD_SIGNATURE,
            )
        allowed = self._allowed_key_ids(code.person_id)
        if allowed and code.key_id not in allowed:
            return QrRefusal(
                f"code signed with key {code.key_id!r}, which is not allowed for this person",
                RefusalCode.KEY_NOT_ALLOWED,
            )
        if code.validity_s > self.qr.max_validity_s:
            return QrRefusal(
                f"code is valid for {code.validity_s} s, longer than the"
                f" {self.qr.max_validity_s:g} s this terminal allows",
                RefusalCode.VALIDITY_TOO_LONG,
            )
        timing = self._timing(code, now)
        if timing is not None:
            problem, detail = timing
            if not self.clock_synced():
                return QrRefusal(
                    f"kiosk clock not synchronised: by its clock the {detail}; check NTP",
                    RefusalCode.CLOCK_NOT_SYNCHRONISED,
                )
            advice = "; show a fresh code" if problem == RefusalCode.EXPIRED else ""
            return QrRefusal(f"the {detail}{advice}", problem)
        if self._used(code):
            return QrRefusal("code was already used; show a fresh code", RefusalCode.REPLAYED)
        return QrClaim(
            code.person_id,
            "enroll" if code.kind == "enroll" else "signed",
            code.key_id,
            code.nonce,
            datetime.fromtimestamp(code.expires_at, UTC),
        )

    def _timing(self, code: SignedCode, now: float) -> tuple[RefusalCode, str] | None:
        """Why the code is outside its time window at ``now`` (and what to say), or None."""
        skew = self.qr.clock_skew_s
        if now < code.issued_at - skew:
            ahead = code.issued_at - now
            return RefusalCode.NOT_YET_VALID, f"code is not valid yet (issued {ahead:.0f} s ahead)"
        if now >= code.expires_at + skew:
            return RefusalCode.EXPIRED, f"code expired {now - code.expires_at:.0f} s ago"
        if code.expires_at < self._horizon():
            # Its nonce may have been used and purged already: the clock was set back.
            return RefusalCode.EXPIRED, "code expired before times this terminal already saw"
        return None

    def _allowed_key_ids(self, person_id: str) -> set[str]:
        """The key ids the roster lists for ``person_id``; empty: any trusted key."""
        rows = self.db.conn.execute(
            "SELECT key_id FROM person_qr_keys WHERE person_id = ?", (person_id,)
        ).fetchall()
        return {str(row[0]) for row in rows}

    def _used(self, code: SignedCode) -> bool:
        row = self.db.conn.execute(
            "SELECT 1 FROM used_codes WHERE key_id = ? AND nonce = ?", (code.key_id, code.nonce)
        ).fetchone()
        return row is not None

    def _horizon(self) -> int:
        row = self.db.conn.execute("SELECT horizon FROM used_codes_horizon").fetchone()
        return int(row[0]) if row else 0

    def _purge(self, conn: sqlite3.Connection, horizon: int) -> None:
        """Forget nonces of codes that expired before ``horizon``; never lower the horizon."""
        conn.execute(
            "INSERT INTO used_codes_horizon (id, horizon) VALUES (1, ?) ON CONFLICT (id)"
            " DO UPDATE SET horizon = max(horizon, excluded.horizon)",
            (horizon,),
        )
        (kept,) = conn.execute("SELECT horizon FROM used_codes_horizon").fetchone()
        conn.execute("DELETE FROM used_codes WHERE expires_at < ?", (kept,))


def _seconds(now: datetime | None) -> float:
    return (now or datetime.now(UTC)).timestamp()
