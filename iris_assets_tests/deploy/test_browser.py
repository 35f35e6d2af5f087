"""The UI as a user drives it: headless Chromium clicks "Materialize all" on the native stack."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from iris_assets_tests.deploy._native import NativeStack, registered_version, wait_for_run

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium; Playwright's own download is not used
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
RUN_ID = re.compile(r"/runs/([0-9a-f-]{36})$")
UI_STATUS = {"SUCCESS": "Success", "FAILURE": "Failure", "CANCELED": "Canceled"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, once for the module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at a laptop's window size."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    page.close()


def test_materialize_all_in_the_ui_registers_a_model(
    stack: NativeStack, page: Page, artifacts_dir: Path
) -> None:
    """Materialize all on the iris group runs to Success in the UI and registers sk_model."""
    screenshot = artifacts_dir / "dagster-ui-materialize-all.png"
    try:
        run_id, status = _materialize_all(page, stack.webserver_url)
    finally:
        page.screenshot(path=str(screenshot))
        print(f"\nscreenshot: {screenshot}")
    assert status == "Success", f"run {run_id} ended {status}; logs in {stack.logs}"
    assert registered_version(stack.mlflow_url, run_id).name == "sk_model"


def _materialize_all(page: Page, webserver_url: str) -> tuple[str, str]:
    """Click the button, follow the toast to the run; returns its id and final status."""
    page.goto(f"{webserver_url}/locations/iris_assets/asset-groups/iris")
    page.get_by_text("registered_model", exact=True).wait_for()
    page.get_by_role("button", name=re.compile(r"Materialize all")).click()

    # The toast "Launched run <id>" links to the run's page.
    view = page.locator("a[href^='/runs/']", has_text="View")
    href = view.get_attribute("href") or ""
    match = RUN_ID.search(href)
    assert match, href
    view.click()

    # A step's badge can read "Success" long before the run ends, so the run's end comes from
    # the API, and the reloaded page must then show the same status.
    status = wait_for_run(webserver_url, match.group(1))
    page.reload()
    page.get_by_text(UI_STATUS[status], exact=True).first.wait_for()
    return match.group(1), UI_STATUS[status]
