"""The result of an attribution (:class:`AttributionResult`) and the hash of its settings.

Split out of :mod:`explorer.attribution.engine`, which computes the results and re-exports
these names.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

#: Settings that change the numbers of a result (used for cache keys); batch size and backend
#: do not (beyond float rounding).
RESULT_SETTINGS = (
    "method",
    "n_steps_start",
    "max_steps",
    "tol",
    "atol",
    "criterion",
    "n_baselines",
    "baseline_kind",
    "baseline_sha1",
)


@dataclass
class AttributionResult:
    """Attribution of one target for one galaxy.

    Attributes
    ----------
    galaxy_id, target : str
    z : float
    attribution : ndarray (3921,), float64
        Per-pixel attribution in the target's unit (e.g. mag) on the observed grid; exactly 0
        at masked pixels. Sums to ``f_x - f_baseline_mean`` up to the completeness error.
    good : ndarray (3921,) of bool
        Pixels with weight > 0.
    f_x : float
        Model output for the galaxy.
    f_baselines : ndarray (K,)
        Model output for each (mask-completed) baseline.
    sum_per_baseline : ndarray (K,)
        Sum of the attribution along each baseline's path (before averaging).
    n_steps : int
        Largest number of quadrature steps of any baseline's path.
    converged : bool
        The convergence criterion (``settings["criterion"]``) met: by default
        ``completeness_gap <= tol`` or ``completeness_abs_error <= atol``.
    settings : dict
        Everything needed to reproduce it (method, steps, tol, baselines kind and hash ...).
    history : list of dict
        ``{"n_steps", "gap", "gap_per_baseline", "n_paths"}`` for every round of the completeness
        loop (``n_paths``: baselines whose paths were integrated with ``n_steps`` in that round).
    elapsed_s : float
        Wall time of the engine call that produced it (shared by the targets of one call).
    n_steps_per_baseline : ndarray (K,) of int, optional
        Quadrature steps of each baseline's path (paths are refined separately).
    """

    galaxy_id: str
    target: str
    z: float
    attribution: np.ndarray
    good: np.ndarray
    f_x: float
    f_baselines: np.ndarray
    sum_per_baseline: np.ndarray
    n_steps: int
    converged: bool
    settings: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    elapsed_s: float = float("nan")
    n_steps_per_baseline: np.ndarray | None = None

    @property
    def n_baselines(self) -> int:
        return int(self.f_baselines.size)

    @property
    def f_baseline_mean(self) -> float:
        return float(np.mean(self.f_baselines))

    @property
    def delta(self) -> float:
        """F(x) - mean_k F(b_k): what the attributions must add up to."""
        return self.f_x - self.f_baseline_mean

    @property
    def sum_attribution(self) -> float:
        return float(np.sum(self.attribution))

    @property
    def completeness_abs_error(self) -> float:
        return abs(self.sum_attribution - self.delta)

    @property
    def completeness_gap(self) -> float:
        """|sum(attr) - (F(x) - mean F(b))| / |F(x) - mean F(b)|.

        Can be large when F(x) is close to the mean baseline output even if every path is
        integrated accurately; see :attr:`completeness_gap_per_baseline`.
        """
        return relative_gap(self.sum_attribution, self.delta)

    @property
    def completeness_gap_per_baseline(self) -> float:
        """sum_k |S_k - (F(x) - F(b_k))| / sum_k |F(x) - F(b_k)| (no cancellation between paths)."""
        d = self.f_x - self.f_baselines
        num = float(np.sum(np.abs(self.sum_per_baseline - d)))
        den = float(np.sum(np.abs(d)))
        return ratio(num, den)

    def to_dict(self, include_attribution: bool = False) -> dict:
        """JSON-ready summary (the attribution array only if asked)."""
        out = {
            "galaxy_id": self.galaxy_id,
            "target": self.target,
            "z": self.z,
            "f_x": self.f_x,
            "f_baseline_mean": self.f_baseline_mean,
            "delta": self.delta,
            "sum_attribution": self.sum_attribution,
            "completeness_gap": json_float(self.completeness_gap),
            "completeness_abs_error": self.completeness_abs_error,
            "completeness_gap_per_baseline": json_float(self.completeness_gap_per_baseline),
            "n_steps": self.n_steps,
            "n_steps_per_baseline": None
            if self.n_steps_per_baseline is None
            else [int(v) for v in self.n_steps_per_baseline],
            "n_baselines": self.n_baselines,
            "converged": self.converged,
            "history": [
                {k: json_float(v) if k not in ("n_steps", "n_paths") else v for k, v in h.items()}
                for h in self.history
            ],
            "elapsed_s": self.elapsed_s,
            "settings": self.settings,
        }
        if include_attribution:
            out["attribution"] = self.attribution.tolist()
        return out


def ratio(num: float, den: float) -> float:
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return num / den


def relative_gap(total: float, delta: float) -> float:
    return ratio(abs(total - delta), abs(delta))


def json_float(v: float):
    return v if math.isfinite(v) else str(v)


def settings_hash(settings: dict) -> str:
    """Stable 16-hex-digit hash of the result-changing entries of ``settings``."""
    keyed = {k: settings.get(k) for k in RESULT_SETTINGS}
    blob = json.dumps(keyed, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:16]
