"""``set_setting`` against the real daemon: ``kiosk run`` answers, exits with the restart status
(systemd's ``Restart=always`` starts it again) and the next start runs with the new setting."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from central.commands import CommandSender
from common.mqtt.topics import Topics
from common.mqtt.types import LinkOptions
from models.command import build_command
from terminal.daemon import RESTART_EXIT
from tests.cli_process import kiosk_process
from tests.delivery_tools import Probe
from tests.mosquitto import Mosquitto
from tests.roster_tools import make_key, wait_online


def _config(tmp_path: Path, url: str) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0001.png"), np.full((120, 160, 3), 128, dtype=np.uint8))
    path = tmp_path / "kiosk.toml"
    path.write_text(
        f'[terminal]\nid = "kiosk-01"\nsite = "lab"\n'
        f'[camera]\nsource = "{frames}"\nfps = 5\nloop = true\n'
        f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
        "[recognition]\nenabled = false\n"
        f'[mqtt]\nurl = "{url}"\nreconnect_min_s = 0.1\nreconnect_max_s = 0.5\n'
        f'[central]\npublic_keys_dir = "{tmp_path / "keys"}"\n'
    )
    return path


def test_set_setting_makes_the_daemon_exit_to_be_restarted_with_the_new_setting(
    tmp_path: Path, broker: Mosquitto
):
    config = _config(tmp_path, broker.url)
    key = make_key(tmp_path / "keys", "HR1")
    probe = Probe(broker.url)
    probe.subscribe("attendance/v1/kiosk-01/status")
    kiosk = kiosk_process(config, "run")
    try:
        wait_online(probe, "kiosk-01")
        command, message = build_command(
            key, "HR1", "kiosk-01", "set_setting", {"key": "qr.static_badges", "value": False}
        )
        sender = CommandSender(LinkOptions(url=broker.url, client_id="hr"), Topics(), "kiosk-01")
        try:
            sender.send(message, timeout_s=30)
            result = sender.wait_result(command.command_id, timeout_s=60)
        finally:
            sender.close()
        out, _ = kiosk.communicate(timeout=60)
    finally:
        probe.close()
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait(10)
    log = out.decode("utf-8", "replace")
    assert result is not None and result.status == "done", (result, log)
    assert "applies after restart" in result.detail
    assert kiosk.returncode == RESTART_EXIT, log
    assert "restarting to apply the settings the central system changed" in log
    check = kiosk_process(config, "config", "check")
    printed, _ = check.communicate(timeout=60)
    assert check.returncode == 0
    text = printed.decode("utf-8", "replace")
    assert "setting qr.static_badges = false (set by the central system" in text, text
