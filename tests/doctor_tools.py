"""Helpers for the ``kiosk doctor`` tests: a healthy offline kiosk on disk, running the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cli.main import main
from terminal.store.outbox import Outbox
from tests.delivery_tools import commit

Sections = dict[str, dict[str, Any]]


def kiosk(tmp_path: Path) -> Sections:
    """A healthy offline kiosk: a folder of frames, a database with one check-in, a QR key."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((48, 64, 3), 60 * i, np.uint8))
    data = tmp_path / "data"
    outbox = Outbox.open(data / "kiosk.db", "kiosk-01", "hq")
    commit(outbox, 1)
    outbox.close()
    keys = tmp_path / "keys"
    keys.mkdir()
    public = Ed25519PrivateKey.generate().public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (keys / "hr-2026.pub").write_bytes(pem)
    return {
        "terminal": {"id": "kiosk-01", "site": "hq"},
        "camera": {"source": str(frames)},
        "storage": {"data_dir": str(data)},
        "qr": {"public_keys_dir": str(keys)},
    }


def run_doctor(
    tmp_path: Path, sections: Sections, capsys: pytest.CaptureFixture[str], *options: str
) -> tuple[int, str]:
    """Write the config and run ``kiosk --config FILE doctor OPTIONS``: (exit status, stdout)."""
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in keys.items())
    config = tmp_path / "kiosk.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["--config", str(config), "doctor", *options])
    return code, capsys.readouterr().out


def parse_lines(out: str) -> dict[str, tuple[str, str]]:
    """Check name -> (status, the rest of its line)."""
    found = {}
    for line in out.splitlines():
        status, name, rest = line.split(maxsplit=2)
        found[name] = (status, rest)
    return found


def expected_status(lines: dict[str, tuple[str, str]]) -> int:
    """Exit status when every check passes but the clock, whose state is the machine's."""
    return 1 if lines["clock"][0] == "FAIL" else 0


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file of ``directory`` by name, with its bytes."""
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}
