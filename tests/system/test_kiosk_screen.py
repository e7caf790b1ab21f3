"""The kiosk screen end to end: the daemon reads real QR codes from a replayed camera, commits the
check-in, and a real headless Chromium shows the name and the success text, then a refusal with
its reason in the kiosk's language; screenshots land in ``tests/artifacts/screenshots``."""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path

import cv2
from playwright.sync_api import Browser, expect

from devtools.local_broker import free_port
from drivers.display.web import WebDisplay
from models.signed_code import issue_code
from terminal.checkin.decisions import Decision
from terminal.config import load_config
from terminal.daemon import Daemon, RunOptions
from terminal.store.database import open_database
from terminal.store.gallery import Gallery
from tests.browser_tools import SIZES, console_errors, kiosk_page, screenshot
from tests.scenes import badge_scene, blank_frame, code_scene
from tests.signed_code_tools import hr_keys

SECONDS = 8_000  # Playwright waits, in ms: generous, never asserted as timing
LEAD_FRAMES = 16  # 4 s of an empty scene at 4 fps while the page opens


def _wait_listening(url: str) -> None:
    """Until the kiosk page answers (the daemon starts the screen on its own thread)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def _kiosk(tmp_path: Path, language: str, port: int) -> Path:
    """A QR-only kiosk in ``language`` whose camera shows E1001's badge, then an expired code."""
    keys = tmp_path / "qr-keys"
    hr1 = hr_keys(keys, "HR1")["HR1"]
    expired = issue_code(hr1, "HR1", "E1001", ttl_s=30, now=1_700_000_000)
    frames = tmp_path / "frames"
    badge_scene(frames / "a", ["E1001"], frames_per_badge=8)
    code_scene(frames / "b", [expired], frames_per_code=8)
    # One folder, played in order: blank frames first so the page is open before anything.
    scene = tmp_path / "scene"
    scene.mkdir()
    for index in range(LEAD_FRAMES):
        cv2.imwrite(str(scene / f"{index:04d}.png"), blank_frame(5000 + index))
    index = LEAD_FRAMES
    for part in ("a", "b"):
        for image in sorted((frames / part).iterdir()):
            image.rename(scene / f"{index:04d}.png")
            index += 1
    toml = tmp_path / "kiosk.toml"
    toml.write_text(
        f'[terminal]\nid = "kiosk-01"\nsite = "前台"\nlanguage = "{language}"\n'
        f'[camera]\nsource = "{scene}"\nfps = 4\n[storage]\ndata_dir = "{tmp_path / "data"}"\n'
        '[recognition]\nenabled = false\n[verification]\nmode = "qr"\n'
        f'[qr]\npublic_keys_dir = "{keys}"\n[ui]\nlisten = "127.0.0.1:{port}"\n'
        "result_hold_s = 3\n"
    )
    db = open_database(tmp_path / "data" / "kiosk.db")
    Gallery(db).add_person("E1001", "张三", [], "sface", "none", [])
    db.close()
    return toml


def test_the_screen_shows_a_check_in_and_a_refusal_from_the_real_daemon(
    tmp_path: Path, browser: Browser
) -> None:
    port = free_port()
    config = load_config(_kiosk(tmp_path, "zh", port))
    display = WebDisplay(config.ui.listen, preview_fps=4)
    decisions: list[Decision] = []
    options = RunOptions(
        realtime=True,
        exit_when_source_ends=True,
        clock=lambda: True,
        on_decision=decisions.append,
        display=display,
    )
    daemon = Daemon(config, options)
    status: list[int] = []
    runner = threading.Thread(target=lambda: status.append(daemon.run()))
    runner.start()
    try:
        _wait_listening(f"http://127.0.0.1:{port}/healthz")
        with kiosk_page(browser, f"http://127.0.0.1:{port}/", SIZES["small"]) as page:
            result = page.locator("#result")
            expect(result).to_have_attribute("data-kind", "success", timeout=SECONDS * 4)
            expect(page.locator("#result-name")).to_have_text("张三")
            expect(page.locator("#result-title")).to_have_text("签到成功")
            screenshot(page, "daemon-success")
            expect(result).to_have_attribute("data-kind", "refused", timeout=SECONDS * 4)
            expect(page.locator("#result-title")).to_contain_text("二维码已过期")
            screenshot(page, "daemon-refused")
            expect(page.locator("#status")).to_contain_text("单机模式")  # no [mqtt]: stand-alone
            assert console_errors(page) == []
    finally:
        daemon.stop.set()
        runner.join(60)
    assert status == [0]
    kinds = [d.kind for d in decisions]
    assert "checked_in" in kinds and "refused" in kinds
    # The page reported when it painted each result it was sent live.
    assert len(display.latencies()) >= 2
