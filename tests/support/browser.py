"""What every browser test shares: Chromium's flags, the screenshots folder and a page the test
can inspect (its dialogs, console errors and any request beyond localhost).

The `chromium` fixture (tests/conftest.py) launches Debian's Chromium through Playwright;
`make test` installs it when missing (tests/support/chromium.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.chromium import CHROMIUM
from tests.support.cloud import ARTIFACTS
from tests.support.dashboard import PASSWORD

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ARTIFACTS / "screenshots"


def sync_playwright_or_skip() -> Any:
    """Playwright's entry point; outside CI a machine without Chromium skips, in CI it fails."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: `make test` installs it (tests/support/chromium.py)"
        )
    if os.environ.get("CI"):
        from playwright.sync_api import sync_playwright
    else:
        sync_playwright = pytest.importorskip(
            "playwright.sync_api", reason="pip install playwright"
        ).sync_playwright
    return sync_playwright


@contextmanager
def launched_chromium() -> Iterator[Any]:
    with sync_playwright_or_skip()() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class BrowserPage:
    """A page whose requests, dialogs and console errors the test can inspect."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.route("**/*", self._guard)

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _guard(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname != "127.0.0.1":
            self.foreign_requests.append(url)
            route.abort()
        else:
            route.continue_()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def login(self) -> None:
        self.goto("/login")
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base_url + "/")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("() => window.scrollTo(0, 0)")  # the sticky navbar belongs at the top
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
