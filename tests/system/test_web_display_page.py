"""The kiosk page in a real headless Chromium (Playwright): results, the idle screen, the
status bar, the paint reports, the live view. Screenshots at both screen sizes land in
``tests/artifacts/screenshots/``. Nothing here asserts timing beyond generous waits."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from devtools.local_broker import free_port
from drivers.display.web import WebDisplay
from tests.browser_tools import SIZES, console_errors, kiosk_page, screenshot
from tests.web_display_tools import refusal, started, success, wait_until, zh_status

WAIT_MS = 10_000
BOTH_SIZES = pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))


@pytest.fixture
def display() -> Iterator[WebDisplay]:
    """A started WebDisplay with a Chinese status."""
    with started() as web:
        web.status(zh_status())
        yield web


def _page_ready(page: Page) -> None:
    page.wait_for_selector('#status [data-item="link"][data-state="online"]', timeout=WAIT_MS)


def _result(page: Page, kind: str, sequence: int) -> None:
    selector = f'#result[data-kind="{kind}"][data-sequence="{sequence}"]'
    page.wait_for_selector(selector, state="visible", timeout=WAIT_MS)


@BOTH_SIZES
def test_a_success_shows_title_name_and_detail(
    browser: Browser, display: WebDisplay, size: tuple[int, int]
) -> None:
    with kiosk_page(browser, display.url, size) as page:
        _page_ready(page)
        assert page.get_attribute("html", "lang") == "zh-Hans"
        display.show(success(1, name="张三"))
        _result(page, "success", 1)
        assert page.inner_text("#result-title") == "签到成功"
        assert page.inner_text("#result-name") == "张三"
        assert page.inner_text("#result-detail") == "08:59:30"
        assert page.is_hidden("#idle")
        assert page.get_attribute("#result-icon use", "href") == "#i-success"
        wait_until(lambda: len(display.latencies()) == 1, what="the page reported /rendered")
        assert 0 <= display.latencies()[0] < 60
        screenshot(page, "success")
        assert console_errors(page) == []


@BOTH_SIZES
def test_a_refusal_shows_its_reason(
    browser: Browser, display: WebDisplay, size: tuple[int, int]
) -> None:
    with kiosk_page(browser, display.url, size) as page:
        _page_ready(page)
        display.show(refusal(2, reason="未识别，请再试一次"))
        _result(page, "refused", 2)
        assert page.inner_text("#result-title") == "未识别，请再试一次"
        assert page.inner_text("#result-detail") == "请正对摄像头"
        assert page.is_hidden("#result-name")
        assert page.get_attribute("#result-icon use", "href") == "#i-refused"
        screenshot(page, "refused")


@BOTH_SIZES
def test_the_idle_screen_returns_after_hold_s(
    browser: Browser, display: WebDisplay, size: tuple[int, int]
) -> None:
    with kiosk_page(browser, display.url, size) as page:
        _page_ready(page)
        display.show(success(3, hold_s=1.0))
        _result(page, "success", 3)
        page.wait_for_selector("#idle", state="visible", timeout=WAIT_MS)
        assert page.is_hidden("#result")
        assert page.inner_text("#idle-text") == "请看摄像头或出示二维码"
        assert page.inner_text("#idle-title") == "前台考勤"
        assert re.fullmatch(r"\d\d:\d\d:\d\d", page.inner_text("#clock"))
        assert page.inner_text("#date")
        assert page.title() == "前台考勤"
        screenshot(page, "idle")


def test_the_status_bar_shows_offline_backlog_and_warnings(
    browser: Browser, display: WebDisplay
) -> None:
    link = '#status [data-item="link"]'
    with kiosk_page(browser, display.url, SIZES["small"]) as page:
        _page_ready(page)
        assert page.is_hidden('#status [data-item="backlog"]')
        display.status(zh_status(online=False, backlog=7, clock_synced=False, camera_ok=False))
        page.wait_for_selector(f'{link}[data-state="offline"]', timeout=WAIT_MS)
        assert page.inner_text(link) == "离线"
        backlog = page.wait_for_selector('#status [data-item="backlog"]', state="visible")
        assert backlog is not None and backlog.inner_text() == "待上传 7 条"
        assert page.inner_text('#status [data-item="clock"]') == "时钟未同步"
        assert page.inner_text('#status [data-item="camera"]') == "摄像头未连接"
        for item in ("link", "backlog", "clock", "camera"):
            assert page.locator(f'#status [data-item="{item}"] svg.icon').count() == 1
        screenshot(page, "status-offline")

        display.status(zh_status(online=None, language="en"))
        page.wait_for_selector(f'{link}[data-state="offline-only"]', timeout=WAIT_MS)
        assert page.inner_text(link) == "仅本地"
        assert page.is_hidden('#status [data-item="backlog"]')
        assert page.is_hidden('#status [data-item="clock"]')
        assert page.get_attribute("html", "lang") == "en"


def test_the_page_shows_the_daemon_gone_and_reconnects(browser: Browser) -> None:
    port = free_port()
    web = WebDisplay(f"127.0.0.1:{port}")
    web.start()
    try:
        web.status(zh_status())
        with kiosk_page(browser, web.url, SIZES["small"]) as page:
            _page_ready(page)
            web.close()
            link = '#status [data-item="link"]'
            page.wait_for_selector(f'{link}[data-state="lost"]', timeout=WAIT_MS)
            assert page.get_attribute("body", "data-link") == "lost"
            assert page.inner_text(link) == "离线"
            screenshot(page, "daemon-gone")

            web = WebDisplay(f"127.0.0.1:{port}")  # the daemon restarts
            web.start()
            web.status(zh_status(backlog=2))
            page.wait_for_selector('#status [data-item="backlog"]', timeout=WAIT_MS)
            assert page.get_attribute("body", "data-link") == "open"
            assert page.inner_text(link) == "在线"
    finally:
        web.close()


def test_the_live_view_shows_the_camera_frames(browser: Browser, display: WebDisplay) -> None:
    frame = np.full((480, 640, 3), 90, np.uint8)
    done = threading.Event()

    def offer() -> None:
        while not done.wait(0.05):
            display.preview(frame, [(120, 420, 360, 220)])

    offerer = threading.Thread(target=offer)
    offerer.start()
    try:
        with kiosk_page(browser, display.url, SIZES["small"]) as page:
            page.wait_for_selector('#camera[data-state="live"]', timeout=WAIT_MS)
            assert display.wants_preview()
            width = page.evaluate("document.getElementById('preview').naturalWidth")
            assert width == 480
            screenshot(page, "live-view")
    finally:
        done.set()
        offerer.join()
    wait_until(lambda: not display.wants_preview(), what="page closed, no preview wanted")
