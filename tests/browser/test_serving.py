"""Serving a room (issue 18) in a real browser: the kernel limit's busy page, idle culling, the
reload notice when a kernel dies or the server goes away, and hostile uploads.

Each limit test starts its own server (explorer.app.serving with a limit of 1 kernel, the
preheated one included, and a short idle timeout), so the session server of the other browser
tests keeps its defaults.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import time

import pytest

from explorer.app.browser import limit_options
from explorer.app.upload_panel import MAX_UPLOAD_BYTES
from explorer.io.sdss import MAX_DECOMPRESSED_BYTES
from explorer.testing.browser import VoilaServer, open_app, page_kernel_id, text_of, wait_text_change

from .conftest import REPO, serious

pytestmark = pytest.mark.browser

NOTICE = ".irox-reload"


def _next_galaxy_works(page) -> None:
    summary = text_of(page, ".irox-summary")
    page.get_by_role("button", name="next ▶").click()
    wait_text_change(page, ".irox-summary", summary)


def test_busy_page_at_the_limit_then_idle_cull_frees_the_place(app_env, browser):
    """Limit 1: a second page gets the busy page (503); the first page's kernel, left idle, is
    culled and its page says so; the place is free again; stopping the server is noticed too."""
    server = VoilaServer(REPO / "app.ipynb", env=app_env, extra_args=limit_options(1, 0.5))  # 30 s
    p1, p2 = browser.new_page(), browser.new_page()
    try:
        open_app(p1, server.url)
        response = p2.goto(server.url, timeout=30_000)
        assert response.status == 503 and response.headers.get("retry-after") == "60"
        p2.wait_for_selector(".irox-busy:has-text('The server is busy: try again in a minute.')")
        assert "All 1 places" in p2.inner_text("body")
        assert server.kernel_rss_bytes() and len(server.kernel_rss_bytes()) == 1  # no refill beyond

        # p1 left idle: culled (30 s idle, checked every 10 s), and p1 shows the reload notice
        p1.wait_for_selector(NOTICE, timeout=90_000)
        assert "stopped" in text_of(p1, NOTICE) and "reload the page" in text_of(p1, NOTICE)
        assert re.search(r"Culling 'idle' kernel .* due to \d+ seconds of inactivity", server.logs())

        # the place is free: the pool refills and the busy page's button opens the dashboard
        deadline = time.time() + 90
        while "Kernel pool of app.ipynb is filled" not in server.logs().split("Culling")[-1]:
            assert time.time() < deadline, server.logs()[-3000:]
            time.sleep(0.5)
        p2.get_by_role("button", name="try again now").click()
        open_app(p2, p2.url)
        _next_galaxy_works(p2)
        assert p2.locator(NOTICE).count() == 0

        # the server stops (as in a restart): the open page says so instead of freezing
        server.stop()
        p2.wait_for_selector(NOTICE, timeout=40_000)
        assert "reload the page" in text_of(p2, NOTICE)
        assert p2.get_by_role("button", name="reload the page").is_visible()
    finally:
        p1.close()
        p2.close()
        server.stop()


def test_a_killed_kernel_shows_the_reload_notice(voila_server, browser):
    page = browser.new_page()
    try:
        open_app(page, voila_server.url)
        assert page.locator(NOTICE).count() == 0
        pid = voila_server.kernel_pid(page_kernel_id(page))
        assert pid is not None
        t0 = time.time()
        os.kill(pid, signal.SIGKILL)
        page.wait_for_selector(NOTICE, timeout=30_000)
        assert "stopped" in text_of(page, NOTICE)
        # the kernel restarter saw it (idle culling is 60 min on this server: not the cause)
        assert "restarting kernel" in voila_server.logs().lower(), voila_server.logs()[-2000:]
        print(f"reload notice {time.time() - t0:.1f} s after the kill")
    finally:
        page.close()


def test_oversized_upload_and_decompression_bomb_are_refused(voila_server, page_with_console, tmp_path):
    """Through the browser and the websocket, as a user uploads: both refused with messages that
    name the limit, and the page keeps working."""
    page = page_with_console
    open_app(page, voila_server.url)

    def upload(name: str, data: bytes) -> None:
        path = tmp_path / name  # Playwright takes a buffer up to 50 MB only: a file for more
        path.write_bytes(data)
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload").click()
        chooser.value.set_files(str(path))

    upload("huge.fits", b"SIMPLE  =" + bytes(MAX_UPLOAD_BYTES))  # one limit plus 9 bytes
    page.wait_for_selector(".irox-error:has-text('larger than the upload limit of 50 MB')", timeout=90_000)
    assert "huge.fits" in text_of(page, ".irox-error")
    _next_galaxy_works(page)

    bomb = gzip.compress(b"SIMPLE  =" + bytes(MAX_DECOMPRESSED_BYTES + 1024**2), compresslevel=9)
    assert len(bomb) < 2 * 1024**2  # a small file that inflates beyond the bound
    upload("spec-bomb.fits.gz", bomb)
    limit_mb = MAX_DECOMPRESSED_BYTES // 1024**2
    page.wait_for_selector(
        f".irox-error:has-text('spec-bomb.fits.gz: gzip content inflates beyond {limit_mb} MB; refused')",
        timeout=90_000,
    )
    _next_galaxy_works(page)
    assert page.locator(NOTICE).count() == 0  # the kernel lived through both
    assert serious(page) == [], (page.console_errors, page.failed_requests)


def test_load_test_smoke_two_users_at_a_limit_of_one(app_env):
    """benchmarks/load_test.py at tiny N: one user served without error, the other sees the busy page."""
    import sys

    sys.path.insert(0, str(REPO))
    from benchmarks.load_test import run_load_test
    from benchmarks.run import BENCHMARKS

    assert "load_test" in BENCHMARKS
    r = run_load_test(
        2, max_kernels=1, ramp_s=1.0, attribution=False, deadline_s=240, models=app_env["IROX_MODELS"]
    )
    assert r["served"] == 1 and r["errors"] == 0, r["failed_users"]
    assert r["beyond_limit"]["saw"] == ["HTTP 503: The server is busy: try again in a minute."]
    assert r["time_to_interactive_s"]["n"] == 1 and r["slider_to_redraw_s"]["n"] == 1
    assert r["peak_memory_mb"]["kernels_at_once"] == 1 and r["peak_memory_mb"]["one_kernel"] > 50
