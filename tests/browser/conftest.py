"""Real-browser fixtures: a Voila server on a free loopback port and Debian's Chromium via Playwright.

The server and browser helpers live in :mod:`explorer.testing.browser` (shared with the browser
benchmark, ``benchmarks/app_bench.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.testing.browser import CHROMIUM, HARMLESS_CONSOLE, VOILA_OPTIONS, VoilaServer, chromium_context

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_env(tmp_path_factory):
    """Environment of the app under test: models, and caches and exports in a temporary folder
    (nothing is written into the checkout).

    Models: ``IROX_TEST_MODELS`` if set, else the shipped ``models/default`` when it is there (so the
    README screenshot shows trained models), else a random-weight directory. The assertions hold
    for any models.
    """
    import os

    from explorer.testing.models import write_random_models

    root = tmp_path_factory.mktemp("app")
    models = os.environ.get("IROX_TEST_MODELS")
    if not models:
        shipped = REPO / "models" / "default"
        models = (
            str(shipped)
            if (shipped / "manifest.json").is_file()
            else str(write_random_models(root / "models"))
        )
    return {
        "IROX_MODELS": str(models),
        "IROX_CACHE_DIR": str(root / "cache"),
        "IROX_EXPORT_DIR": str(root / "exports"),
    }


@pytest.fixture(scope="session")
def voila_server(app_env):
    """Voila with the options of `make run` (VOILA_OPTIONS: one preheated kernel), on a free port."""
    server = VoilaServer(REPO / "app.ipynb", env=app_env, options=VOILA_OPTIONS)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    with chromium_context() as ctx:
        yield ctx


@pytest.fixture()
def page_with_console(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.console_errors = errors
    page.failed_requests = failed
    page.requested = requested
    yield page
    page.close()


def external_requests(page) -> list[str]:
    """URLs the page asked for that are not on this machine (a CDN, say): offline there must be none."""
    from urllib.parse import urlparse

    return [
        u
        for u in page.requested
        if urlparse(u).scheme in ("http", "https", "ws", "wss")
        and urlparse(u).hostname not in ("127.0.0.1", "localhost", "::1")
    ]


def serious(page) -> list[str]:
    """Console errors and failed requests other than the known harmless ones.

    Chromium's console line for a failed load ("Failed to load resource") does not name the URL,
    so those lines are judged by the failed requests themselves, which do.
    """
    bad = [
        e
        for e in page.console_errors
        if not any(h in e for h in HARMLESS_CONSOLE) and not e.startswith("Failed to load resource")
    ]
    bad += [f"request failed: {u}" for u in page.failed_requests if not any(h in u for h in HARMLESS_CONSOLE)]
    return bad
