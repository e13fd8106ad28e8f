"""Drive the dashboard in a real browser: a Voila server on a free loopback port and Debian's
Chromium through Playwright (used by the browser tests and ``benchmarks/app_bench.py``).

Recipe from ``../shared/reference/stack.md``: Chromium from Debian (``/usr/bin/chromium``;
``playwright install`` cannot download browsers offline), launched with background networking
off so that it does not flood the closed network. Playwright is a test dependency and is
imported only when a browser is launched. Voila is started with the options of ``make run``
(:data:`explorer.app.browser.VOILA_OPTIONS`).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..app.browser import VOILA_OPTIONS, VOILA_OPTIONS_COLD, serve_command, voila_env
from ..paths import REPO_ROOT

__all__ = [
    "CHROMIUM",
    "HARMLESS_CONSOLE",
    "VOILA_OPTIONS",
    "VOILA_OPTIONS_COLD",
    "VoilaServer",
    "chromium_context",
    "install_page_clock",
    "last_page_move",
    "move_slider",
    "open_app",
    "page_kernel_id",
    "set_slider",
    "switch_galaxy",
    "text_of",
    "wait_text_change",
]

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
    """``voila <notebook>`` on a free loopback port, started in the repository root, as
    ``python -m explorer serve`` starts it (:func:`explorer.app.browser.serve_command`).

    Parameters
    ----------
    notebook : path
    env : dict, optional
        Extra environment variables (``IROX_MODELS``, ``IROX_CACHE_DIR``, ``IROX_EXPORT_DIR``...).
    options : tuple of str
        Voila options besides the port: by default those of ``make run`` (:data:`VOILA_OPTIONS`);
        :data:`VOILA_OPTIONS_COLD` for a new kernel per page.
    extra_args : tuple of str
        More Voila options, appended (``explorer.app.browser.limit_options(...)`` for a kernel
        limit or idle culling; without them, :mod:`explorer.app.serving`'s defaults).
    """

    def __init__(
        self,
        notebook: Path,
        env: dict | None = None,
        extra_args: tuple[str, ...] = (),
        options: tuple[str, ...] = VOILA_OPTIONS,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.options = tuple(options) + tuple(extra_args)
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".voila.log", delete=False)
        self.proc = subprocess.Popen(
            serve_command(notebook, self.port, self.options),
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=voila_env(env),
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
        self.stop()  # never leave a server behind when start-up fails
        raise RuntimeError(f"voila did not start within 60 s:\n{self.logs()}")

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def kernel_rss_bytes(self) -> list[int]:
        """Resident memory of each kernel process the server started."""
        try:
            import psutil
        except ImportError:
            return []
        out = []
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any("ipykernel" in part for part in child.cmdline()):
                    out.append(int(child.memory_info().rss))
        return out

    def kernel_pid(self, kernel_id: str) -> int | None:
        """Process id of the kernel ``kernel_id`` (its connection file names it), or None."""
        import psutil

        for child in psutil.Process(self.proc.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(f"kernel-{kernel_id}" in part for part in child.cmdline()):
                    return child.pid
        return None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextlib.contextmanager
def chromium_context(viewport=(1400, 1000)):
    """A fresh headless Chromium profile (Playwright persistent context)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        user_dir = tempfile.mkdtemp(prefix="chromium-")
        ctx = pw.chromium.launch_persistent_context(
            user_dir,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(user_dir, ignore_errors=True)


# --- page helpers (shared by the tests and the benchmark) ------------------------------------------
def text_of(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def wait_text_change(page, selector: str, before: str, timeout: float = 15_000) -> float:
    """Wait until the first element matching ``selector`` shows a text other than ``before``; seconds."""
    t0 = time.perf_counter()
    page.wait_for_function(
        "([sel, before]) => { const e = document.querySelector(sel); return e && e.innerText !== before; }",
        arg=[selector, before],
        timeout=timeout,
        polling="raf",
    )
    return time.perf_counter() - t0


def open_app(page, url: str, timeout: float = 120_000) -> float:
    """Load the dashboard; seconds until the SED prediction table and a Bokeh canvas are shown."""
    t0 = time.perf_counter()
    page.goto(url, timeout=timeout)
    page.wait_for_selector("text=IR–Optical Explorer", timeout=timeout)
    page.wait_for_selector(".irox-chi", timeout=timeout)
    page.wait_for_selector(".bk-Canvas, canvas", timeout=timeout)
    return time.perf_counter() - t0


def page_kernel_id(page) -> str:
    """Id of the kernel that serves a Voila page (from the page's ``jupyter-config-data``)."""
    return page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")


#: In-page clock (:func:`install_page_clock`): the Enter key's event time, and when the SED chi
#: table and the mid-IR readout change (``performance.now()``, without Playwright's own overhead).
PAGE_CLOCK_JS = """() => {
  window.__iroxMoves = [];
  let cur = null;
  document.addEventListener('keydown', e => {
    if (e.key === 'Enter') { cur = {enter: performance.now()}; window.__iroxMoves.push(cur); }
  }, true);
  for (const [sel, key] of [['.irox-chi', 'sed'], ['.irox-midir-readout', 'midir']]) {
    const el = document.querySelector(sel);
    if (!el) continue;
    new MutationObserver(() => { if (cur && cur[key] === undefined) cur[key] = performance.now(); })
      .observe(el.closest('.widget-html') || el, {subtree: true, childList: true, characterData: true});
  }
}"""


def install_page_clock(page) -> None:
    """Record, inside the page, each Enter key's time and when the SED table and the mid-IR readout
    next change (:data:`PAGE_CLOCK_JS`); :func:`last_page_move` reads the latest record."""
    page.evaluate(PAGE_CLOCK_JS)


def last_page_move(page) -> dict | None:
    """The latest Enter recorded by :func:`install_page_clock`: ``{"enter": ms, "sed": ms,
    "midir": ms}`` (page clock; a key is missing when that text did not change)."""
    return page.evaluate("window.__iroxMoves && window.__iroxMoves[window.__iroxMoves.length - 1]")


def switch_galaxy(page) -> float:
    """Click "next" and return the seconds until the summary and the SED table of the next galaxy
    are shown (the galaxy-switch timing of the browser benchmarks)."""
    s0, c0 = text_of(page, ".irox-summary"), text_of(page, ".irox-chi")
    t0 = time.perf_counter()
    page.get_by_role("button", name="next ▶").click()
    wait_text_change(page, ".irox-summary", s0)
    wait_text_change(page, ".irox-chi", c0)
    return time.perf_counter() - t0


def set_slider(page, label: str, value: str) -> None:
    """Type a value into a slider's readout (the widget clamps it to its range) and press Enter."""
    readout = page.locator(".widget-hslider", has_text=label).locator(".widget-readout")
    readout.fill(value)
    readout.press("Enter")


def move_slider(page, label: str, watch: str = ".irox-chi", values=("1000", "-1000")) -> float:
    """Move a latent slider to an end of its range and return the seconds until ``watch`` changes.

    A galaxy can sit at one end of a range (ranges are widened to hold it), so the other end is
    tried when nothing changes within 5 s.
    """
    before = text_of(page, watch)
    for value in values:
        t0 = time.perf_counter()
        set_slider(page, label, value)
        try:
            wait_text_change(page, watch, before, timeout=5_000)
            return time.perf_counter() - t0
        except Exception:  # playwright's TimeoutError: try the other end
            continue
    raise AssertionError(f"moving {label} did not change {watch}")
