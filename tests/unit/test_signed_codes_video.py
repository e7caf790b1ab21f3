"""Signed codes shown to the camera: rendered into a replayed scene, read back from the frames by
the real decoders, checked and consumed by CodeChecker the way the pipeline will."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drivers.camera.replay import ReplayCamera
from drivers.qr.base import QrDecoder
from drivers.qr.pyzbar_decoder import PyzbarDecoder
from drivers.qr.zxing_decoder import ZxingDecoder
from models.signed_code import issue_code
from terminal.checkin.badges import QrClaim
from terminal.checkin.code_checker import CodeChecker
from tests.scenes import code_scene
from tests.signed_code_tools import NOW, at, hr_keys, make_checker

FPS = 10.0
FRAMES_PER_CODE = 6


def _play(scene: Path, decoder: QrDecoder, checker: CodeChecker) -> dict[int, list[str]]:
    """Outcomes by shown code (its position in the scene): "accepted" or a refusal code."""
    outcomes: dict[int, list[str]] = defaultdict(list)
    camera = ReplayCamera(scene, fps=FPS, realtime=False)
    with camera:
        while (frame := camera.read()) is not None:
            shown, offset = divmod(frame.index - 3, FRAMES_PER_CODE + 3)
            seen = decoder.decode(frame.image)
            if frame.index < 3 or offset >= FRAMES_PER_CODE:
                assert seen == [], frame.index  # the blank frames between codes
                continue
            assert len(seen) == 1, frame.index
            now = at(frame.index / FPS)  # the scene plays from NOW on
            result = checker.check(seen[0], now=now)
            if isinstance(result, QrClaim):
                accepted = checker.consume(result, now=now)
                outcomes[shown].append("accepted" if accepted else "lost race")
            else:
                outcomes[shown].append(result.code)
    return outcomes


@pytest.mark.parametrize("decoder_type", [ZxingDecoder, PyzbarDecoder], ids=["zxing", "pyzbar"])
def test_codes_in_a_video_get_the_expected_answers(
    tmp_path: Path, decoder_type: type[QrDecoder]
) -> None:
    keys = hr_keys(tmp_path / "keys", "HR1", "HR2")
    valid = issue_code(keys["HR1"], "HR1", "E1001", ttl_s=30, now=NOW)
    rotated = issue_code(keys["HR2"], "HR2", "E1002", ttl_s=30, now=NOW)
    expired = issue_code(keys["HR1"], "HR1", "E1003", ttl_s=30, now=at(-120))
    forged = issue_code(Ed25519PrivateKey.generate(), "HR1", "E1004", now=NOW)
    relabelled = valid.replace("E1001", "E1005", 1)
    wrong_key = issue_code(Ed25519PrivateKey.generate(), "HR9", "E1006", now=NOW)
    early = issue_code(keys["HR2"], "HR2", "E1007", ttl_s=30, now=at(300))
    shown = [valid, rotated, expired, forged, relabelled, wrong_key, early, valid]
    scene = code_scene(tmp_path / "scene", shown, FRAMES_PER_CODE)
    checker = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")

    outcomes = _play(scene, decoder_type(), checker)

    held = ["replayed"] * (FRAMES_PER_CODE - 1)  # a code held up: used once, then refused
    assert outcomes == {
        0: ["accepted", *held],
        1: ["accepted", *held],
        2: ["expired"] * FRAMES_PER_CODE,
        3: ["bad_signature"] * FRAMES_PER_CODE,
        4: ["bad_signature"] * FRAMES_PER_CODE,
        5: ["unknown_key"] * FRAMES_PER_CODE,
        6: ["not_yet_valid"] * FRAMES_PER_CODE,
        7: ["replayed"] * FRAMES_PER_CODE,  # shown again later: a forwarded photo of it
    }
    # After a restart the same video checks in nobody: both used codes stay used.
    checker.db.conn.close()
    restarted = make_checker(tmp_path / "kiosk.db", tmp_path / "keys")
    again = _play(scene, decoder_type(), restarted)
    assert again[0] == again[1] == again[7] == ["replayed"] * FRAMES_PER_CODE
