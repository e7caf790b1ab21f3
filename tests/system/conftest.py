"""Fixtures of the system tests: ``browser``, one headless Chromium per test module."""

from tests.browser_tools import browser_fixture

__all__ = ["browser_fixture"]
