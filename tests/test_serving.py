"""Serving a room (issue 18) without a browser: the kernel limit's default, the serve verb's
limit flags, and the kernel manager's accounting. The browser tests (tests/browser/test_serving.py)
check the busy page, culling and the reload notice on a running server."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from explorer.app import serving
from explorer.app.browser import VOILA_OPTIONS, limit_options, serve_command


def test_default_limit_is_available_memory_less_the_reserve_over_a_kernel():
    gb = 1024**3
    assert serving.KERNEL_MEMORY_BYTES == 700 * 1024**2 and serving.RESERVE_BYTES == 2 * gb
    assert serving.default_max_kernels(2 * gb + 10 * serving.KERNEL_MEMORY_BYTES + 1) == 10
    assert serving.default_max_kernels(1 * gb) == 1  # a small machine still serves one page
    assert serving.default_max_kernels() >= 1  # this machine's


def test_serve_verb_passes_the_limits_to_the_serving_module():
    out = subprocess.run(
        [sys.executable, "-m", "explorer", "serve", "--dry-run", "--port", "9124", "--max-kernels", "3",
         "--cull-idle-minutes", "7.5"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cmd = shlex.split(out.stdout.strip().splitlines()[-1])
    cmd = cmd[cmd.index("-m") - 1 :]
    assert cmd == serve_command("app.ipynb", 9124, VOILA_OPTIONS, limit_options(3, 7.5))
    assert cmd[-2:] == ["--max_kernels=3", "--cull_idle_minutes=7.5"]
    assert limit_options() == ()  # no flags: the serving module's defaults
    behind = subprocess.run(
        [sys.executable, "-m", "explorer", "serve", "--dry-run", "--base-url", "/services/explorer/"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert shlex.split(behind.stdout.strip().splitlines()[-1])[-1] == "--base_url=/services/explorer/"


class _Parent:
    max_kernels = 2


class _Base:
    """A stand-in for jupyter_server's kernel manager: start_kernel registers a kernel."""

    def __init__(self):
        self.parent = _Parent()
        self._kernels = {}

    async def start_kernel(self, **kwargs):
        await asyncio.sleep(0.01)
        kid = f"k{len(self._kernels)}"
        self._kernels[kid] = object()
        return kid


def test_kernel_start_limit_counts_kernels_starting_and_refuses_beyond_it():
    km = type("Limited", (serving.KernelStartLimit, _Base), {})()

    async def scenario():
        started = await asyncio.gather(km.start_kernel(), km.start_kernel(), return_exceptions=True)
        assert sorted(started) == ["k0", "k1"] and km.kernels_alive() == 2 and not km.has_room()
        with pytest.raises(serving.KernelLimitReached, match="2 kernels are running"):
            await km.start_kernel()
        # two asked for at once when one place is left: one starts, one is refused
        km._kernels.pop("k1")
        both = await asyncio.gather(km.start_kernel(), km.start_kernel(), return_exceptions=True)
        assert sum(isinstance(r, serving.KernelLimitReached) for r in both) == 1

    # its own thread and loop: a session-scoped browser fixture (playwright's sync API) may already
    # run an event loop in the main thread when the whole suite runs
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()
    km.parent.max_kernels = 0  # no limit
    assert km.has_room()


def test_busy_page_names_the_limit_and_retries():
    page = serving.BUSY_PAGE.format(max_kernels=4, cull="60 minutes")
    assert "The server is busy: try again in a minute." in page
    assert "All 4 places" in page and '<meta http-equiv="refresh" content="60">' in page
