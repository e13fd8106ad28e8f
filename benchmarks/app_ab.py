"""Browser A/B of the dashboard: another checkout (A) against this tree (B), interleaved in one run.

Usage::

    git worktree add /tmp/base <commit>
    python -m benchmarks.app_ab --json --baseline /tmp/base --rounds 5

Two Voila servers run side by side, each starting a new kernel per page; the baseline's kernels
import ``explorer`` from the other checkout (its root first on ``PYTHONPATH``), the notebook and
the models are this tree's. Each round opens one page per tree, in turn, and times there:

* ``time_to_interactive_ms``: page load until the SED table and a Bokeh canvas are shown;
* ``galaxy_switch_ms``: "next" clicked -> summary and SED table of the next galaxy shown;
* ``slider_to_sed_ms``: a latent slider's readout set + Enter -> the SED chi table redrawn (the
  harness of ``benchmarks/app_bench.py``: from before Playwright types the value);
* ``slider_to_midir_ms``: the same, until the mid-IR panel's readout (sent after its plot) changes;
* ``page_enter_to_sed_ms`` / ``page_enter_to_midir_ms``: inside the page, from the Enter key's
  event to the DOM change of those two texts (``performance.now()``, no Playwright overhead).

Medians over all rounds; the ratio B/A of each median is the speed-up measured in one run (the
machine's load affects both trees alike). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from explorer.paths import REPO_ROOT
from explorer.testing.browser import (
    VOILA_OPTIONS_COLD,
    VoilaServer,
    chromium_context,
    install_page_clock,
    last_page_move,
    move_slider,
    open_app,
    switch_galaxy,
)

METRICS = (
    "time_to_interactive_ms",
    "galaxy_switch_ms",
    "slider_to_sed_ms",
    "slider_to_midir_ms",
    "page_enter_to_sed_ms",
    "page_enter_to_midir_ms",
)


def _git_head(tree: Path) -> str:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def _one_page(ctx, server: VoilaServer, out: dict, n_switch: int, n_moves: int) -> None:
    page = ctx.new_page()
    try:
        out["time_to_interactive_ms"].append(1e3 * open_app(page, server.url))
        page.wait_for_timeout(1500)
        for _ in range(n_switch):
            out["galaxy_switch_ms"].append(1e3 * switch_galaxy(page))
        ends = ("1000", "-1000")
        for _ in range(2):  # the held axes settle to the slider's two ends
            move_slider(page, "latent 1", values=ends)
            ends = ends[::-1]
        install_page_clock(page)
        has_midir = page.locator(".irox-midir-readout").count() > 0
        for name, watch in (("sed", ".irox-chi"), ("midir", ".irox-midir-readout")):
            if name == "midir" and not has_midir:
                continue
            for _ in range(n_moves):
                out[f"slider_to_{name}_ms"].append(
                    1e3 * move_slider(page, "latent 1", watch=watch, values=ends)
                )
                ends = ends[::-1]
                page.wait_for_timeout(300)  # let the other panel's redraw end before the next move
                last = last_page_move(page)
                if last and name in last:
                    out[f"page_enter_to_{name}_ms"].append(last[name] - last["enter"])
    finally:
        page.close()


def run_ab(
    baseline: Path, models: str = "default", rounds: int = 5, n_switch: int = 4, n_moves: int = 8
) -> dict:
    """Interleaved A (``baseline`` checkout) / B (this tree) browser timings; a JSON-ready dict."""
    baseline = Path(baseline).resolve()
    if not (baseline / "explorer" / "__init__.py").is_file():
        raise SystemExit(f"{baseline}: not a checkout of this project (no explorer/__init__.py)")
    env = {"IROX_MODELS": models}
    trees = {"A": baseline, "B": REPO_ROOT}
    servers = {
        "A": VoilaServer(
            REPO_ROOT / "app.ipynb", env=dict(env, PYTHONPATH=str(baseline)), options=VOILA_OPTIONS_COLD
        ),
        "B": VoilaServer(REPO_ROOT / "app.ipynb", env=env, options=VOILA_OPTIONS_COLD),
    }
    samples = {k: {m: [] for m in METRICS} for k in servers}
    load_before = os.getloadavg()
    try:
        with chromium_context(viewport=(1400, 1000)) as ctx:
            for r in range(rounds):
                for k in ("A", "B") if r % 2 == 0 else ("B", "A"):
                    _one_page(ctx, servers[k], samples[k], n_switch, n_moves)
    finally:
        for s in servers.values():
            s.stop()
    med = {k: {m: round(statistics.median(v), 1) for m, v in d.items() if v} for k, d in samples.items()}
    return {
        "trees": {k: {"path": str(p), "commit": _git_head(p)} for k, p in trees.items()},
        "models": models,
        "median_ms": med,
        "ratio_B_over_A": {
            m: round(med["B"][m] / med["A"][m], 3) for m in METRICS if m in med["A"] and m in med["B"]
        },
        "n": {k: {m: len(v) for m, v in d.items()} for k, d in samples.items()},
        "samples_ms": {k: {m: [round(x, 1) for x in v] for m, v in d.items()} for k, d in samples.items()},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "method": (
            f"{rounds} rounds, one new page (and kernel) per tree per round, order alternating ABBA; "
            f"{n_switch} galaxy switches and {n_moves} slider moves to each of the two watched texts per page; "
            "Playwright + Debian Chromium, headless, voila --pool_size=0"
        ),
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    ap.add_argument(
        "--baseline", required=True, help="another checkout of this project (e.g. a git worktree)"
    )
    ap.add_argument("--models", default="default", help="model name or directory, for both trees")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n-switch", type=int, default=4)
    ap.add_argument("--n-moves", type=int, default=8)
    a = ap.parse_args(argv)
    print(json.dumps(run_ab(Path(a.baseline), a.models, a.rounds, a.n_switch, a.n_moves), indent=1))


if __name__ == "__main__":
    main()
