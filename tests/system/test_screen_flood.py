"""A flood of screen clients against the real daemon (issue 14, fault 2).

Before the fix, 1,100 clients holding ``GET /events`` took every file descriptor of the
daemon: the broker connection could not be made again ("Too many open files"), the replayed
camera's images could not be opened so the capture loop took its looping source for finished
and stopped for good while ``/state`` still said ``camera_ok: true``, and asyncio logged every
failed ``accept()`` (48 MB in 30 s). Here the daemon runs with a soft limit of 256 open files, so
that a flood of 400 stream clients would exhaust it without the caps, and must go on checking
people in, delivering, reading frames and logging little; the stream clients past
``[ui] max_stream_clients`` are refused with 503.

The capture loop itself is also run out of descriptors for real (in this process): it must
come back when they are free again.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2

from central.receiver.store import ReceiverStore
from devtools.local_broker import free_port
from drivers.camera import ReplayCamera
from terminal.camera_loop import CameraLoop
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.system.systemd_notify import SystemdNotifier
from tests.delivery_tools import wait_for
from tests.mosquitto import Mosquitto
from tests.scenes import badge_scene, blank_frame

DAEMON_NOFILE = 256
"""The daemon's soft and hard limit on open files: well under the flood."""
FLOOD = 400
"""Stream clients opened and held: far more than the cap and than the daemon's limit."""
MAX_STREAM_CLIENTS = 16
"""The shipped default of ``[ui] max_stream_clients``."""
LOG_GROWTH_LIMIT = 64 * 1024
"""Bytes of log the whole flood may add (before the fix: megabytes a second)."""
ROOT = Path(__file__).resolve().parents[2]


def _looping_scene(directory: Path) -> Path:
    """A folder replayed in a loop: two badges, then three seconds (at 10 fps) of an empty wall,
    so that both people check in (and out) again and again."""
    scene = badge_scene(directory, ["E1001", "E1002"])
    for index in range(30):
        cv2.imwrite(str(scene / f"wall{index:03d}.png"), blank_frame(7000 + index))
    return scene


def _kiosk_config(tmp_path: Path, broker_url: str, port: int) -> Path:
    data = tmp_path / "data"
    db = open_database(data / "kiosk.db")
    gallery = Gallery(db)
    for person_id, name in (("E1001", "张三"), ("E1002", "李四")):
        gallery.add_person(person_id, name, [], "dlib", "none", [])
    db.close()
    config = tmp_path / "kiosk.toml"
    config.write_text(
        '[terminal]\nid = "kiosk-flood"\nsite = "lab"\n'
        f'[camera]\nsource = "{_looping_scene(tmp_path / "scene")}"\nfps = 10\nloop = true\n'
        f'[storage]\ndata_dir = "{data}"\n'
        "[recognition]\nenabled = false\nrepeat_window_s = 2\n"
        f'[mqtt]\nurl = "{broker_url}"\nack_timeout_s = 3\nreconnect_max_s = 1\n'
        f'[ui]\nlisten = "127.0.0.1:{port}"\n'
    )
    return config


def _low_file_limit() -> None:
    """In the daemon's child process, before it runs: a soft and hard limit of 256 files."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (DAEMON_NOFILE, DAEMON_NOFILE))


@contextlib.contextmanager
def _daemon(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``kiosk run`` with :data:`DAEMON_NOFILE` open files at most, its output in ``log``;
    stopped with SIGTERM at the end (and must exit cleanly)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "--config", str(config), "run"],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_low_file_limit,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)
    assert process.returncode == 0, log.read_text(errors="replace")[-4000:]


@contextlib.contextmanager
def _own_file_limit_raised(needed: int) -> Iterator[None]:
    """This process may hold ``needed`` more files (the flood's sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = len(os.listdir("/proc/self/fd")) + needed + 256
    if hard != resource.RLIM_INFINITY:
        assert hard >= wanted, f"the hard limit on open files ({hard}) is below {wanted}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _get_json(url: str) -> dict[str, Any] | None:
    """The JSON at ``url``, or None when it cannot be had right now."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            value: dict[str, Any] = json.loads(response.read())
            return value
    except OSError:
        return None


def _stream_client(port: int) -> socket.socket | None:
    """One client asking for ``/events`` and holding the connection; None if it could not
    even connect."""
    try:
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError:
        return None
    with contextlib.suppress(OSError):  # refused and closed at once: its answer is read later
        client.sendall(b"GET /events HTTP/1.1\r\nHost: kiosk\r\nAccept: text/event-stream\r\n\r\n")
    return client


def _answers(clients: list[socket.socket], timeout: float = 30.0) -> list[bytes]:
    """What the server has answered each client (its status line and a bit): b"" when it
    closed or reset the connection without a word, b"?" when it had not answered by then."""
    answers = [b"?"] * len(clients)
    waiting = selectors.DefaultSelector()
    for index, client in enumerate(clients):
        waiting.register(client, selectors.EVENT_READ, index)
    deadline = time.monotonic() + timeout
    while waiting.get_map() and time.monotonic() < deadline:
        for key, _ in waiting.select(deadline - time.monotonic()):
            try:
                answers[key.data] = key.fileobj.recv(1024)  # type: ignore[union-attr]
            except ConnectionResetError:
                answers[key.data] = b""
            waiting.unregister(key.fileobj)
    waiting.close()
    return answers


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_a_flood_of_stream_clients_stops_neither_delivery_nor_the_camera(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    port = free_port()
    config = _kiosk_config(tmp_path, broker.url, port)
    log = tmp_path / "kiosk.log"
    state_url = f"http://127.0.0.1:{port}/state"
    with _daemon(config, log) as daemon, _own_file_limit_raised(FLOOD):
        wait_for(lambda: receiver.count() >= 2, 60, "the first check-ins delivered")
        wait_for(lambda: (_get_json(state_url) or {}).get("camera", {}).get("ok"), 30, "frames")
        log_before = log.stat().st_size
        with ThreadPoolExecutor(16) as pool:
            flood = [c for c in pool.map(lambda _: _stream_client(port), range(FLOOD)) if c]
        try:
            assert len(flood) > DAEMON_NOFILE, "the flood is not bigger than the daemon's limit"
            answers = _answers(flood)
            held = _descriptors(daemon.pid)

            # While the flood is held, the broker restarts: the kiosk connects again, and
            # check-ins are committed and delivered...
            broker.kill()
            broker.start()
            delivered = receiver.count()
            wait_for(lambda: receiver.count() > delivered, 60, "a check-in delivered")
            # ...the camera loop goes on reading frames, and /state says so.
            first = _get_json(state_url)
            assert first is not None, "/state does not answer"
            assert first["camera"]["ok"] is True and first["status"]["camera_ok"] is True
            wait_for(
                lambda: (
                    (_get_json(state_url) or first)["camera"]["frames"] > first["camera"]["frames"]
                ),
                30,
                "more frames",
            )
            wait_for(lambda: (_get_json(state_url) or first)["status"]["online"], 30, "online")

            # The clients past the cap were refused, with the 503 and its reason.
            served = [a for a in answers if a.startswith(b"HTTP/1.1 200 ")]
            refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
            assert len(served) <= MAX_STREAM_CLIENTS
            assert len(served) + len(refused) + answers.count(b"") == len(answers), set(answers)
            assert any(b"[ui] max_stream_clients" in a and b"Retry-After: 5" in a for a in refused)
            assert held < DAEMON_NOFILE // 2, f"the daemon holds {held} descriptors"
        finally:
            for client in flood:
                client.close()
        grown = log.stat().st_size - log_before
        assert grown < LOG_GROWTH_LIMIT, f"the log grew by {grown} bytes during the flood"
        assert "Too many open files" not in log.read_text(errors="replace")


def test_the_camera_loop_comes_back_after_running_out_of_descriptors(tmp_path: Path) -> None:
    scene = tmp_path / "scene"
    scene.mkdir()
    for index in range(5):
        cv2.imwrite(str(scene / f"{index:02d}.png"), blank_frame(index))
    stop = threading.Event()
    states: list[bool] = []
    frames = [0]

    def camera() -> ReplayCamera:
        return ReplayCamera(scene, fps=50, loop=True, realtime=True)

    loop = CameraLoop(camera, SystemdNotifier(""), stop, 0.05, states.append, loops=True)

    def read() -> None:
        for _ in loop.frames():
            frames[0] += 1

    reader = threading.Thread(target=read, name="capture")
    reader.start()
    try:
        wait_for(lambda: frames[0] >= 10 and states == [True], 30, "frames")
        with _descriptors_exhausted():
            wait_for(lambda: states[-1] is False, 30, "the camera reported failing")
            stalled = frames[0]
        assert reader.is_alive(), "the capture loop ended for good"
        wait_for(lambda: frames[0] > stalled + 10, 30, "frames again")
        assert states[-1] is True and not loop.ended
    finally:
        stop.set()
        reader.join(30)
    assert not reader.is_alive()


@contextlib.contextmanager
def _descriptors_exhausted() -> Iterator[None]:
    """This process cannot open one more file until the block ends: the soft limit lowered to
    what is open, and a thread taking every descriptor that another one gives back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
    taken: list[int] = []
    released = threading.Event()

    def take_every_descriptor() -> None:
        while True:
            with contextlib.suppress(OSError):
                while True:
                    taken.append(os.open(os.devnull, os.O_RDONLY))
            if released.wait(0.005):
                return

    hog = threading.Thread(target=take_every_descriptor, name="descriptor-hog")
    hog.start()
    try:
        yield
    finally:
        released.set()
        hog.join(10)
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
