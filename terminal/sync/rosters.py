"""The terminal's side of rosters: verify each message, stage it, apply complete versions.

:class:`RosterReceiver` runs in the sync's thread on the sync's database connection. For every
message on ``{prefix}/{terminal id}/roster`` it checks the envelope and the Ed25519 signature
with the key ``<key id>.pub`` of ``[central] public_keys_dir`` (read when needed, so keys
rotate by adding and removing files), then the payload, then stages the chunk durably
(:mod:`terminal.store.rosters`); the sync acknowledges the MQTT message only after that. The
chunk that completes a version above the one in force applies it.

Refused (and counted, and reported in the terminal's status): unsigned messages, unknown keys,
bad signatures, malformed payloads, rosters bound to another terminal, stale versions (not
above the one in force), chunks of an older version than the one being received, and chunks
inconsistent with the others of their version. Nothing changes when a message is refused. Each
reason is logged once at WARNING (for a version, or for identical messages); repeats are
logged at DEBUG, so a refused 100-chunk roster does not flood the log.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from common.errors import RosterError
from models.roster import KEY_ID_PATTERN
from models.roster_codec import UNKNOWN_KEY, RosterRefusal, load_public_key, open_roster_message
from terminal.store.rosters import RosterStore, Staged
from terminal.store.template_seal import TemplateSeal

log = logging.getLogger(__name__)

KEY_SUFFIX = ".pub"
MAX_KEY_FILE_BYTES = 64 * 1024
_LOGGED_MAX = 1000


class TrustedKeys:
    """The central system's Ed25519 public keys, ``<key id>.pub`` (PEM) in ``directory``."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def get(self, key_id: str) -> Ed25519PublicKey:
        """The key ``key_id``; :class:`RosterError` when it is not there or not usable."""
        if self.directory is None:
            raise RosterError(UNKNOWN_KEY, "refused: [central] public_keys_dir is not set")
        if not re.fullmatch(KEY_ID_PATTERN, key_id):
            raise RosterError(UNKNOWN_KEY, f"key id {key_id!r} is not a valid key id")
        path = self.directory / f"{key_id}{KEY_SUFFIX}"
        try:
            if path.stat().st_size > MAX_KEY_FILE_BYTES:
                raise RosterError(UNKNOWN_KEY, f"{path}: too large for a public key file")
            return load_public_key(path.read_bytes())
        except FileNotFoundError:
            raise RosterError(
                UNKNOWN_KEY, f"signed with an unknown key {key_id!r} (no {path})"
            ) from None
        except OSError as exc:
            raise RosterError(UNKNOWN_KEY, f"{path}: cannot read it: {exc.strerror}") from None
        except ValueError as exc:
            raise RosterError(UNKNOWN_KEY, f"{path}: not usable: {exc}") from None


@dataclass(frozen=True)
class RosterState:
    """What the status and ``kiosk doctor`` may show about rosters (a snapshot)."""

    version: int | None = None
    receiving: Staged | None = None
    refused: int = 0
    last_refusal: str | None = None


class RosterReceiver:
    """Turns roster messages into the terminal's people; one per sync thread."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        terminal_id: str,
        keys_dir: Path | None,
        seal: TemplateSeal | None = None,
    ) -> None:
        self.terminal_id = terminal_id
        self.keys = TrustedKeys(keys_dir)
        self.store = RosterStore(db, seal)
        self._logged: set[tuple[object, ...]] = set()
        self._state = RosterState(version=self.store.current_version())
        self._resume()

    @property
    def state(self) -> RosterState:
        """The latest roster state."""
        return self._state

    def receive(self, data: bytes) -> None:
        """Verify, stage and, when complete, apply one roster message.

        A refused message is logged, counted and otherwise ignored; a database error raises
        :class:`~common.errors.StoreError` (do not acknowledge the message then).
        """
        try:
            chunk, key_id = open_roster_message(data, self.keys.get, self.terminal_id)
        except (RosterRefusal, RosterError) as exc:
            self._refuse(exc.kind, exc.reason, None)
            return
        version = chunk.roster_version
        try:
            staged = self.store.stage(chunk, key_id)
        except RosterError as exc:
            self._refuse(exc.kind, exc.reason, version)
            return
        if staged.duplicate:
            log.debug("roster version %d chunk %d already staged", version, chunk.chunk_index)
        elif staged.received == 1:
            log.info("receiving roster version %d: %d chunk(s)", version, staged.chunk_count)
        self._state = _replace(self._state, receiving=staged)
        if staged.complete:
            self._apply(version)

    def _resume(self) -> None:
        staged = self.store.staged()
        current = self._state.version
        if staged is not None and current is not None and staged.version <= current:
            self.store.discard()
        elif staged is not None and staged.complete:
            self._apply(staged.version)
        elif staged is not None:
            self._state = _replace(self._state, receiving=staged)
            log.info(
                "roster version %d: %d of %d chunks staged, waiting for the rest",
                staged.version,
                staged.received,
                staged.chunk_count,
            )

    def _apply(self, version: int) -> None:
        started = time.monotonic()
        try:
            applied = self.store.apply(version)
        except RosterError as exc:
            self._state = _replace(self._state, receiving=None)
            self._refuse(exc.kind, exc.reason, version)
            return
        log.info(
            "roster version %d applied in %.2f s: %d people, %d templates, %d people removed, %s",
            applied.version,
            time.monotonic() - started,
            applied.people,
            applied.templates,
            applied.removed,
            "no schedule"
            if applied.schedule_version is None
            else f"schedule version {applied.schedule_version}",
        )
        self._state = RosterState(applied.version, None, self._state.refused, None)

    def _refuse(self, kind: str, reason: str, version: int | None) -> None:
        state = self._state
        self._state = RosterState(state.version, state.receiving, state.refused + 1, reason)
        key: tuple[object, ...] = (version, kind) if version is not None else (kind, reason)
        if len(self._logged) >= _LOGGED_MAX:
            self._logged.clear()
        first = key not in self._logged
        self._logged.add(key)
        log.log(logging.WARNING if first else logging.DEBUG, "refused a roster message: %s", reason)


def _replace(state: RosterState, receiving: Staged | None) -> RosterState:
    return RosterState(state.version, receiving, state.refused, state.last_refusal)
