"""Speed and memory benchmarks; prints one JSON object.

Usage::

    python benchmarks/run.py --json               # everything
    python benchmarks/run.py --json --only read   # benchmarks whose name contains "read"

Each benchmark returns a dict with its measured value(s), the unit, the target where the
issue tracker set one, and how it was measured. Targets are *reported*, never asserted here.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from explorer.paths import DEMO_CATALOG  # noqa: E402


def bench_catalog_read_one_galaxy(n_reads: int = 500) -> dict:
    """Time to read one random galaxy's spectrum + row from the demo catalog (file already open)."""
    from explorer.catalog import Catalog

    t0 = time.perf_counter()
    cat = Catalog(DEMO_CATALOG)
    open_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    idx = rng.integers(0, cat.n, n_reads)
    times = []
    for i in idx:
        t = time.perf_counter()
        spec = cat.spectrum(int(i))
        _ = spec.flux.sum()
        times.append(time.perf_counter() - t)
    cat.close()
    times_ms = 1e3 * np.asarray(times)
    return {
        "catalog": str(DEMO_CATALOG.relative_to(REPO)),
        "median_ms": round(float(np.median(times_ms)), 3),
        "p95_ms": round(float(np.percentile(times_ms, 95)), 3),
        "open_catalog_ms": round(1e3 * open_s, 2),
        "n_reads": n_reads,
        "target_ms": 5.0,
        "method": "Catalog.spectrum(i) for random i, file opened once",
    }


def bench_simulator_throughput(n: int = 1000, workers: int = 2) -> dict:
    """Simulated galaxies per second on both cores (wall time includes worker start-up)."""
    try:
        from explorer.simulate.run import simulate_catalog
    except ImportError as exc:  # the 'simulate' extra (bagpipes) is optional
        return {"skipped": f"simulate extra not installed: {exc}"}
    from explorer.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        t0 = time.perf_counter()
        simulate_catalog(n=n, seed=123, out=out, workers=workers, progress=False)
        wall = time.perf_counter() - t0
        with Catalog(out) as cat:
            cpu_ms = float(cat.provenance.get("cpu_ms_per_galaxy", float("nan")))
    return {
        "galaxies_per_s": round(n / wall, 1),
        "cpu_ms_per_galaxy": cpu_ms,
        "steady_state_galaxies_per_s": round(workers * 1e3 / cpu_ms, 1),
        "n": n,
        "workers": workers,
        "wall_s": round(wall, 1),
        "cores": os.cpu_count(),
        "method": "simulate_catalog(n, workers): wall time incl. process start-up, loading the real "
        "SDSS sample and building one bagpipes model per worker; steady state = workers / CPU time "
        "per galaxy in the workers",
    }


def bench_models_throughput() -> dict:
    """Encode+predict rate, one galaxy's 1,000-sample posterior, model load (models/default)."""
    from benchmarks.throughput import measure_throughput

    out = measure_throughput("default", n=4096, n_threads=2)
    out["models"] = "models/default"
    return out


def bench_attribution_one_galaxy(repeat: int = 3, threads: int = 2) -> dict:
    """Integrated gradients, one demo galaxy, W1-W4, default settings, models/default, 2 threads.

    One warm-up call first (oneDNN and autograd set-up, reported as ``first_call_s``), then
    ``repeat`` galaxies. The 1-minute load average is reported: with other jobs on the two
    cores, two torch threads wait for each other and the wall time grows several-fold
    (``cpu_s``, the process CPU time, is less sensitive to that).
    """
    import torch

    from explorer.attribution.engine import DEFAULT_MAX_STEPS, DEFAULT_N_STEPS, attribute_targets
    from explorer.catalog import Catalog
    from explorer.ml.registry import load_models
    from explorer.ml.target import ReferenceSpectra, build_target_function

    torch.set_num_threads(threads)
    bundle = load_models("default")
    cat = Catalog(DEMO_CATALOG)
    refs = ReferenceSpectra(bundle, cat, n=32)
    load_before = os.getloadavg()[0]
    spec = cat.spectrum(9)
    tf = build_target_function(bundle, spec, cat.row(9), refs)
    refs(spec.z)
    t0 = time.perf_counter()
    attribute_targets(tf, spec, ["W1", "W2", "W3", "W4"])
    first = time.perf_counter() - t0
    times, cpu, steps, gaps = [], [], [], []
    for i in range(repeat):
        spec = cat.spectrum(10 + i)
        tf = build_target_function(bundle, spec, cat.row(10 + i), refs)
        refs(spec.z)  # decoding the references is part of galaxy selection, not of the attribution
        t0, c0 = time.perf_counter(), time.process_time()
        res = attribute_targets(tf, spec, ["W1", "W2", "W3", "W4"])
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        steps.append({k: r.n_steps for k, r in res.items()})
        gaps.append({k: round(float(r.completeness_gap), 4) for k, r in res.items()})
    return {
        "median_s": round(float(np.median(times)), 2),
        "times_s": [round(t, 2) for t in times],
        "cpu_s": [round(t, 2) for t in cpu],
        "first_call_s": round(first, 2),
        "threads": threads,
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "n_steps": steps,
        "completeness_gap": gaps,
        "target_s": 3.0,
        "method": f"attribute_targets(W1-W4), 8 reference baselines, {DEFAULT_N_STEPS} Gauss-Legendre steps, "
        f"badly integrated paths refined up to {DEFAULT_MAX_STEPS} until the gap <= 5%; after one warm-up call",
    }


def bench_build_catalog(n: int = 200) -> dict:
    """build-catalog throughput with 1 and 2 reader processes on copies of ppxf's real spectra."""
    from benchmarks.build_catalog import main as build_bench

    out = build_bench(["--n", str(n)])
    out["method"] = (
        "benchmarks/build_catalog.py: n copies of the two real DR18 spectra (new ids and positions), no cache"
    )
    return out


def bench_browser() -> dict:
    """Real-browser figures (Voila + Debian Chromium): TTI, slider -> SED, galaxy switch, attribution."""
    from benchmarks.app_bench import run_browser_benchmark

    return run_browser_benchmark(models="default", n=20)


def bench_load_test() -> dict:
    """Served to a group: N = 5, 10, 20 users in one Chromium against a 12-kernel limit (issue 18)."""
    from benchmarks.load_test import run_all

    return run_all((5, 10, 20), max_kernels=12)


def bench_midir_one_galaxy() -> dict:
    """One galaxy's mid-IR spectrum posterior (1,000 draws) and its conditioning on W1-W4 (issue 15)."""
    from benchmarks.midir_bench import bench_midir

    has = (REPO / "models" / "default" / "midir.pt").is_file()
    return bench_midir("default" if has else None, repeat=30)


BENCHMARKS = {
    "catalog_read_one_galaxy": bench_catalog_read_one_galaxy,
    "simulator_throughput": bench_simulator_throughput,
    "models_throughput": bench_models_throughput,
    "attribution_one_galaxy": bench_attribution_one_galaxy,
    "build_catalog": bench_build_catalog,
    "browser": bench_browser,
    "load_test": bench_load_test,
    "midir_one_galaxy": bench_midir_one_galaxy,
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    ap.add_argument("--only", default=None, help="run benchmarks whose name contains this text")
    args = ap.parse_args(argv)
    # Libraries print to stdout (bagpipes, also in the simulator's worker processes): send file
    # descriptor 1 to stderr while the benchmarks run, so that stdout carries the JSON only.
    sys.stdout.flush()
    json_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        results = _run(args)
    finally:
        sys.stdout.flush()
        os.dup2(json_fd, 1)
        os.close(json_fd)
    print(json.dumps(results, indent=2))
    return 0


def _run(args) -> dict:
    results = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        }
    }
    for name, fn in BENCHMARKS.items():
        if args.only and args.only not in name:
            continue
        t0 = time.perf_counter()
        try:
            results[name] = fn()
        except Exception as exc:  # report, keep the other benchmarks going
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["bench_wall_s"] = round(time.perf_counter() - t0, 2)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


if __name__ == "__main__":
    raise SystemExit(main())
