"""A real full disk: the daemon's data directory on an 8 MiB tmpfs that something else fills.

The kiosk must keep running and refuse new check-ins visibly, keep delivering and recording the
central side's acknowledgements, start again while the disk is still full, and check in again
once delivery has freed room inside its database, with every committed event at the receiver
exactly once.
"""

from __future__ import annotations

from pathlib import Path

from central.receiver.store import ReceiverStore
from terminal.config import load_config
from terminal.doctor.machine import check_disk
from terminal.store.database import open_database
from terminal.store.disk_room import BALLAST_BYTES
from terminal.store.gallery import Gallery
from terminal.store.outbox import Outbox
from tests.cli_process import kiosk_process, write_daemon_config
from tests.delivery_tools import fill_until_full
from tests.mosquitto import Mosquitto
from tests.scenes import badge_scene
from tests.small_filesystem import fill_disk, free_bytes, small_filesystem

TERMINAL = "kiosk-t1"  # as write_daemon_config names it
RESERVE = "reserve_mb = 1\n"


def _run(config: Path) -> str:
    """One daemon run over a finite scene; its output (it must exit 0)."""
    process = kiosk_process(config, "run", "--exit-when-source-ends", "--as-fast-as-possible")
    out, _ = process.communicate(timeout=180)
    text = out.decode("utf-8", "replace")
    assert process.returncode == 0, text
    return text


def _outbox_rows(data: Path) -> dict[str, str]:
    outbox = Outbox.open(data / "kiosk.db", TERMINAL, "lab")
    try:
        return {str(row.event.event_id): row.state for row in outbox.rows()}
    finally:
        outbox.close()


def test_a_full_disk_refuses_check_ins_keeps_delivering_restarts_and_recovers(
    tmp_path: Path, broker: Mosquitto, receiver: ReceiverStore
) -> None:
    with small_filesystem(tmp_path / "disk", size_mb=8) as disk:
        data = disk / "kiosk"
        db = open_database(data / "kiosk.db")
        for person_id in ("E1001", "E1002"):
            Gallery(db).add_person(person_id, person_id, [], "dlib", "none", [])
        db.conn.close()
        # Offline check-ins until the kiosk stops at its reserve; then the disk fills up.
        outbox = Outbox.open(data / "kiosk.db", TERMINAL, "lab", reserve_mb=1)
        fill_until_full(outbox, refusals=20)
        outbox.close()
        held = set(_outbox_rows(data))
        assert len(held) > 1000
        fill_disk(disk / "logs")
        assert free_bytes(disk) == 0

        # Started on the full disk: it runs, and a check-in is refused on screen and in the log.
        broker.kill()
        refused = _run(
            write_daemon_config(
                tmp_path / "a.toml", data, badge_scene(tmp_path / "a", ["E1001"]), None, RESERVE
            )
        )
        assert "new check-ins are refused" in refused and "checked in" not in refused.lower(), (
            refused
        )
        assert set(_outbox_rows(data)) == held, "a committed event was lost"
        doctor = check_disk(load_config(tmp_path / "a.toml"))
        assert doctor.failed and "new check-ins are refused" in doctor.detail, doctor
        assert "kiosk.ballast is missing" in doctor.detail, doctor

        # Delivery and its acknowledgements go on while the disk stays full.
        broker.start()
        empty = badge_scene(tmp_path / "e", [])
        _run(write_daemon_config(tmp_path / "b.toml", data, empty, broker.url, RESERVE))
        assert {e["event_id"] for e in receiver.events()} == held
        assert set(_outbox_rows(data).values()) == {"acked"}
        assert free_bytes(disk) < BALLAST_BYTES, "the disk is no longer full"

        # The acknowledged events make room inside the database for a new check-in.
        badge = badge_scene(tmp_path / "c", ["E1002"])
        accepted = _run(write_daemon_config(tmp_path / "c.toml", data, badge, broker.url, RESERVE))
        assert "checked in E1002" in accepted, accepted
        rows = _outbox_rows(data)
        assert len(set(rows) - held) == 1 and rows.keys() - held <= {
            e["event_id"] for e in receiver.events()
        }
        assert free_bytes(disk) < BALLAST_BYTES, (
            "the room came from inside the database, not the disk"
        )

    events = receiver.events()
    assert len(events) == len({e["event_id"] for e in events}) == len(held) + 1
    seqs = sorted(e["seq"] for e in events)
    assert seqs == list(range(1, len(held) + 2)), "seq has a gap or a repeat"
    newest = max(events, key=lambda e: e["seq"])
    assert newest["person_id"] == "E1002"
