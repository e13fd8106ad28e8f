"""Load test of the served dashboard: N simulated users in one headless Chromium (issue 18).

Usage::

    python -m benchmarks.load_test --json                       # N = 5, 10, 20; limit 12 kernels
    python -m benchmarks.load_test --json --users 2 --max-kernels 1 --no-attribution   # smoke

For each N, a fresh server as ``python -m explorer serve`` runs it (:mod:`explorer.app.serving`,
preheated pool of one kernel, ``--max_kernels`` = ``--max-kernels``), on a free loopback port; N
users start ``--ramp-s`` seconds apart, each in its own browser context (own cookies, own page) of
ONE Chromium (two cores cannot drive more browsers). Each user:

1. opens the page: time to interactive = until the SED table and a Bokeh canvas are shown; a user
   beyond the kernel limit gets the busy page (HTTP 503), which is recorded, and stops there;
2. switches galaxy ("next"), until the summary changes;
3. drags a latent slider (readout set + Enter), until the SED table changes (slider -> redraw);
4. runs one attribution ("explain"), until the attribution figure is shown.

Reported per N: time to interactive p50/p90, slider -> redraw p50/p90, galaxy switch and
attribution p50/p90, errors (any failure of a user who got a kernel), the busy pages seen by the
users beyond the limit, and the peak resident memory of the server and its kernels (sampled every
0.5 s). Bounded: each N stops after ``--deadline-s`` (the users still running count as errors),
and N is at most 40. Loopback only. Timings are wall clock on a shared machine: the load average
is reported with them.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import datetime
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from explorer.app.browser import limit_options
from explorer.paths import REPO_ROOT
from explorer.testing.browser import CHROMIUM, CHROMIUM_FLAGS, VoilaServer

MAX_USERS = 40
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _pcts(values: list[float], digits: int = 2) -> dict | None:
    if not values:
        return None
    v = sorted(values)

    def pct(q: float) -> float:  # nearest rank
        return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))]

    return {
        "p50": round(statistics.median(v), digits),
        "p90": round(pct(0.9), digits),
        "max": round(v[-1], digits),
        "n": len(v),
    }


class MemorySampler(threading.Thread):
    """Peak resident memory of a process and its children (bytes), sampled every ``every_s``."""

    def __init__(self, pid: int, every_s: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_total = self.peak_kernel = self.peak_kernels = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psutil

        root = psutil.Process(self.pid)
        while not self._stop_event.is_set():
            total, kernels = 0, []
            try:
                total = root.memory_info().rss
                for child in root.children(recursive=True):
                    try:
                        rss = child.memory_info().rss
                        total += rss
                        if any("ipykernel" in p for p in child.cmdline()):
                            kernels.append(rss)
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self.peak_total = max(self.peak_total, total)
            self.peak_kernel = max([self.peak_kernel, *kernels])
            self.peak_kernels = max(self.peak_kernels, len(kernels))
            self._stop_event.wait(self.every_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)


async def _wait_change(page, selector: str, before: str, timeout_ms: float) -> None:
    await page.wait_for_function(
        "([s, b]) => { const e = document.querySelector(s); return e && e.innerText !== b; }",
        arg=[selector, before],
        timeout=timeout_ms,
        polling="raf",
    )


async def _user(browser, url: str, delay_s: float, attribution: bool, timeout_s: float, out: dict) -> dict:
    """One simulated user; fills ``out`` with what it saw and how long each step took (``step``:
    the step under way, for a user stopped by the deadline)."""
    await asyncio.sleep(delay_s)
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    errors = out.setdefault("console_errors", [])
    page.on("console", lambda m: errors.append(m.text[:200]) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)[:200]))
    ms = 1e3 * timeout_s
    out.update(start_s=delay_s, outcome="running", error="")
    try:
        out["step"] = "open"
        t0 = time.perf_counter()
        response = await page.goto(url, timeout=ms)
        if response is not None and response.status == 503:
            text = await page.inner_text("body")
            out.update(outcome="busy", http_status=503, busy_message=text.splitlines()[2] if text else "")
            out["busy_page_s"] = round(time.perf_counter() - t0, 3)
            return out
        await page.wait_for_selector(".irox-chi", timeout=ms)
        await page.wait_for_selector(".bk-Canvas, canvas", timeout=ms)
        out["tti_s"] = time.perf_counter() - t0

        out["step"] = "next galaxy"
        before = await page.inner_text(".irox-summary")
        t0 = time.perf_counter()
        await page.get_by_role("button", name="next ▶").click()
        await _wait_change(page, ".irox-summary", before, ms)
        out["switch_s"] = time.perf_counter() - t0

        out["step"] = "slider"
        before = await page.inner_text(".irox-chi")
        readout = page.locator(".widget-hslider", has_text="latent 1").locator(".widget-readout")
        for value in ("1000", "-1000"):  # a galaxy can sit at one end of the range
            t0 = time.perf_counter()
            await readout.fill(value)
            await readout.press("Enter")
            try:
                await _wait_change(page, ".irox-chi", before, 15_000 if value == "1000" else ms)
                out["slider_s"] = time.perf_counter() - t0
                break
            except Exception:
                if value == "-1000":
                    raise
        if attribution and "unavailable" not in await page.inner_text(".irox-attr-status"):
            out["step"] = "attribution"
            t0 = time.perf_counter()
            await page.get_by_role("button", name="explain").click()
            await page.wait_for_selector(".irox-attr-done", timeout=ms)
            out["attribution_s"] = time.perf_counter() - t0
        out["step"], out["outcome"] = "done", "ok"
        if await page.locator(".irox-reload").count():
            out.update(outcome="error", error="the page shows the reload notice")
    except Exception as exc:  # a failure of a served user is an error of the run
        out.update(
            outcome="error", error=f"{type(exc).__name__} at {out['step']}: {str(exc).splitlines()[0][:200]}"
        )
        out["page_text"] = await _page_text(page)
    except asyncio.CancelledError:  # the deadline: say where this user was
        out.update(outcome="error", error=f"deadline reached at {out['step']}")
        out["page_text"] = await _page_text(page)
        raise
    finally:
        await ctx.close()
    return out


async def _page_text(page) -> str:
    try:
        return (await asyncio.wait_for(page.inner_text("body"), 5))[:300]
    except Exception as exc:  # a page that cannot answer any more
        return f"({type(exc).__name__})"


async def _run_users(url: str, n: int, ramp_s: float, attribution: bool, deadline_s: float) -> list[dict]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            outs: list[dict] = [
                {"outcome": "error", "error": "deadline reached before start"} for _ in range(n)
            ]
            tasks = [
                asyncio.create_task(_user(browser, url, i * ramp_s, attribution, deadline_s, outs[i]))
                for i in range(n)
            ]
            _, pending = await asyncio.wait(tasks, timeout=deadline_s + n * ramp_s)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            return outs
        finally:
            await browser.close()


def run_load_test(
    n_users: int,
    max_kernels: int = 12,
    ramp_s: float = 2.0,
    attribution: bool = True,
    deadline_s: float = 600.0,
    models: str | None = None,
) -> dict:
    """One load run of ``n_users`` against a fresh server; a JSON-ready dict."""
    if not 1 <= n_users <= MAX_USERS:
        raise ValueError(f"n_users must be within 1..{MAX_USERS}")
    env = {
        "IROX_EXPORT_DIR": tempfile.mkdtemp(prefix="irox-load-exports-"),
        "IROX_CACHE_DIR": tempfile.mkdtemp(prefix="irox-load-cache-"),
    }
    if models is not None:
        env["IROX_MODELS"] = str(models)
    load_before = os.getloadavg()
    server = VoilaServer(REPO_ROOT / "app.ipynb", env=env, extra_args=limit_options(max_kernels))
    sampler = MemorySampler(server.proc.pid)
    sampler.start()
    t0 = time.perf_counter()
    try:
        time.sleep(1.0)  # the preheated kernel starts; users arrive while it runs the notebook
        # in a thread of its own: the caller may hold an event loop (a sync Playwright, say)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            coro = _run_users(server.url, n_users, ramp_s, attribution, deadline_s)
            users = pool.submit(asyncio.run, coro).result()
    finally:
        wall = time.perf_counter() - t0
        sampler.stop()
        server.stop()
    served = [u for u in users if u["outcome"] != "busy"]
    busy = [u for u in users if u["outcome"] == "busy"]
    return {
        "n_users": n_users,
        "max_kernels": max_kernels,
        "served": len(served),
        "errors": sum(u["outcome"] == "error" for u in users),
        "error_messages": sorted({u["error"] for u in users if u["outcome"] == "error"}),
        "failed_users": [
            {**u, "console_errors": u.get("console_errors", [])[-10:]}
            for u in users
            if u["outcome"] == "error"
        ],
        "beyond_limit": {
            "n": len(busy),
            "saw": sorted({f"HTTP {u['http_status']}: {u['busy_message']}" for u in busy}),
            "busy_page_s": _pcts([u["busy_page_s"] for u in busy], 3),
        },
        "time_to_interactive_s": _pcts([u["tti_s"] for u in served if "tti_s" in u]),
        "galaxy_switch_s": _pcts([u["switch_s"] for u in served if "switch_s" in u], 3),
        "slider_to_redraw_s": _pcts([u["slider_s"] for u in served if "slider_s" in u], 3),
        "attribution_s": _pcts([u["attribution_s"] for u in served if "attribution_s" in u]),
        "peak_memory_mb": {
            "server_and_kernels": round(sampler.peak_total / 2**20),
            "one_kernel": round(sampler.peak_kernel / 2**20),
            "kernels_at_once": sampler.peak_kernels,
        },
        "wall_s": round(wall, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def run_all(users=(5, 10, 20), **kw) -> dict:
    runs = [run_load_test(n, **kw) for n in users]
    return {
        "runs": runs,
        "settings": {k: v for k, v in kw.items()},
        "machine": {"cpu_count": os.cpu_count()},
        "method": (
            "benchmarks/load_test.py: explorer.app.serving (preheated pool of 1, kernel limit) on "
            "loopback; N users in one headless Chromium (one context each), started ramp_s apart; "
            "open -> next galaxy -> latent slider -> explain; wall-clock from the browser's side"
        ),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    ap.add_argument("--users", type=int, nargs="+", default=[5, 10, 20], help="N for each run")
    ap.add_argument("--max-kernels", type=int, default=12, help="the server's kernel limit")
    ap.add_argument("--ramp-s", type=float, default=2.0, help="seconds between two users' arrivals")
    ap.add_argument("--deadline-s", type=float, default=600.0, help="time bound of one user's steps")
    ap.add_argument("--no-attribution", action="store_true")
    ap.add_argument(
        "--models", default=None, help="model name or directory (default: IROX_MODELS or default)"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="also write the JSON here (e.g. benchmarks/results/)"
    )
    a = ap.parse_args(argv)
    res = run_all(
        tuple(a.users),
        max_kernels=a.max_kernels,
        ramp_s=a.ramp_s,
        attribution=not a.no_attribution,
        deadline_s=a.deadline_s,
        models=a.models,
    )
    res["date"] = datetime.date.today().isoformat()
    text = json.dumps(res, indent=1)
    if a.out is not None:
        out = a.out / f"{res['date']}_load_test.json" if a.out.is_dir() else a.out
        out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
