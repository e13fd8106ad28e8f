"""The dashboard in a real browser: loads offline, panels populated, galaxy switch redraws."""

from __future__ import annotations

import pytest

from .conftest import REPO, serious

pytestmark = pytest.mark.browser


def test_app_loads_and_switches_galaxy(voila_server, page_with_console):
    page = page_with_console
    page.goto(voila_server.url, timeout=90_000)
    page.wait_for_selector("text=IR–Optical Explorer", timeout=90_000)
    page.wait_for_selector(".bk-Canvas, canvas", timeout=60_000)
    summary = page.locator("text=split:").first
    before = summary.inner_text()
    page.get_by_role("button", name="next ▶").click()
    page.wait_for_function(
        "before => !document.body.innerText.includes(before)", arg=before.split()[0], timeout=15_000
    )
    assert summary.inner_text() != before
    (REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"), full_page=True)
    assert serious(page) == [], (page.console_errors, page.failed_requests)
