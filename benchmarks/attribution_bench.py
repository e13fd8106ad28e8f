"""Timing of the attribution engine on a stand-in model with the real model's cost.

Run::

    python -m benchmarks.attribution_bench --threads 2 --repeat 5

It attributes W1..W4 of one toy galaxy (z = 0.1) against 8 reference spectra with the default
settings, for both backends, and prints the minimum and median wall time of ``--repeat`` runs
after one warm-up run (first calls pay one-off oneDNN set-up costs), and the minimum CPU time
(summed over threads; less sensitive to other jobs sharing the cores than wall time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from explorer.attribution.baselines import reference_baselines
from explorer.attribution.engine import (
    DEFAULT_INTERNAL_BATCH,
    DEFAULT_MAX_STEPS,
    DEFAULT_N_STEPS,
    attribute_targets,
)
from explorer.attribution.toys import StandInIRModel, toy_spectrum


def reference_set(n: int = 32, seed: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n toy galaxies at redshifts 0.03-0.2 with varied line strengths (observed frame, z_ref)."""
    rng = np.random.default_rng(seed)
    z_ref = rng.uniform(0.03, 0.2, n)
    flux = np.stack(
        [
            toy_spectrum(
                z,
                seed=seed + i,
                line_scale={k: rng.uniform(0.0, 2.0) for k in ("Halpha", "[OII]", "CaII K", "Hbeta")},
            ).flux
            for i, z in enumerate(z_ref)
        ]
    )
    return flux, z_ref


def run_benchmark(
    threads: int = 2,
    repeat: int = 5,
    n_baselines: int = 8,
    n_steps: int = DEFAULT_N_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    internal_batch_size: int = DEFAULT_INTERNAL_BATCH,
    backends=("shared", "captum"),
    widths=(32, 64, 128),
) -> dict:
    """Time one galaxy x four bands; returns a JSON-ready dict of timings and convergence."""
    torch.set_num_threads(threads)
    z = 0.1
    spec = toy_spectrum(z, seed=0)
    model = StandInIRModel(z, widths=widths)
    flux_ref, z_ref = reference_set()
    base = reference_baselines(flux_ref, z, n_baselines, z_ref=z_ref)
    out = {
        "threads": threads,
        "n_params": int(sum(p.numel() for p in model.parameters())),
        "widths": list(widths),
        "n_baselines": int(base.shape[0]),
        "n_steps_start": n_steps,
        "max_steps": max_steps,
        "internal_batch_size": internal_batch_size,
        "backends": {},
    }
    for backend in backends:
        times, cpu = [], []
        res = None
        for r in range(repeat + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            res = attribute_targets(
                model,
                spec,
                ["W1", "W2", "W3", "W4"],
                baselines=base,
                n_steps=n_steps,
                max_steps=max_steps,
                internal_batch_size=internal_batch_size,
                backend=backend,
            )
            if r > 0:  # first run is a warm-up
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        out["backends"][backend] = {
            "min_s": round(min(times), 3),
            "median_s": round(statistics.median(times), 3),
            "cpu_min_s": round(min(cpu), 3),
            "n_steps": {t: v.n_steps for t, v in res.items()},
            "completeness_gap": {t: round(v.completeness_gap, 5) for t, v in res.items()},
            "converged": {t: v.converged for t, v in res.items()},
        }
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n-baselines", type=int, default=8)
    ap.add_argument("--n-steps", type=int, default=DEFAULT_N_STEPS)
    ap.add_argument("--max-steps", type=int, default=DEFAULT_MAX_STEPS)
    ap.add_argument("--batch", type=int, default=DEFAULT_INTERNAL_BATCH)
    ap.add_argument("--backend", choices=["shared", "captum", "both"], default="both")
    args = ap.parse_args(argv)
    backends = ("shared", "captum") if args.backend == "both" else (args.backend,)
    res = run_benchmark(
        args.threads, args.repeat, args.n_baselines, args.n_steps, args.max_steps, args.batch, backends
    )
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
