"""Real-browser fixtures: a Voila server on a free loopback port and Debian's Chromium via Playwright.

Recipe from ../shared/reference/stack.md: Chromium from Debian (`/usr/bin/chromium`), launched with
the background-networking flags off so it does not flood the closed network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Console errors the stack notes call harmless (CDN font CSS, a pyviz labextension).
HARMLESS_CONSOLE = ("font-awesome", "fontawesome", "@pyviz/jupyterlab_pyviz", "jupyterlab_pyviz")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    def __init__(self, notebook: Path, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        voila = Path(sys.executable).with_name("voila")
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".voila.log", delete=False)
        self.proc = subprocess.Popen(
            [str(voila), str(notebook), "--no-browser", f"--port={self.port}", "--Voila.ip=127.0.0.1"],
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited early:\n{self.logs()}")
            try:  # the port accepts connections once Voila's server is up
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"voila did not start within 60 s:\n{self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def app_env(tmp_path_factory):
    """Environment of the app under test: a random-weight model directory, and caches and
    exports in a temporary folder (nothing is written into the checkout)."""
    from explorer.app.testing import write_random_models

    root = tmp_path_factory.mktemp("app")
    models = write_random_models(root / "models")
    return {
        "IROX_MODELS": str(models),
        "IROX_CACHE_DIR": str(root / "cache"),
        "IROX_EXPORT_DIR": str(root / "exports"),
    }


@pytest.fixture(scope="session")
def voila_server(app_env):
    server = VoilaServer(REPO / "app.ipynb", env=app_env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (make test installs it: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        user_dir = tempfile.mkdtemp(prefix="chromium-")
        ctx = pw.chromium.launch_persistent_context(
            user_dir,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield ctx
        ctx.close()
        shutil.rmtree(user_dir, ignore_errors=True)


@pytest.fixture()
def page_with_console(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.console_errors = errors
    page.failed_requests = failed
    yield page
    page.close()


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
