"""Helpers for the roster tests: keys, people, a terminal's config, looking into its database."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central.rosters.publish import RosterPublisher
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from models.consent import Consent
from models.messages import TerminalState, TerminalStatus
from models.roster import RosterPerson, RosterTemplate
from terminal.config import Config
from tests.consent_tools import TRANSFER
from tests.delivery_tools import Probe, make_config, wait_for

DIGEST = "0" * 63 + "1"
"""The model digest of the random templates (no real model made them)."""


def make_key(keys_dir: Path | None, key_id: str) -> Ed25519PrivateKey:
    """A new Ed25519 key; its public half goes to ``keys_dir/<key_id>.pub`` when given."""
    key = Ed25519PrivateKey.generate()
    if keys_dir is not None:
        keys_dir.mkdir(parents=True, exist_ok=True)
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (keys_dir / f"{key_id}.pub").write_bytes(pem)
    return key


def write_private_key(key: Ed25519PrivateKey, path: Path) -> Path:
    """The private key as an unencrypted PKCS#8 PEM file."""
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def random_people(
    count: int,
    templates: int = 1,
    dim: int = 128,
    seed: int = 0,
    start: int = 1,
    consent: Consent | None = TRANSFER,
) -> list[RosterPerson]:
    """People P00001... with random float32 templates of engine ``sface``, model :data:`DIGEST`,
    and ``consent`` (default: to transfer)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, templates, dim)).astype("<f4")
    return [
        RosterPerson(
            person_id=f"P{start + i:05d}",
            name=f"Person {start + i}",
            qr_key_ids=["HR1"] if i % 2 == 0 else [],
            templates=[
                RosterTemplate(engine="sface", model_digest=DIGEST, dim=dim, embedding=v.tobytes())
                for v in vectors[i]
            ],
            consent=consent,
        )
        for i in range(count)
    ]


def roster_config(
    data_dir: Path, url: str, keys_dir: Path | None, terminal_id: str = "kiosk-01", **mqtt: Any
) -> Config:
    """A terminal delivering to ``url`` that trusts the keys in ``keys_dir``."""
    config = make_config(data_dir, url, terminal_id, **mqtt)
    config.central.public_keys_dir = keys_dir
    return config


def config_toml(path: Path, data_dir: Path, url: str, keys_dir: Path) -> Path:
    """The same as a TOML file (for a terminal in its own process)."""
    path.write_text(
        f'[terminal]\nid = "kiosk-01"\nsite = "hq"\n[storage]\ndata_dir = "{data_dir}"\n'
        f'[mqtt]\nurl = "{url}"\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[central]\npublic_keys_dir = "{keys_dir}"\n'
    )
    return path


def publish(url: str, rosters: dict[str, list[bytes]], wait_version: int | None = None) -> None:
    """Publish as the central side (and wait until every terminal reports ``wait_version``)."""
    options = LinkOptions(url=url, client_id="central-roster-test")
    publisher = RosterPublisher(options, Topics(), list(rosters))
    try:
        publisher.publish(rosters, timeout_s=60)
        if wait_version is not None:
            publisher.wait_applied(wait_version, timeout_s=60)
    finally:
        publisher.close()


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the database file (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {name: conn.execute(f'SELECT * FROM "{name}"').fetchall() for name in names}
    finally:
        conn.close()


def gallery_snapshot(db: Path) -> dict[str, Any]:
    """People, templates, QR key ids, roster version: what a refused roster must not touch."""
    rows = tables(db)
    meta = dict(rows["meta"])
    return {
        "people": sorted(rows["people"]),
        "templates": sorted(rows["templates"]),
        "person_qr_keys": sorted(rows.get("person_qr_keys", [])),
        "roster_version": meta.get("roster_version"),
        "gallery_rev": meta.get("gallery_rev"),
    }


def last_status(probe: Probe, terminal_id: str = "kiosk-01") -> TerminalStatus | None:
    """The latest status the probe received from ``terminal_id``."""
    payloads = probe.payloads(f"attendance/v1/{terminal_id}/status")
    return TerminalStatus.model_validate_json(payloads[-1]) if payloads else None


def roster_error(probe: Probe, terminal_id: str = "kiosk-01") -> str:
    """The roster refusal in the latest status from ``terminal_id`` ("" when there is none)."""
    status = last_status(probe, terminal_id)
    return (status.roster_error if status else None) or ""


def wait_online(probe: Probe, terminal_id: str = "kiosk-01") -> None:
    """Wait for an ``online`` status: the terminal has subscribed (same connection, earlier)."""

    def online() -> bool:
        status = last_status(probe, terminal_id)
        return status is not None and status.state is TerminalState.ONLINE

    wait_for(online, what=f"{terminal_id} online")
