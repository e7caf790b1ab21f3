"""``kiosk demo --keep-open`` as a real process: its screen stays up for a person to watch, the
scene plays again and again, and Ctrl-C ends it with every check-in delivered once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from central.receiver.store import ReceiverStore
from devtools.local_broker import free_port
from tests.delivery_tools import wait_for


def test_the_demo_keeps_its_screen_open_until_ctrl_c(tmp_path: Path):
    port = free_port()
    workdir = tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "demo", "--keep-open", "--workdir", str(workdir),
         "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode("utf-8", "replace") for line in process.stdout),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    try:
        wait_for(lambda: any("Ctrl-C" in line for line in lines), timeout=120,
                 what="the demo to say how to watch it")  # fmt: skip
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines)
        wait_for(lambda: _page_answers(port), timeout=60, what="the screen page")
        central = workdir / "central.db"
        wait_for(lambda: central.exists() and _stored(central) >= 2, timeout=120,
                 what="the first pass's check-ins at the central side")  # fmt: skip
        # Without --keep-open the kiosk stops once the 80-frame scene has played; with it, it
        # plays the scene on: still running after twice the scene's length.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=2 * 80 / 15)
        assert process.poll() is None, "".join(lines)
        assert _page_answers(port)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        reader.join(timeout=10)
    text = "".join(lines)
    assert process.returncode == 0, text
    assert "demo: OK, every check-in reached the central side exactly once" in text


def _page_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            return page.status == 200
    except OSError:
        return False


def _stored(central: Path) -> int:
    store = ReceiverStore(central)
    try:
        return store.count()
    finally:
        store.close()
