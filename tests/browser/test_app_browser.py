"""The dashboard in a real browser (Voila + Debian's Chromium), offline, with a random-weight model.

What only a browser shows: BokehJS renders from the inline bundle, widget events travel both
ways (slider readout -> Python -> SED table; a click in a Bokeh DataTable -> Python), uploads
and downloads work, two sessions are independent, and the console stays clean.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from .conftest import REPO, serious

pytestmark = pytest.mark.browser

TIMINGS: dict[str, float] = {}


def _text(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _wait_text_change(page, selector: str, before: str, timeout: float = 15_000) -> float:
    """Wait until the first element matching ``selector`` has a text other than ``before``; seconds."""
    t0 = time.perf_counter()
    page.wait_for_function(
        "([sel, before]) => { const e = document.querySelector(sel); return e && e.innerText !== before; }",
        arg=[selector, before],
        timeout=timeout,
    )
    return time.perf_counter() - t0


def _open_app(page, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(url, timeout=90_000)
    page.wait_for_selector("text=IR–Optical Explorer", timeout=90_000)
    page.wait_for_selector(".irox-chi .irox-pred", timeout=90_000)
    page.wait_for_selector(".bk-Canvas, canvas", timeout=60_000)
    return time.perf_counter() - t0


def _set_slider(page, label: str, value: str) -> None:
    readout = page.locator(".widget-hslider", has_text=label).locator(".widget-readout")
    readout.fill(value)
    readout.press("Enter")


def _move_slider(page, label: str, watch: str = ".irox-chi") -> float:
    """Move a latent slider to an end of its range (typed into the readout, clamped by the widget)
    and return the seconds until ``watch`` shows a new text. A galaxy can sit at the top of a
    range (ranges are widened to hold it), so the other end is tried if nothing changes."""
    before = _text(page, watch)
    for value in ("1000", "-1000"):
        t0 = time.perf_counter()
        _set_slider(page, label, value)
        try:
            _wait_text_change(page, watch, before, timeout=5_000)
            return time.perf_counter() - t0
        except Exception:
            continue
    raise AssertionError(f"moving {label} did not change {watch}")


def test_dashboard_end_to_end(voila_server, page_with_console, app_env):
    page = page_with_console
    TIMINGS["time_to_interactive_s"] = _open_app(page, voila_server.url)
    assert "No models loaded" not in page.inner_text("body")
    assert page.locator(".irox-model-status").inner_text().startswith("Models:")

    # 1. galaxy switch: next -> summary and SED table redraw
    summary = _text(page, ".irox-summary")
    page.get_by_role("button", name="next ▶").click()
    TIMINGS["galaxy_switch_s"] = _wait_text_change(page, ".irox-summary", summary)

    # 2. a click in the Bokeh table selects that galaxy (Bokeh selection -> Python -> state)
    cell = page.locator(".slick-row").nth(3).locator(".slick-cell").first
    picked = cell.inner_text().strip()
    cell.click()
    page.wait_for_function(
        "id => document.querySelector('.irox-summary').innerText.includes(id)", arg=picked, timeout=15_000
    )

    # 3. a latent slider moves the SED prediction (typed into the readout, clamped to the range)
    chi_before = _text(page, ".irox-chi")
    TIMINGS["slider_to_sed_s"] = _move_slider(page, "latent 1")
    page.wait_for_selector("text=Prediction from the moved sliders.", timeout=10_000)
    page.wait_for_selector(".irox-latent-status:has-text('moved')", timeout=10_000)
    page.get_by_role("button", name="reset to galaxy").click()
    page.wait_for_function(
        "before => document.querySelector('.irox-chi').innerText === before", arg=chi_before, timeout=15_000
    )

    # 4. attribution, when the model wrapper exists; otherwise the page says why not
    status = _text(page, ".irox-attr-status")
    if "attribution unavailable" in status:
        assert "explorer.ml.target" in status or "no models" in status
    else:
        t0 = time.perf_counter()
        page.get_by_role("button", name="explain").click()
        # the UI stays responsive meanwhile: a slider still redraws the SED
        TIMINGS["slider_during_attribution_s"] = _move_slider(page, "latent 3")
        page.wait_for_selector(".irox-attr-done", timeout=90_000)
        TIMINGS["attribution_s"] = time.perf_counter() - t0
        page.get_by_role("button", name="reset to galaxy").click()
        assert page.locator(".irox-top-lines tr").count() >= 2
        bar = page.locator(".widget-hbox", has_text="export attribution:")
        bar.get_by_role("button", name="SVG").click()
        page.wait_for_selector("a.irox-download[download$='_attribution.svg']", timeout=30_000)

    # 5. export the SED: file in exports/, and the browser downloads the same bytes
    page.locator(".widget-hbox", has_text="export SED:").get_by_role("button", name="PNG").click()
    link = page.locator("a.irox-download[download$='_SED.png']")
    link.wait_for(timeout=30_000)
    name = link.get_attribute("download")
    written = Path(app_env["IROX_EXPORT_DIR"]) / name
    assert written.is_file() and written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as dl:
        link.click()
    assert Path(dl.value.path()).read_bytes() == written.read_bytes()

    # 6. a bad upload shows a message, and the app keeps working
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a FITS file at all"}
    )
    page.wait_for_selector(".irox-error:has-text('not a FITS file')", timeout=20_000)
    summary = _text(page, ".irox-summary")
    page.get_by_role("button", name="next ▶").click()
    _wait_text_change(page, ".irox-summary", summary)

    # screenshot for the README (whole dashboard)
    page.set_viewport_size({"width": 1400, "height": 2700})
    page.wait_for_timeout(500)
    (REPO / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
    assert serious(page) == [], (page.console_errors, page.failed_requests)
    if os.environ.get("IROX_BROWSER_TIMINGS"):
        Path(os.environ["IROX_BROWSER_TIMINGS"]).write_text(json.dumps(TIMINGS, indent=1))
    print("browser timings:", TIMINGS)


def test_two_sessions_are_independent(voila_server, browser):
    p1, p2 = browser.new_page(), browser.new_page()
    try:
        p1.goto(voila_server.url, timeout=90_000)  # both kernels start at the same time
        _open_app(p2, voila_server.url)
        p1.wait_for_selector(".irox-chi .irox-pred", timeout=90_000)
        chi1, chi2 = _text(p1, ".irox-chi"), _text(p2, ".irox-chi")
        assert chi1 == chi2  # same first galaxy, same models
        _move_slider(p1, "latent 2")
        s2 = _text(p2, ".irox-summary")
        p2.get_by_role("button", name="next ▶").click()
        _wait_text_change(p2, ".irox-summary", s2)
        # page 1 still shows its galaxy with moved sliders; page 2 moved on with its own
        assert _text(p1, ".irox-summary") == s2
        assert "moved" in _text(p1, ".irox-latent-status") and "moved" not in _text(p2, ".irox-latent-status")
    finally:
        p1.close()
        p2.close()
