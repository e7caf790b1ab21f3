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


def write_daemon_config(
    path: Path, data_dir: Path, source: Path, broker_url: str | None, storage: str = ""
) -> Path:
    """A daemon config at ``path``: terminal ``kiosk-t1``, the replayed ``source``, recognition
    off, ``storage`` lines added to ``[storage]``, and a broker when ``broker_url`` is set."""
    text = (
        '[terminal]\nid = "kiosk-t1"\nsite = "lab"\n'
        f'[camera]\nsource = "{source}"\nfps = 15\n'
        f'[storage]\ndata_dir = "{data_dir}"\n{storage}'
        "[recognition]\nenabled = false\n"
    )
    if broker_url:
        text += f'[mqtt]\nurl = "{broker_url}"\nack_timeout_s = 3\nreconnect_max_s = 1\n'
    path.write_text(text)
    return path
