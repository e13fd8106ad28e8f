"""Real-browser benchmark of the dashboard: Voila + Debian's Chromium, timings as a user feels them.

Usage::

    python -m benchmarks.app_bench --json                      # models/default (or IROX_MODELS)
    python -m benchmarks.app_bench --json --models /tmp/m --n 20 --n-cold 3 --preheat

Measured (each from the browser's side: input event -> the page shows the new numbers):

* ``time_to_interactive_s``: page load until the SED table and a Bokeh canvas are shown (each
  sample a new kernel);
* ``slider_to_sed_ms``: a latent slider's readout set + Enter -> the SED chi table redrawn (from
  before Playwright types the value: its own round trips are in the figure);
* ``slider_to_sed_in_page_ms``: the same moves on the page's clock, from the Enter key's event to
  the chi table's change (:func:`explorer.testing.browser.install_page_clock`);
* ``galaxy_switch_ms``: "next" clicked -> summary and SED table of the next galaxy shown;
* ``attribution_s``: "explain" clicked -> the attribution figure shown (a new galaxy each time);
* ``kernel_rss_mb``: resident memory of the kernels afterwards.

Targets (issue 5) are reported, never asserted. The machine's load average is reported too:
these are wall-clock timings and other processes on the machine slow them down.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

from explorer.paths import REPO_ROOT
from explorer.testing.browser import (
    VOILA_OPTIONS,
    VOILA_OPTIONS_COLD,
    VoilaServer,
    chromium_context,
    install_page_clock,
    last_page_move,
    move_slider,
    open_app,
    switch_galaxy,
    text_of,
    wait_text_change,
)

TARGETS = {
    "time_to_interactive_s": 8.0,
    "slider_to_sed_ms": 250.0,
    "galaxy_switch_ms": 500.0,
    "attribution_s": 4.0,
    "kernel_rss_mb": 1536.0,
}


def _summary(values: list[float], scale: float = 1.0, digits: int = 3) -> dict:
    v = [x * scale for x in values]
    return {
        "median": round(statistics.median(v), digits),
        "p90": round(sorted(v)[max(0, int(0.9 * len(v)) - 1)], digits) if len(v) >= 5 else None,
        "min": round(min(v), digits),
        "max": round(max(v), digits),
        "n": len(v),
    }


def run_browser_benchmark(
    models: str | None = None,
    n: int = 20,
    n_cold: int = 3,
    n_attribution: int = 5,
    preheat: bool = False,
) -> dict:
    """Run the benchmark against a fresh Voila server; returns a JSON-ready dict."""
    env = {"IROX_EXPORT_DIR": tempfile.mkdtemp(prefix="irox-bench-exports-")}
    if models is not None:
        env["IROX_MODELS"] = str(models)
    options = VOILA_OPTIONS if preheat else VOILA_OPTIONS_COLD  # preheat: what `make run` serves
    load_before = os.getloadavg()
    server = VoilaServer(REPO_ROOT / "app.ipynb", env=env, options=options)
    out: dict = {"voila_args": list(options), "models": models or os.environ.get("IROX_MODELS", "default")}
    try:
        with chromium_context(viewport=(1400, 1000)) as ctx:
            tti = []
            for _ in range(n_cold):
                if preheat:
                    time.sleep(20)  # let the pool start (and run the notebook in) a fresh kernel
                page = ctx.new_page()
                tti.append(open_app(page, server.url))
                page.close()
            out["time_to_interactive_s"] = _summary(tti, digits=2)
            page = ctx.new_page()
            open_app(page, server.url)
            page.wait_for_timeout(1000)
            has_models = "No models loaded" not in text_of(page, ".irox-model-status")
            out["has_models"] = has_models
            switch = [switch_galaxy(page) for _ in range(n)]
            out["galaxy_switch_ms"] = _summary(switch, 1e3, 1)
            if has_models:
                slider, in_page, ends = [], [], ("1000", "-1000")
                install_page_clock(page)
                for _ in range(n):
                    slider.append(move_slider(page, "latent 1", values=ends))
                    ends = ends[::-1]
                    last = last_page_move(page)
                    if last and "sed" in last:
                        in_page.append(last["sed"] - last["enter"])
                out["slider_to_sed_ms"] = _summary(slider, 1e3, 1)
                if in_page:  # the same moves from the Enter key's event, on the page's clock
                    out["slider_to_sed_in_page_ms"] = _summary(in_page, 1.0, 1)
                if "attribution unavailable" not in text_of(page, ".irox-attr-status"):
                    attr = []
                    for _ in range(n_attribution):
                        s0 = text_of(page, ".irox-summary")
                        page.get_by_role("button", name="next ▶").click()
                        wait_text_change(page, ".irox-summary", s0)
                        page.wait_for_selector(".irox-attr-done", state="detached", timeout=30_000)
                        t0 = time.perf_counter()
                        page.get_by_role("button", name="explain").click()
                        page.wait_for_selector(".irox-attr-done", timeout=120_000)
                        attr.append(time.perf_counter() - t0)
                    out["attribution_s"] = _summary(attr, digits=2)
            rss = server.kernel_rss_bytes()
            out["kernel_rss_mb"] = {"max": round(max(rss) / 2**20, 1) if rss else None, "n_kernels": len(rss)}
            page.close()
    finally:
        server.stop()
    out["load_average_before"] = [round(x, 2) for x in load_before]
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    out["targets"] = TARGETS
    out["method"] = (
        "Playwright + Debian Chromium (headless, no GPU) against voila app.ipynb; each timing from the "
        "input event to the new text in the page (requestAnimationFrame polling)"
    )
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    ap.add_argument(
        "--models", default=None, help="model name or directory (default: IROX_MODELS or default)"
    )
    ap.add_argument("--n", type=int, default=20, help="samples of the slider and galaxy-switch timings")
    ap.add_argument("--n-cold", type=int, default=3, help="page loads (each a new kernel)")
    ap.add_argument("--n-attribution", type=int, default=5)
    ap.add_argument(
        "--preheat",
        action="store_true",
        help="Voila as `make run` serves it: --preheat_kernel=True --pool_size=1",
    )
    a = ap.parse_args(argv)
    res = run_browser_benchmark(a.models, a.n, a.n_cold, a.n_attribution, a.preheat)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
