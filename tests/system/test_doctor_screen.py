"""``kiosk doctor``'s screen line against a real served page (and none)."""

from __future__ import annotations

from playwright.sync_api import Browser

from devtools.local_broker import free_port
from drivers.display.web import WebDisplay
from terminal.config import Config, parse_config
from terminal.doctor.result import Status
from terminal.doctor.screen import check_screen, cjk_font
from tests.browser_tools import kiosk_page


def _config(port: int, enabled: bool = True) -> Config:
    """A config serving the page on ``port``."""
    return parse_config(f'[ui]\nenabled = {str(enabled).lower()}\nlisten = "127.0.0.1:{port}"\n')


def test_no_page_is_a_warning_and_a_switched_off_screen_passes() -> None:
    port = free_port()
    result = check_screen(_config(port))
    assert result.status == Status.WARN and "not served" in result.detail
    off = check_screen(_config(port, enabled=False))
    assert off.status == Status.PASS and off.detail.startswith("off")


def test_a_served_page_passes_only_while_a_screen_shows_it(browser: Browser) -> None:
    port = free_port()
    config = _config(port)
    with WebDisplay(f"127.0.0.1:{port}", preview=False) as display:
        unwatched = check_screen(config)
        assert unwatched.status == Status.WARN and "no screen shows it" in unwatched.detail
        with kiosk_page(browser, display.url, (800, 480)) as page:
            page.wait_for_selector("#status")
            watched = check_screen(config)
    assert cjk_font() is not None  # make test installs fonts-noto-cjk with Chromium
    assert watched.status == Status.PASS, watched
    assert "1 screen" in watched.detail
