"""The import contracts (``.importlinter``) hold, and they do fail when a boundary is crossed.

The second half checks the contracts themselves: a copy of the packages with one forbidden
import added must make ``lint-imports`` fail, naming the contract, so a contract that was
weakened into one that cannot fail is caught here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("terminal", "central", "common", "devtools", "cli", "drivers", "models")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / ".importlinter"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for package in PACKAGES:
        shutil.copytree(
            REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / ".importlinter", root / ".importlinter")
    return root


def _add_import(module: Path, line: str) -> None:
    text = module.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in text
    module.write_text(text.replace(marker, f"{marker}\n{line}\n", 1))


def test_the_repository_keeps_every_contract() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "terminal/sync/commands.py",
            "from terminal.doctor import diagnostics  # noqa: F401",
            "the sync never imports the pipeline, the face work, the output or any driver",
        ),
        (
            "central/receiver/service.py",
            "from terminal.store.outbox import Outbox  # noqa: F401",
            "the kiosk and the central side never import each other",
        ),
        (
            "terminal/checkin/desk.py",
            "from terminal.sync.uplink import SyncWorker  # noqa: F401",
            "the pipeline and the face work never import the sync",
        ),
        (
            "models/messages.py",
            "from common.errors import KioskError  # noqa: F401",
            "drivers/ and models/ import nothing of ours",
        ),
        (
            "terminal/store/outbox.py",
            "from terminal.checkin.decisions import Decision  # noqa: F401",
            "the store imports neither the pipeline nor the sync (it is their hand-off)",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = _copy(tmp_path)
    _add_import(root / module, line)
    result = _lint_imports(root)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout, result.stdout
