"""The daemon as a real process: replayed camera -> pipeline -> outbox -> sync -> broker."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from central.receiver.store import ReceiverStore
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from tests.cli_process import kiosk_process
from tests.cli_process import write_daemon_config as _write_config
from tests.delivery_tools import fill_until_full
from tests.mosquitto import Mosquitto
from tests.scenes import badge_scene

PEOPLE = {"E1001": "张三", "E1002": "李四", "E1003": "王五"}
ONCE = ("--exit-when-source-ends", "--as-fast-as-possible")


def _enroll_badge_holders(data_dir: Path) -> None:
    db = open_database(data_dir / "kiosk.db")
    gallery = Gallery(db)
    for person_id, name in PEOPLE.items():
        gallery.add_person(person_id, name, [], "dlib", "none", [])
    db.conn.close()


def _kiosk(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return kiosk_process(config, "run", *args)


def _finish(process: subprocess.Popen[bytes], timeout: float = 120) -> str:
    out, _ = process.communicate(timeout=timeout)
    text = out.decode("utf-8", "replace")
    assert process.returncode == 0, text
    return text


def _outbox(data_dir: Path, max_size_mb: float | None = None) -> Outbox:
    return Outbox.open(data_dir / "kiosk.db", "kiosk-t1", "lab", max_size_mb)


def _wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_offline_checkins_survive_restart_and_seq_continues(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _enroll_badge_holders(data)
    first = _write_config(
        tmp_path / "a.toml", data, badge_scene(tmp_path / "a", ["E1001", "E1002"]), None
    )
    _finish(_kiosk(first, "--exit-when-source-ends", "--as-fast-as-possible"))
    second = _write_config(tmp_path / "b.toml", data, badge_scene(tmp_path / "b", ["E1003"]), None)
    _finish(_kiosk(second, "--exit-when-source-ends", "--as-fast-as-possible"))

    outbox = _outbox(data)
    rows = outbox.rows()
    outbox.close()
    assert [(r.event.seq, r.event.person_id, r.event.method.value) for r in rows] == [
        (1, "E1001", "qr"),
        (2, "E1002", "qr"),
        (3, "E1003", "qr"),
    ]
    assert {r.state for r in rows} == {"pending"}


def test_broker_down_then_up_delivers_each_checkin_once(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    data = tmp_path / "data"
    _enroll_badge_holders(data)
    broker.kill()
    scene = badge_scene(tmp_path / "scene", list(PEOPLE))
    config = _write_config(tmp_path / "k.toml", data, scene, broker.url)
    process = _kiosk(config)  # keeps running after the scene: it must deliver later
    try:
        _wait_for(lambda: _count(data) == len(PEOPLE))
        assert receiver.count() == 0
        broker.start()
        _wait_for(lambda: receiver.count() == len(PEOPLE))
        _wait_for(lambda: _acked(data) == len(PEOPLE))
    finally:
        process.send_signal(signal.SIGTERM)
        _finish(process)
    events = receiver.events()
    assert sorted(e["person_id"] for e in events) == sorted(PEOPLE)
    assert sorted(e["seq"] for e in events) == [1, 2, 3]


def test_kill_9_after_commit_loses_nothing(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    data = tmp_path / "data"
    _enroll_badge_holders(data)
    broker.kill()
    scene = badge_scene(tmp_path / "scene", ["E1001", "E1002"])
    config = _write_config(tmp_path / "k.toml", data, scene, broker.url)
    process = _kiosk(config)
    _wait_for(lambda: _count(data) == 2)
    process.kill()  # SIGKILL: no clean shutdown
    process.wait(timeout=10)

    broker.start()
    idle = _write_config(tmp_path / "idle.toml", data, badge_scene(tmp_path / "e", []), broker.url)
    restarted = _kiosk(idle, "--exit-when-source-ends", "--as-fast-as-possible")
    _finish(restarted)
    _wait_for(lambda: receiver.count() == 2)
    assert sorted(e["person_id"] for e in receiver.events()) == ["E1001", "E1002"]
    assert _acked(data) == 2


def test_a_full_store_refuses_visibly_keeps_everything_and_recovers(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    data = tmp_path / "data"
    _enroll_badge_holders(data)
    outbox = _outbox(data, max_size_mb=1)
    fill_until_full(outbox)
    held = {str(r.event.event_id) for r in outbox.rows()}
    outbox.close()
    capped = "max_size_mb = 1\n"

    badge = badge_scene(tmp_path / "a", ["E1001"])
    offline = _write_config(tmp_path / "a.toml", data, badge, None, capped)
    output = _finish(_kiosk(offline, "--exit-when-source-ends", "--as-fast-as-possible"))
    assert "disk full" in output and "checked in" not in output.lower(), output
    outbox = _outbox(data)
    assert {str(r.event.event_id) for r in outbox.rows()} == held, "a committed event was lost"
    outbox.close()

    # Delivery acknowledges the backlog, which frees room (see test_outbox for how).
    empty = badge_scene(tmp_path / "e", [])
    online = _write_config(tmp_path / "b.toml", data, empty, broker.url, capped)
    _finish(_kiosk(online, "--exit-when-source-ends", "--as-fast-as-possible"))
    assert {e["event_id"] for e in receiver.events()} == held
    badge = badge_scene(tmp_path / "c", ["E1002"])
    online = _write_config(tmp_path / "c.toml", data, badge, broker.url, capped)
    output = _finish(_kiosk(online, "--exit-when-source-ends", "--as-fast-as-possible"))
    assert "checked in E1002" in output, output
    _wait_for(lambda: receiver.count() == len(held) + 1)
    newest = max(receiver.events(), key=lambda e: e["seq"])
    assert (newest["person_id"], newest["seq"]) == ("E1002", len(held) + 1)


def test_missing_camera_keeps_daemon_running(tmp_path: Path) -> None:
    config = _write_config(tmp_path / "k.toml", tmp_path / "d", tmp_path / "no-such.mp4", None)
    process = _kiosk(config)
    time.sleep(3)  # let it try (and fail) to open the camera a couple of times
    assert process.poll() is None, "the daemon must keep running without a camera"
    process.send_signal(signal.SIGTERM)
    output = _finish(process)
    assert "camera unavailable" in output


def _count(data: Path) -> int:
    outbox = _outbox(data)
    try:
        return sum(outbox.counts().values())
    finally:
        outbox.close()


def _acked(data: Path) -> int:
    outbox = _outbox(data)
    try:
        return outbox.counts()["acked"]
    finally:
        outbox.close()


def test_a_second_daemon_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "d"
    config = _write_config(tmp_path / "k.toml", data, tmp_path / "no-such.mp4", None)
    lock = data / "kiosk.lock"
    first = _kiosk(config)
    try:
        _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
        second = _kiosk(config)
        out, _ = second.communicate(timeout=60)
        text = out.decode("utf-8", "replace")
        assert second.returncode == 1, text
        assert text.count("\n") == 1 and text.startswith("kiosk: error: "), text
        assert f"another kiosk is already running on this data directory (pid {first.pid})" in text
        assert first.poll() is None, "the first daemon must go on running"
    finally:
        first.kill()  # kill -9: the kernel drops the lock, nothing stale is left behind
        first.communicate(timeout=60)
    third = _kiosk(config)
    _wait_for(lambda: lock.read_text().strip() == str(third.pid))
    third.send_signal(signal.SIGTERM)
    _finish(third)


def test_a_zero_length_database_never_makes_the_terminal_reuse_a_seq(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    data = tmp_path / "data"
    _enroll_badge_holders(data)
    delivered = badge_scene(tmp_path / "a", ["E1001", "E1002"])
    _finish(_kiosk(_write_config(tmp_path / "a.toml", data, delivered, broker.url), *ONCE))
    _wait_for(lambda: receiver.count() == 2)
    stranded = badge_scene(tmp_path / "b", ["E1003"])  # committed offline, never delivered
    _finish(_kiosk(_write_config(tmp_path / "b.toml", data, stranded, None), *ONCE))
    (data / "kiosk.db").write_bytes(b"")  # the file lost, as a careless restore leaves it
    for suffix in ("-wal", "-shm"):
        (data / f"kiosk.db{suffix}").unlink(missing_ok=True)

    empty = badge_scene(tmp_path / "c", [])
    output = _finish(_kiosk(_write_config(tmp_path / "c.toml", data, empty, broker.url), *ONCE))
    assert "CRITICAL" in output and "is empty (zero length)" in output, output
    assert "seq continues after 3" in output, output
    _enroll_badge_holders(data)  # the roster comes again; the stranded event cannot
    after = badge_scene(tmp_path / "d", ["E1001"])
    _finish(_kiosk(_write_config(tmp_path / "d.toml", data, after, broker.url), *ONCE))
    _wait_for(lambda: receiver.count() == 3)
    seqs = sorted((e["seq"], e["person_id"]) for e in receiver.events())
    assert seqs == [(1, "E1001"), (2, "E1002"), (4, "E1001")], "a seq was reused"
    (summary,) = receiver.terminals()
    assert summary.missing == 1, "the stranded check-in must show as a gap"
    config = tmp_path / "c.toml"
    report = kiosk_process(config, "report", "delivery", "--db", str(tmp_path / "central.db"))
    out, _ = report.communicate(timeout=60)
    (row,) = [line.split("\t") for line in out.decode().splitlines() if "kiosk-t1" in line]
    assert row[:4] == ["kiosk-t1", "3", "4", "1"] and row[5] == "0", row  # 1 missing, 0 reused
