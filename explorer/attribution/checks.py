"""Acceptance checks over a sample: completeness of the attributions, and which targets to run.

``python -m explorer attribute --check completeness --sample 100 --json`` attributes every target
of the shipped models for 100 (seeded) test galaxies at the engine's default settings and prints
:func:`completeness_report`: per target, how many galaxies reach a completeness gap
``|sum(attr) - (F(x) - mean F(b))| / |F(x) - mean F(b)| <= 5 %`` and the distribution of the gap
(the acceptance criterion of issue 4 is >= 95 of 100 galaxies for every target).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import AttributionError
from .sample import SampleRanking

#: Upper edges of the completeness-gap histogram bins (relative gap; the last bin is open).
GAP_BIN_EDGES = (0.001, 0.01, 0.02, 0.05, 0.1, 0.2)


def resolve_targets(spec: str | None, available: Sequence[str], default: Sequence[str]) -> list[str]:
    """Target names from a comma-separated ``spec`` ("all" = every available target).

    Raises
    ------
    AttributionError
        An unknown name (the message lists the available ones).
    """
    available = list(available)
    if spec is None or not spec.strip():
        names = list(default)
    elif spec.strip().lower() == "all":
        names = available
    else:
        names = [t.strip() for t in spec.split(",") if t.strip()]
    unknown = [t for t in names if t not in available]
    if unknown:
        raise AttributionError(f"unknown target(s) {unknown}; the models provide {available} (or 'all')")
    return names


def gap_histogram(gaps: np.ndarray) -> dict[str, int]:
    """Counts of completeness gaps in the bins of :data:`GAP_BIN_EDGES` (keys like ``"<=0.05"``)."""
    gaps = np.asarray(gaps, dtype=float)
    out, lo = {}, -math.inf
    for hi in GAP_BIN_EDGES:
        out[f"<={hi:g}"] = int(np.sum((gaps > lo) & (gaps <= hi)))
        lo = hi
    out[f">{GAP_BIN_EDGES[-1]:g}"] = int(np.sum(gaps > lo) + np.sum(np.isnan(gaps)))  # inf > lo
    return out


def completeness_report(
    rankings: dict[str, SampleRanking], tol: float = 0.05, need_frac: float = 0.95
) -> dict:
    """Per-target completeness counts and gap distribution of a sample run (JSON-ready).

    Parameters
    ----------
    rankings : dict target -> SampleRanking
        From :func:`explorer.attribution.sample.sample_rankings`.
    tol : float
        Gap counted as complete (the engine's default tolerance, 5 %).
    need_frac : float
        Fraction of galaxies that must be complete for ``passes`` (issue 4: 95 of 100).

    Returns
    -------
    dict: ``{"tol", "need_frac", "all_pass", "targets": {target: {"n", "n_failed",
    "n_within_tol", "n_converged", "passes", "gap_median", "gap_p90", "gap_p95", "gap_max",
    "gap_histogram", "n_within_tol_per_baseline", "n_steps_counts", "worst": [...]}}}``.
    ``worst`` lists the five galaxies with the largest gap (id, gap, per-baseline gap, delta).
    """
    out: dict = {"tol": tol, "need_frac": need_frac, "targets": {}}
    for t, sr in rankings.items():
        rows = sr.per_galaxy
        gaps = np.array([r["completeness_gap"] for r in rows], dtype=float)
        gaps_pb = np.array([r["completeness_gap_per_baseline"] for r in rows], dtype=float)
        n = int(gaps.size)
        fin = gaps[np.isfinite(gaps)]
        n_ok = int(np.sum(gaps <= tol))
        n_total = n + len(sr.failures)  # a galaxy that could not be attributed counts as not complete
        order = np.argsort(-np.nan_to_num(gaps, nan=np.inf))[:5]

        def q(p, fin=fin):
            return float(np.percentile(fin, p)) if fin.size else None

        out["targets"][t] = {
            "n": n,
            "n_failed": len(sr.failures),
            "n_within_tol": n_ok,
            "n_converged": int(sum(bool(r["converged"]) for r in rows)),
            "passes": bool(n_total > 0 and n_ok >= need_frac * n_total),
            "gap_median": q(50),
            "gap_p90": q(90),
            "gap_p95": q(95),
            "gap_max": float(np.max(gaps)) if n and np.isfinite(np.max(gaps)) else (None if not n else "inf"),
            "gap_histogram": gap_histogram(gaps),
            "n_within_tol_per_baseline": int(np.sum(gaps_pb <= tol)),
            "n_steps_counts": {
                str(k): int(v) for k, v in zip(*np.unique([r["n_steps"] for r in rows], return_counts=True))
            }
            if n
            else {},
            "median_seconds_per_galaxy": float(np.median([r["elapsed_s"] for r in rows])) if n else None,
            "worst": [
                {
                    "id": rows[i]["id"],
                    "gap": float(gaps[i]) if np.isfinite(gaps[i]) else "inf",
                    "gap_per_baseline": float(gaps_pb[i]) if np.isfinite(gaps_pb[i]) else "inf",
                    "delta": rows[i]["delta"],
                    "n_steps": rows[i]["n_steps"],
                }
                for i in order
            ],
        }
    out["all_pass"] = bool(out["targets"]) and all(v["passes"] for v in out["targets"].values())
    return out
