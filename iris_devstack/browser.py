"""Headless Chromium driving the Dagster UI as a person does: click "Materialize all"."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; Playwright's own download does not work here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1400, "height": 900}
UI_STATUS = {"SUCCESS": "Success", "FAILURE": "Failure", "CANCELED": "Canceled"}
"""How the run page writes each final status of the GraphQL API."""
_RUN_LINK = re.compile(r"/runs/([0-9a-f-]{36})$")
CODE_LOCATION = "iris-assets"
"""The code location's name, as the workspaces and pyproject.toml give it."""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at a laptop's window size."""
    new = browser.new_page(viewport=VIEWPORT)
    new.set_default_timeout(UI_TIMEOUT_MS)
    try:
        yield new
    finally:
        new.close()


def open_iris_group(page: Page, webserver_url: str) -> None:
    """Open the asset group `iris` and wait until its graph shows."""
    page.goto(f"{webserver_url}/locations/{CODE_LOCATION}/asset-groups/iris")
    page.get_by_text("registered_model", exact=True).wait_for()


def click_materialize_all(page: Page) -> str:
    """Click "Materialize all" on an open asset group, follow the toast to the run; its id."""
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()
    # The toast "Launched run <id>" links to the run's page.
    view = page.locator("a[href^='/runs/']", has_text="View")
    href = view.get_attribute("href") or ""
    match = _RUN_LINK.search(href)
    if match is None:
        raise AssertionError(f"the launch toast links to {href!r}, not to a run")
    view.click()
    return match.group(1)


def shows_status(page: Page, status: str) -> None:
    """Reload the run's page and wait until it shows the run's final `status` (GraphQL's name)."""
    page.reload()
    page.get_by_text(UI_STATUS[status], exact=True).first.wait_for()
