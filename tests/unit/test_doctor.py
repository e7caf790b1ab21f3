"""``kiosk doctor`` on this machine: a replayed camera (frames, video), real SQLite files (a
healthy one, a corrupt one left untouched), model files, signed-code keys, a broken config.

The clock check reads this machine's kernel, so its outcome is not asserted, only its form.
"""

from __future__ import annotations

import json
import sys
import threading
import types
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cli.main import main
from devtools.local_broker import free_port
from models.roster import RosterChunk, RosterPerson
from terminal.config import Config
from terminal.doctor import NAMES, Check, run_checks
from terminal.doctor.result import CheckResult, Status, passed
from terminal.face.recapture import DEFAULT_MODEL
from terminal.store.database import open_database
from terminal.store.liveness_calibration import StoredLivenessCalibration, save_liveness_calibration
from terminal.store.rosters import RosterStore
from tests.doctor_tools import expected_status, kiosk, parse_lines, run_doctor, snapshot
from tests.unit.test_picamera2_camera import FakePicamera2


def test_a_healthy_offline_kiosk_passes_every_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    sections["ui"] = {"listen": f"127.0.0.1:{free_port()}"}  # the daemon is not running
    data = Path(sections["storage"]["data_dir"])
    before = snapshot(data)
    code, out = run_doctor(tmp_path, sections, capsys)
    lines = parse_lines(out)
    assert list(lines) == list(NAMES), out
    assert code == expected_status(lines), out
    for name, (status, _rest) in lines.items():
        if name not in ("clock", "screen", "liveness"):
            assert status == "PASS", out
    assert lines["screen"][0] == "WARN" and "not served" in lines["screen"][1]
    assert lines["liveness"][0] == "WARN"
    assert "passive, not calibrated on this camera" in lines["liveness"][1]
    assert "-> with the kiosk stopped" in lines["liveness"][1]
    assert "64x48" in lines["camera"][1]
    assert "1 pending, 0 sent, 0 acked" in lines["database"][1]
    assert "no roster applied (0 people enrolled locally)" in lines["database"][1]
    assert "1 Ed25519 keys (hr-2026)" in lines["qr-keys"][1]
    assert "offline-only" in lines["broker"][1]
    clock_status, clock_rest = lines["clock"]
    assert clock_status in ("PASS", "FAIL")
    if clock_status == "FAIL":
        assert "-> enable systemd-timesyncd/chrony" in clock_rest
        assert "clock_synced=false" in clock_rest
    assert snapshot(data) == before  # read-only: not even a -wal or -shm file appeared


def test_liveness_shows_the_stored_calibration_and_warns_when_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    db = open_database(Path(sections["storage"]["data_dir"]) / "kiosk.db")
    calibration = StoredLivenessCalibration(
        "2026-12-01T08:00:00Z", 0.25, 0.97, DEFAULT_MODEL.to_dict(), 155, 12, "installation"
    )
    save_liveness_calibration(db, calibration)
    db.conn.close()
    _code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["liveness"]
    assert status == "PASS", out
    assert "calibrated 2026-12-01T08:00:00Z on 155 genuine and 12 attack faces" in rest
    assert "pass below 0.25, refuse from 0.97" in rest

    sections["liveness"] = {"mode": "off"}
    _code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["liveness"]
    assert (status, rest.split(" -> ")[0]) == ("WARN", "off: a photo of an employee checks them in")


def test_json_lists_every_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    code, out = run_doctor(tmp_path, kiosk(tmp_path), capsys, "--json")
    document = json.loads(out)
    checks = {check["name"]: check for check in document["checks"]}
    assert list(checks) == list(NAMES)
    for check in checks.values():
        assert check["status"] in ("pass", "warn", "fail")
        assert check["detail"]
        assert (check["hint"] is None) == (check["status"] == "pass")
    assert document["ok"] == (code == 0) == (checks["clock"]["status"] == "pass")
    assert checks["database"]["data"]["pending"] == 1
    assert checks["database"]["data"]["roster_version"] is None
    assert checks["camera"]["data"] == {"width": 64, "height": 48}


@pytest.mark.parametrize(
    "text, message",
    [("[mqtt]\nretries = 3\n", "unknown key 'mqtt.retries'"), ("[camera\n", "not valid TOML")],
)
def test_a_broken_config_is_one_failing_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
):
    config = tmp_path / "kiosk.toml"
    config.write_text(text, encoding="utf-8")
    assert main(["--config", str(config), "doctor"]) == 1
    captured = capsys.readouterr()
    [line] = captured.out.splitlines()
    assert line.startswith("FAIL  config") and message in line and " -> " in line
    assert "Traceback" not in captured.err


def test_a_video_file_is_read_and_a_missing_one_fails_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10, (80, 60))
    for i in range(5):
        writer.write(np.full((60, 80, 3), 40 * i, np.uint8))
    writer.release()
    sections["camera"] = {"source": str(video)}
    _, out = run_doctor(tmp_path, sections, capsys)
    assert parse_lines(out)["camera"] == ("PASS", f"replay of {video}: read a frame, 80x60")
    sections["camera"] = {"source": str(tmp_path / "missing.mp4")}
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["camera"]
    assert code == 1 and status == "FAIL"
    assert "missing.mp4: no such file or folder -> set [camera] source" in rest


def test_a_corrupt_database_fails_and_is_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    data = Path(sections["storage"]["data_dir"])
    (data / "kiosk.db").write_bytes(np.random.default_rng(7).bytes(64 * 1024))
    before = snapshot(data)
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["database"]
    assert code == 1 and status == "FAIL"
    assert "damaged" in rest and "kiosk.db.corrupt-" in rest
    assert snapshot(data) == before  # byte for byte, and no file added or moved


def test_the_database_line_shows_the_roster_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    data = Path(sections["storage"]["data_dir"])
    people = [RosterPerson(person_id=f"E{i}", name=f"P{i}") for i in range(3)]
    chunk = RosterChunk(
        roster_version=1767225600,
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        chunk_index=0,
        chunk_count=1,
        people=people,
    )
    store = RosterStore(open_database(data / "kiosk.db"))
    store.stage(chunk, "HR1")
    store.apply(chunk.roster_version)
    store.db.close()
    before = snapshot(data)
    _code, out = run_doctor(tmp_path, sections, capsys, "--json")
    database = {check["name"]: check for check in json.loads(out)["checks"]}["database"]
    assert database["status"] == "pass"
    assert "; roster version 1767225600 (3 people)" in database["detail"]
    assert (database["data"]["roster_version"], database["data"]["people"]) == (1767225600, 3)
    assert snapshot(data) == before


def test_models_missing_or_altered_fail_and_are_not_checked_when_unused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    (models / "face_detection_yunet_2023mar_int8bq.onnx").write_bytes(b"not the model")
    sections["recognition"] = {"models_dir": str(models)}
    _, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["models"]
    assert status == "FAIL" and "sha256 does not match" in rest and "missing" in rest
    assert "-> run `kiosk models install`" in rest
    sections["recognition"] = {"enabled": False, "models_dir": str(models)}
    _, out = run_doctor(tmp_path, sections, capsys)
    assert parse_lines(out)["models"] == (
        "PASS",
        "not used: [recognition] enabled = false (QR codes only)",
    )


def test_signed_code_keys_that_are_not_ed25519_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    sections = kiosk(tmp_path)
    keys = Path(sections["qr"]["public_keys_dir"])
    (keys / "garbage.pub").write_text("not a key\n")
    ec_public = ec.generate_private_key(ec.SECP256R1()).public_key()
    (keys / "ec.pub").write_bytes(
        ec_public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    good = (keys / "hr-2026.pub").read_bytes()
    (keys / "a-key-id-far-too-long.pub").write_bytes(good)  # the kiosk skips it: so must we
    _, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["qr-keys"]
    assert status == "FAIL" and "garbage.pub: not a PEM public key" in rest
    assert "ec.pub: not an Ed25519 key" in rest and "1 Ed25519 keys (hr-2026)" in rest
    assert "a-key-id-far-too-long.pub: the key id (file name) must be 1-16 characters" in rest
    for path in keys.iterdir():
        path.unlink()
    _, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["qr-keys"]
    assert status == "WARN" and "no *.pub key" in rest


def test_a_check_that_hangs_is_reported_and_left_behind(tmp_path: Path):
    release = threading.Event()

    def hangs(config: Config) -> CheckResult:
        release.wait(60)
        return passed("stuck", "never seen")

    def breaks(config: Config) -> CheckResult:
        raise OSError("the disk went away")

    checks = [
        Check("stuck", hangs, 0.2, "look at the stuck thing"),
        Check("broken", breaks, 5, "x"),
    ]
    try:
        results = run_checks(None, tmp_path / "data", checks)
    finally:
        release.set()
    assert [r.name for r in results] == ["config", "stuck", "broken"]
    assert results[0].status is Status.WARN  # no --config: the defaults are checked
    assert results[1].line(6) == "FAIL  stuck   no answer within 0.2 s -> look at the stuck thing"
    assert results[2].failed and "OSError: the disk went away" in results[2].detail


def test_a_pi_camera_without_picamera2_fails_with_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # not installed for this Python
    sections = kiosk(tmp_path)
    sections["camera"] = {"source": "picamera2"}
    code, out = run_doctor(tmp_path, sections, capsys)
    status, rest = parse_lines(out)["camera"]
    assert code == 1 and status == "FAIL"
    assert rest.startswith("picamera2 is not installed for this Python: on Raspberry Pi OS run")
    assert "`sudo apt install python3-picamera2`" in rest and "--system-site-packages" in rest
    assert f"-> then check with `{sys.executable} -c 'import picamera2'`" in rest


def test_a_pi_camera_reads_a_frame_through_picamera2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    fake = types.ModuleType("picamera2")
    fake.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", fake)
    sections = kiosk(tmp_path)
    sections["camera"] = {"source": "csi:0", "width": 320, "height": 240}
    _, out = run_doctor(tmp_path, sections, capsys)
    assert parse_lines(out)["camera"] == (
        "PASS", "Pi camera 0 (imx708, picamera2): read a frame, 320x240"
    )  # fmt: skip


def test_help_lists_every_check_the_doctor_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """``kiosk doctor --help`` is made from the doctor's own list of checks, each described."""
    from cli.doctor import CHECK_HELP

    assert list(CHECK_HELP) == list(NAMES), "describe each check in cli/doctor.py CHECK_HELP"
    assert main(["doctor", "--help"]) == 0
    out = capsys.readouterr().out
    listed = out[out.index("Checks, in the order shown:") :].splitlines()[1:]
    names = [line.split()[0] for line in listed if line.startswith("  ") and line[2] != " "]
    assert names[: len(NAMES)] == list(NAMES)
    for name in NAMES:
        assert " ".join(CHECK_HELP[name].split()[:3]) in " ".join(out.split())
