"""Simulator throughput of two checkouts, alternately in one run (old, new, new, old).

Usage: ``python benchmarks/simulator_versions.py OLD_CHECKOUT NEW_CHECKOUT --out results.json``
(e.g. a ``git worktree`` of the previous release as OLD). Each run simulates 1,000 galaxies with
2 worker processes through ``python -m explorer simulate`` from that checkout (its own code, this
interpreter) and is timed wall-clock including start-up, as the README's simulator row.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def time_run(checkout: Path, n: int, workers: int, out_dir: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "explorer", "simulate", "--n", str(n), "--seed", "5", "--workers", str(workers),
         "--quiet", "--out", str(out_dir / f"{checkout.name}.h5")],
        cwd=checkout, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - t0


def _rev(checkout: Path) -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True
    )
    return out.stdout.strip() or str(checkout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for who in ("old", "new", "new", "old"):
            s = time_run(getattr(a, who).resolve(), a.n, a.workers, Path(tmp))
            runs.append({"checkout": who, "wall_s": round(s, 2), "galaxies_per_s": round(a.n / s, 1)})
    mean = {w: sum(r["wall_s"] for r in runs if r["checkout"] == w) / 2 for w in ("old", "new")}
    result = {
        "n": a.n,
        "workers": a.workers,
        "runs": runs,
        "new_over_old_wall": round(mean["new"] / mean["old"], 3),
    }
    text = json.dumps(result, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
