"""The HR system's public keys for signed codes: one ``<key id>.pub`` PEM file each, in a folder.

Keys rotate by adding and removing files; the folder is looked at again at most every
:data:`CHECK_EVERY_S` seconds (its listing and each file's size and mtime: a few ``stat`` calls)
and reloaded only when that changed. A file that cannot be used (bad name, unreadable, not an
Ed25519 public key) is logged once and skipped, never a crash; a missing folder means no keys.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from models.signed_code import KEY_ID_PATTERN, load_public_key

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
SUFFIX = ".pub"
MAX_KEY_FILE_BYTES = 64 * 1024

_Fingerprint = tuple[tuple[str, int, int, int], ...] | None


class PublicKeys:
    """The usable public keys of ``directory`` by key id, kept in step with the folder."""

    def __init__(self, directory: Path, check_every_s: float = CHECK_EVERY_S) -> None:
        self.directory = directory
        self.check_every_s = check_every_s
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fingerprint: _Fingerprint = None
        self._checked_at = float("-inf")
        self._loaded_once = False
        self.refresh()

    @property
    def key_ids(self) -> list[str]:
        """The ids of the keys loaded, sorted (checks the folder if it is time to)."""
        self._refresh_if_due()
        return sorted(self._keys)

    def get(self, key_id: str) -> Ed25519PublicKey | None:
        """The public key named ``key_id``, or None (checks the folder if it is time to)."""
        self._refresh_if_due()
        return self._keys.get(key_id)

    def refresh(self) -> None:
        """Look at the folder now and reload the keys if anything in it changed."""
        self._checked_at = time.monotonic()
        fingerprint = self._scan()
        if self._loaded_once and fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        self._loaded_once = True
        if fingerprint is None:
            log.error("%s: signed-code key folder missing or unreadable; no keys", self.directory)
            self._keys = {}
            return
        keys = {}
        for name, *_ in fingerprint:
            key = self._load(self.directory / name)
            if key is not None:
                keys[name.removesuffix(SUFFIX)] = key
        self._keys = keys
        log.info("signed-code keys from %s: %s", self.directory, ", ".join(sorted(keys)) or "none")

    def _refresh_if_due(self) -> None:
        if abs(time.monotonic() - self._checked_at) >= self.check_every_s:
            self.refresh()

    def _scan(self) -> _Fingerprint:
        try:
            entries = []
            for path in self.directory.iterdir():
                if path.name.endswith(SUFFIX):
                    stat = path.stat()
                    entries.append((path.name, stat.st_size, stat.st_mtime_ns, stat.st_ino))
        except OSError:
            return None
        return tuple(sorted(entries))

    def _load(self, path: Path) -> Ed25519PublicKey | None:
        key_id = path.name.removesuffix(SUFFIX)
        if not re.fullmatch(KEY_ID_PATTERN, key_id):
            log.warning("%s: skipped, a key id must be 1-16 characters of A-Z a-z 0-9 _ -", path)
            return None
        try:
            if path.stat().st_size > MAX_KEY_FILE_BYTES:
                log.warning("%s: skipped, too large for a public key file", path)
                return None
            return load_public_key(path.read_bytes())
        except OSError as exc:
            log.warning("%s: skipped, cannot read it: %s", path, exc.strerror or exc)
        except ValueError as exc:
            log.warning("%s: skipped, %s", path, exc)
        return None
