"""Helpers for signed-code tests: HR key pairs on disk and a CodeChecker on a real kiosk.db."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from terminal.checkin.code_checker import CodeChecker
from terminal.config import QrSection
from terminal.store.database import open_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)
"""1767225600: every test runs at fixed instants, never the real clock."""


def at(seconds: float) -> datetime:
    """``NOW`` shifted by ``seconds``."""
    return NOW + timedelta(seconds=seconds)


def write_public_key(keys_dir: Path, key_id: str, key: Ed25519PrivateKey) -> Path:
    """Put ``key``'s public half into ``keys_dir`` as ``<key_id>.pub`` (PEM)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / f"{key_id}.pub"
    path.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return path


def hr_keys(keys_dir: Path, *key_ids: str) -> dict[str, Ed25519PrivateKey]:
    """Fresh HR key pairs whose public keys are in ``keys_dir``, by key id."""
    keys = {key_id: Ed25519PrivateKey.generate() for key_id in key_ids}
    for key_id, key in keys.items():
        write_public_key(keys_dir, key_id, key)
    return keys


class Clock:
    """A switchable ``clock_synced`` callable."""

    def __init__(self, synced: bool = True) -> None:
        self.synced = synced

    def __call__(self) -> bool:
        """Whether the kiosk clock counts as synchronised."""
        return self.synced


def make_checker(
    db_file: Path, keys_dir: Path | None, clock: Callable[[], bool] | None = None, **qr: Any
) -> CodeChecker:
    """A CodeChecker on the kiosk database file ``db_file`` (opened anew: a "restart")."""
    section = QrSection(public_keys_dir=keys_dir, **qr)
    return CodeChecker(section, open_database(db_file), clock or Clock())
