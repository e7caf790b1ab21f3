"""The ``kiosk`` command line as a real child process (``python -m cli``), for the daemon tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def kiosk_process(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """``kiosk --config CONFIG ARGS...``: stdout and stderr in one pipe, Python unbuffered."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
