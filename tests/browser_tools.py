"""A real headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, for tests of
the kiosk page.

Playwright's own browser download needs the internet, so the system Chromium is launched
instead (``KIOSK_CHROMIUM`` to point elsewhere). When it is missing the tests using it are
skipped, or fail when ``KIOSK_TEST_BROWSER=1`` (``make test`` and CI set it).

The ``browser`` fixture (one Chromium per test module) is :func:`browser_fixture`, which
``tests/system/conftest.py`` provides to every test under ``tests/system/``::

    def test_page(browser: Browser) -> None:
        with kiosk_page(browser, display.url, (800, 480)) as page:
            ...

or without pytest: ``with launch_browser() as browser: ...``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

DEFAULT_CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
"""Where :func:`screenshot` saves (``tests/artifacts/`` is ignored by git)."""
SIZES: dict[str, tuple[int, int]] = {"small": (800, 480), "large": (1920, 1080)}
"""The kiosk screens the page must work on: the 7" Pi touch screen and a full-HD monitor."""


def chromium_path() -> str:
    """The Chromium executable to launch; fails or skips (see module doc) when there is none."""
    wanted = os.environ.get("KIOSK_CHROMIUM", DEFAULT_CHROMIUM)
    found = shutil.which(wanted)
    if found:
        return found
    reason = (
        f"no Chromium at {wanted} (apt-get install chromium, or set KIOSK_CHROMIUM);"
        " Playwright's own browser cannot be downloaded here"
    )
    if os.environ.get("KIOSK_TEST_BROWSER") == "1":
        pytest.fail(f"KIOSK_TEST_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@contextmanager
def launch_browser() -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """The ``browser`` fixture: one headless Chromium per test module."""
    with launch_browser() as browser:
        yield browser


@contextmanager
def kiosk_page(browser: Browser, url: str, size: tuple[int, int]) -> Iterator[Page]:
    """A fresh page of ``size`` (width, height) showing ``url``, in its own browser context;
    :func:`console_errors` tells what it logged as errors."""
    width, height = size
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    _ERRORS[id(page)] = errors
    try:
        page.goto(url)
        yield page
    finally:
        _ERRORS.pop(id(page), None)
        context.close()


_ERRORS: dict[int, list[str]] = {}


def console_errors(page: Page) -> list[str]:
    """JavaScript errors and console errors the page logged so far."""
    return list(_ERRORS.get(id(page), []))


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot as ``tests/artifacts/screenshots/<name>-<width>x<height>.png``."""
    size = page.viewport_size or {"width": 0, "height": 0}
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    path = SCREENSHOTS / f"{safe}-{size['width']}x{size['height']}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
