"""Integrated-gradient attributions of IR predictions to the pixels of an optical spectrum.

The contract with the models ("target function")
-----------------------------------------------
A target function is a ``torch.nn.Module`` (or any callable) mapping the *normalized*
observed-frame flux, ``Tensor[B, 3921]`` on :data:`explorer.constants.WAVE_OBS_VAC_AA` (as in
:attr:`explorer.catalog.GalaxySpectrum.flux`), to ``Tensor[B, T]`` outputs (W1..W4 magnitudes,
colours, q_PAH, log L_AGN, ...). Everything else about the galaxy (redshift, normalization,
aperture correction, weights) is bound inside it. It exposes

- ``targets``: list of T output names, e.g. ``["W1", "W2", "W3", "W4", "W1-W2", ...]``;
- optionally ``reference_baselines(z) -> (M, 3921)``: typical spectra placed at redshift z
  (see :func:`explorer.attribution.baselines.reference_baselines`);
- optionally ``model_id`` (str), used as part of cache keys.

Any object with these attributes will do (:class:`TargetFunctionLike` spells the contract out);
the models' layer builds its own (:func:`explorer.ml.target.build_target_function`) without
importing this module. Plain callables can be wrapped with :class:`TargetFunction`.

Method
------
Integrated gradients (Sundararajan, Taly & Yan 2017) of target t for input x and baseline b::

    IG_t(x; b)_p = (x_p - b_p) * integral_0^1 dF_t/dx_p (b + a (x - b)) da

averaged over K baselines b_k (expected-gradients style, Erion et al. 2021). Completeness:
``sum_p IG_t = F_t(x) - mean_k F_t(b_k)``. The integral uses Captum's quadrature rules
(default Gauss-Legendre, :func:`captum.attr._utils.approximation_methods.approximation_parameters`).
The number of steps is doubled (16 -> 32 -> ... -> 512 by default) until the completeness gap
``|sum(attr) - (F(x) - mean F(b))| / |F(x) - mean F(b)|`` is <= ``tol``; otherwise the result
says ``converged=False`` and carries the gap. Each baseline's path has its own completeness
error ``|sum_p attr_k,p - (F(x) - F(b_k))|``, so only the paths with the largest errors are
integrated again with the doubled steps (:func:`_paths_to_refine`); paths that are already
accurate keep their attribution. With one badly integrated path out of 8, a retry costs 1/8 of
a full pass. ``criterion="per_baseline"`` asks every path to
be integrated to ``tol`` instead (quadrature errors of different baselines can cancel in the
mean; both gaps are always reported).

Masked pixels (weight == 0) are held at the galaxy's own value along every path (the baseline
takes x there), so their attribution is exactly zero and completeness still holds.

Two backends compute the same numbers (tests check they agree to 1e-6):

- ``"shared"`` (default): one forward pass per chunk of path points, one backward pass per
  requested target. For W1..W4 it takes 1.4-1.7x less CPU time than the captum backend
  (``python -m benchmarks.attribution_bench``).
- ``"captum"``: :class:`captum.attr.IntegratedGradients`, one call per target.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from captum.attr import IntegratedGradients
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS, approximation_parameters
from torch import nn

from ..catalog import GalaxySpectrum
from ..constants import N_PIX
from ..errors import AttributionError
from .baselines import DEFAULT_N_BASELINES, reference_baselines, smooth_baseline

#: Defaults (timings: ``python -m benchmarks.attribution_bench``).
#: 16 Gauss-Legendre nodes per path to start: on 5 demo galaxies x W1-W4 (models/default), every
#: line share is within 0.0013 (absolute) of a 256-node reference and the per-pixel L1 error is
#: 2-4% (32 nodes: 0.0009 and 1-2%), at half the cost; paths that miss the completeness tolerance
#: are refined (1 of 12 galaxies needed it).
DEFAULT_N_STEPS = 16
#: 512: with per-path refinement a rare hard path costs a few passes, not 31. Some colour targets
#: need it when F(x) ~ mean F(b) (e.g. W3-W4 of demo galaxy SIM-0030960: gap 6% at 256, 2% at 512).
DEFAULT_MAX_STEPS = 512
DEFAULT_TOL = 0.05
DEFAULT_INTERNAL_BATCH = 32
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


@runtime_checkable
class TargetFunctionLike(Protocol):
    """The target-function contract: a callable ``flux[B, 3921] -> [B, T]`` with ``targets``.

    Optional attributes the engine and the cache read with ``getattr``: ``model_id`` (str, part
    of cache keys) and ``reference_baselines`` (callable ``z -> (M, 3921)``).
    """

    targets: Sequence[str]

    def __call__(self, flux: torch.Tensor) -> torch.Tensor: ...


class TargetFunction(nn.Module):
    """Wrap a plain callable ``fn(flux[B, 3921]) -> [B, T]`` as a target function.

    Parameters
    ----------
    fn : callable
    targets : list of str
        Names of the T outputs.
    model_id : str, optional
    reference_baselines : callable ``(z) -> (M, 3921)``, optional
    """

    def __init__(
        self, fn: Callable, targets: Sequence[str], model_id: str | None = None, reference_baselines=None
    ):
        super().__init__()
        self.fn = fn
        self.targets = list(targets)
        self.model_id = model_id
        if reference_baselines is not None:
            self.reference_baselines = reference_baselines

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        return self.fn(flux)


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
        return _relative_gap(self.sum_attribution, self.delta)

    @property
    def completeness_gap_per_baseline(self) -> float:
        """sum_k |S_k - (F(x) - F(b_k))| / sum_k |F(x) - F(b_k)| (no cancellation between paths)."""
        d = self.f_x - self.f_baselines
        num = float(np.sum(np.abs(self.sum_per_baseline - d)))
        den = float(np.sum(np.abs(d)))
        return _ratio(num, den)

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
            "completeness_gap": _json_float(self.completeness_gap),
            "completeness_abs_error": self.completeness_abs_error,
            "completeness_gap_per_baseline": _json_float(self.completeness_gap_per_baseline),
            "n_steps": self.n_steps,
            "n_steps_per_baseline": None
            if self.n_steps_per_baseline is None
            else [int(v) for v in self.n_steps_per_baseline],
            "n_baselines": self.n_baselines,
            "converged": self.converged,
            "history": [
                {k: _json_float(v) if k not in ("n_steps", "n_paths") else v for k, v in h.items()}
                for h in self.history
            ],
            "elapsed_s": self.elapsed_s,
            "settings": self.settings,
        }
        if include_attribution:
            out["attribution"] = self.attribution.tolist()
        return out


def _ratio(num: float, den: float) -> float:
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return num / den


def _relative_gap(total: float, delta: float) -> float:
    return _ratio(abs(total - delta), abs(delta))


def _json_float(v: float):
    return v if math.isfinite(v) else str(v)


def settings_hash(settings: dict) -> str:
    """Stable 16-hex-digit hash of the result-changing entries of ``settings``."""
    keyed = {k: settings.get(k) for k in RESULT_SETTINGS}
    blob = json.dumps(keyed, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:16]


def target_names(target_fn) -> list[str]:
    """The output names a target function exposes (``target_fn.targets``)."""
    names = getattr(target_fn, "targets", None)
    if names is None:
        raise AttributionError(
            f"target function {type(target_fn).__name__} has no 'targets' list; wrap it with TargetFunction"
        )
    return [str(n) for n in names]


def _target_indices(target_fn, targets: Sequence[str]) -> list[int]:
    names = target_names(target_fn)
    out = []
    for t in targets:
        if t not in names:
            raise AttributionError(f"unknown target {t!r}; the target function exposes {names}")
        out.append(names.index(t))
    return out


def _model_dtype(target_fn) -> torch.dtype:
    """Floating dtype of the module's first floating parameter (else buffer); float32 otherwise."""
    if isinstance(target_fn, nn.Module):
        for p in list(target_fn.parameters()) + list(target_fn.buffers()):
            if p.is_floating_point():
                return p.dtype
    return torch.float32


@contextlib.contextmanager
def _eval_mode(target_fn):
    """Evaluate in eval mode (no dropout, fixed normalization), restoring the mode afterwards."""
    if isinstance(target_fn, nn.Module):
        was = target_fn.training
        target_fn.eval()
        try:
            yield
        finally:
            target_fn.train(was)
    else:
        yield


def _forward(target_fn, flux: torch.Tensor) -> torch.Tensor:
    out = target_fn(flux)
    if not isinstance(out, torch.Tensor):
        raise AttributionError(f"target function returned {type(out).__name__}, expected a Tensor")
    if out.ndim == 1:
        out = out[:, None]
    if out.ndim != 2 or out.shape[0] != flux.shape[0]:
        raise AttributionError(
            f"target function must map [B, {N_PIX}] to [B, T]; got output shape {tuple(out.shape)} for B={flux.shape[0]}"
        )
    return out


def _baseline_tensor(baselines, spectrum: GalaxySpectrum, target_fn, k: int, rng) -> tuple[torch.Tensor, str]:
    if baselines is None:
        ref = getattr(target_fn, "reference_baselines", None)
        if callable(ref):
            return reference_baselines(ref, spectrum.z, k, rng), "reference"
        return smooth_baseline(spectrum), "smooth"
    if callable(baselines) and not isinstance(baselines, torch.Tensor):
        return reference_baselines(baselines, spectrum.z, k, rng), "reference"
    b = torch.as_tensor(
        np.asarray(baselines.detach().cpu() if isinstance(baselines, torch.Tensor) else baselines)
    )
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != N_PIX or b.shape[0] < 1:
        raise AttributionError(f"baselines must have shape (K, {N_PIX}), got {tuple(b.shape)}")
    return b, "given"


def _path_gradients_shared(target_fn, x, b, cols, n_steps, method, chunk) -> torch.Tensor:
    """Quadrature-weighted gradient sums, shape (len(cols), K, P), float64.

    Path points are ordered (step i, baseline k); each chunk gets one forward pass and one
    backward pass per target column.
    """
    step_fn, alpha_fn = approximation_parameters(method)
    sizes = torch.tensor(step_fn(n_steps), dtype=torch.float64)
    alphas = torch.tensor(alpha_fn(n_steps), dtype=x.dtype)
    n_base = b.shape[0]
    diff = x - b  # (K, P)
    total = torch.zeros(len(cols), n_base, x.shape[1], dtype=torch.float64)
    n_rows = n_steps * n_base
    for start in range(0, n_rows, chunk):
        rows = torch.arange(start, min(start + chunk, n_rows))
        i_step = rows // n_base
        k_base = rows % n_base
        pts = (b[k_base] + alphas[i_step, None] * diff[k_base]).detach().requires_grad_(True)
        out = _forward(target_fn, pts)
        for j, c in enumerate(cols):
            (g,) = torch.autograd.grad(out[:, c].sum(), pts, retain_graph=j < len(cols) - 1)
            total[j].index_add_(0, k_base, g.to(torch.float64) * sizes[i_step, None])
    return total


def _path_attr_captum(target_fn, x, b, cols, n_steps, method, chunk) -> torch.Tensor:
    """Per-baseline attributions (len(cols), K, P) from captum's IntegratedGradients."""
    ig = IntegratedGradients(lambda inp: _forward(target_fn, inp))
    xs = x.expand(b.shape[0], -1).contiguous()
    out = []
    for c in cols:
        a = ig.attribute(
            xs,
            baselines=b,
            target=int(c),
            n_steps=n_steps,
            method=method,
            internal_batch_size=max(chunk, b.shape[0]),
        )
        out.append(a.detach().to(torch.float64))
    return torch.stack(out)


def _paths_to_refine(err_k: np.ndarray, budget: float) -> list[int]:
    """Paths whose completeness errors must shrink for ``sum(err_k) <= budget``.

    The paths with the smallest errors are kept while their errors add up to at most half the
    budget (the other half is left for the refined paths); the rest are integrated again with
    twice the steps. Errors |sum_p attr_k,p - (F(x) - F(b_k))| of one path do not depend on the
    others, so a path that is already accurate need not be recomputed. Never empty.
    """
    order = np.argsort(err_k, kind="stable")
    kept = np.cumsum(err_k[order]) <= 0.5 * budget
    out = [int(k) for k in order[~kept]]
    return out or [int(order[-1])]


def attribute_targets(
    target_fn,
    spectrum: GalaxySpectrum,
    targets: Sequence[str],
    *,
    baselines=None,
    n_baselines: int = DEFAULT_N_BASELINES,
    rng: np.random.Generator | int | None = None,
    n_steps: int = DEFAULT_N_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    atol: float = 0.0,
    criterion: str = "mean",
    method: str = "gausslegendre",
    internal_batch_size: int = DEFAULT_INTERNAL_BATCH,
    backend: str = "shared",
) -> dict[str, AttributionResult]:
    """Integrated-gradient attributions of several targets of one galaxy (shared forward passes).

    Parameters
    ----------
    target_fn : nn.Module or callable with ``targets``
        See the module docstring for the contract.
    spectrum : GalaxySpectrum
        The galaxy; ``flux`` (normalized, 3921 px) is the model input, ``weight == 0`` marks
        masked pixels.
    targets : sequence of str
        Names from ``target_fn.targets``.
    baselines : Tensor/array (K, 3921), callable ``(z) -> (M, 3921)``, or None
        Reference spectra on the observed grid (NaN = undefined there). None: the target
        function's ``reference_baselines`` if it has one (``n_baselines`` drawn with ``rng``),
        else :func:`~explorer.attribution.baselines.smooth_baseline` (the galaxy with its lines
        smoothed away). Never an all-zero spectrum unless you pass one. The kind used is in
        ``settings["baseline_kind"]``.
    n_baselines : int
        K when references are drawn from a callable.
    rng : Generator, int or None
        Draw of the references (None = fixed seed 0).
    n_steps, max_steps : int
        First and largest number of quadrature steps; doubled until converged.
    tol : float
        Largest accepted relative completeness gap.
    atol : float
        Also accept when ``|sum(attr) - delta| <= atol`` (target units); 0 disables.
    criterion : {"mean", "per_baseline"}
        "mean" (default): the gap of the averaged attribution, as defined above.
        "per_baseline": ``sum_k |S_k - (F(x) - F(b_k))| / sum_k |F(x) - F(b_k)|``, stricter:
        path errors of different baselines cannot cancel, and the denominator does not vanish
        when F(x) is close to the mean baseline output. Both gaps are always reported.
    method : str
        Captum quadrature: "gausslegendre" (default) or "riemann_{left,right,middle,trapezoid}".
    internal_batch_size : int
        Path points per forward pass (memory/speed trade-off; 32 was fastest per CPU-second on the 2-core machine).
    backend : {"shared", "captum"}

    Returns
    -------
    dict target name -> AttributionResult

    Raises
    ------
    AttributionError
        Unknown target, bad shapes, non-finite flux at good pixels, non-finite model output.
    """
    t0 = time.perf_counter()
    prep = prepare(
        target_fn,
        spectrum,
        baselines=baselines,
        n_baselines=n_baselines,
        rng=rng,
        n_steps=n_steps,
        max_steps=max_steps,
        tol=tol,
        atol=atol,
        criterion=criterion,
        method=method,
        internal_batch_size=internal_batch_size,
        backend=backend,
    )
    return run_prepared(target_fn, prep, targets, t0=t0)


@dataclass
class Prepared:
    """Checked inputs of one galaxy's attribution: input, mask-completed baselines, settings.

    ``settings["settings_hash"]`` is known before any gradient is computed, so caches can be
    consulted first (see :mod:`explorer.attribution.cache`).
    """

    galaxy_id: str
    z: float
    x: torch.Tensor  # (1, P)
    baselines: torch.Tensor  # (K, P), masked/undefined pixels replaced by x
    good: np.ndarray  # (P,) bool
    settings: dict


def prepare(
    target_fn,
    spectrum: GalaxySpectrum,
    *,
    baselines=None,
    n_baselines: int = DEFAULT_N_BASELINES,
    rng: np.random.Generator | int | None = None,
    n_steps: int = DEFAULT_N_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    atol: float = 0.0,
    criterion: str = "mean",
    method: str = "gausslegendre",
    internal_batch_size: int = DEFAULT_INTERNAL_BATCH,
    backend: str = "shared",
) -> Prepared:
    """Validate a galaxy and settings and build its baselines (parameters as :func:`attribute_targets`)."""
    if method not in SUPPORTED_METHODS:
        raise AttributionError(f"unknown quadrature method {method!r}; use one of {SUPPORTED_METHODS}")
    if backend not in ("shared", "captum"):
        raise AttributionError(f"unknown backend {backend!r}; use 'shared' or 'captum'")
    if criterion not in ("mean", "per_baseline"):
        raise AttributionError(f"unknown convergence criterion {criterion!r}; use 'mean' or 'per_baseline'")
    if n_steps < 2 or max_steps < n_steps:
        raise AttributionError(
            f"need 2 <= n_steps <= max_steps, got n_steps={n_steps}, max_steps={max_steps}"
        )
    if internal_batch_size < 1:
        raise AttributionError(f"internal_batch_size must be >= 1, got {internal_batch_size}")
    gid = str(spectrum.id)
    flux = np.asarray(spectrum.flux)
    weight = np.asarray(spectrum.weight)
    if flux.shape != (N_PIX,) or weight.shape != (N_PIX,):
        raise AttributionError(
            f"galaxy {gid}: flux/weight must have shape ({N_PIX},), got {flux.shape} and {weight.shape}"
        )
    good = np.isfinite(weight) & (weight > 0)
    if not good.any():
        raise AttributionError(f"galaxy {gid}: no good pixels (all weights are 0)")
    if not np.all(np.isfinite(flux[good])):
        raise AttributionError(
            f"galaxy {gid}: non-finite flux at {int((~np.isfinite(flux[good])).sum())} good pixels"
        )

    dtype = _model_dtype(target_fn)
    x = torch.as_tensor(flux, dtype=dtype)[None]
    b, kind = _baseline_tensor(baselines, spectrum, target_fn, n_baselines, rng)
    b = b.to(dtype)
    good_t = torch.as_tensor(good)
    # Hold masked pixels (and pixels where a baseline is undefined) at the galaxy's own value.
    b = torch.where(good_t[None] & torch.isfinite(b), b, x)
    sha = hashlib.sha1(b.detach().cpu().numpy().astype(np.float32).tobytes()).hexdigest()[:16]
    settings = {
        "method": method,
        "n_steps_start": int(n_steps),
        "max_steps": int(max_steps),
        "tol": float(tol),
        "atol": float(atol),
        "criterion": criterion,
        "n_baselines": int(b.shape[0]),
        "baseline_kind": kind,
        "baseline_sha1": sha,
        "internal_batch_size": int(internal_batch_size),
        "backend": backend,
        "dtype": str(dtype).replace("torch.", ""),
    }
    settings["settings_hash"] = settings_hash(settings)
    return Prepared(gid, float(spectrum.z), x, b, good, settings)


def run_prepared(
    target_fn, prep: Prepared, targets: Sequence[str], *, t0: float | None = None
) -> dict[str, AttributionResult]:
    """Compute the attributions of ``targets`` for a :class:`Prepared` galaxy (completeness loop)."""
    t0 = time.perf_counter() if t0 is None else t0
    targets = list(targets)
    if not targets:
        raise AttributionError("attribute_targets: no targets requested")
    cols = _target_indices(target_fn, targets)
    st = prep.settings
    tol, atol, max_steps = st["tol"], st["atol"], st["max_steps"]
    method, chunk, backend = st["method"], st["internal_batch_size"], st["backend"]
    x, b, good, gid = prep.x, prep.baselines, prep.good, prep.galaxy_id
    good_t = torch.as_tensor(good)

    results: dict[str, AttributionResult] = {}
    n_base = b.shape[0]
    with _eval_mode(target_fn):
        with torch.no_grad():
            f_all = _forward(target_fn, torch.cat([x, b])).to(torch.float64)
        if not torch.all(torch.isfinite(f_all[:, cols])):
            raise AttributionError(
                f"galaxy {gid}: the target function gives non-finite outputs for {targets}"
            )
        f_x = f_all[0].numpy()
        f_b = f_all[1:].numpy()
        diff64 = (x - b).to(torch.float64)

        pending = list(range(len(targets)))  # positions in targets
        history: dict[int, list] = {j: [] for j in pending}
        # per target: attribution of every path (K, P) and the steps each path was integrated with
        attr_k = {j: torch.zeros(n_base, x.shape[1], dtype=torch.float64) for j in pending}
        steps_k = {j: np.zeros(n_base, dtype=np.int64) for j in pending}
        paths = np.arange(n_base)  # paths (baselines) integrated in this round
        n = int(st["n_steps_start"])
        while pending:
            pcols = [cols[j] for j in pending]
            bp = b[torch.as_tensor(paths)]
            if backend == "shared":
                attr_pb = _path_gradients_shared(target_fn, x, bp, pcols, n, method, chunk)
                attr_pb *= diff64[torch.as_tensor(paths)][None]
            else:
                attr_pb = _path_attr_captum(target_fn, x, bp, pcols, n, method, chunk)
            attr_pb[:, :, ~good_t] = 0.0
            still, refine = [], set()
            for row, j in enumerate(pending):
                c = cols[j]
                attr_k[j][torch.as_tensor(paths)] = attr_pb[row]
                steps_k[j][paths] = n
                attr = attr_k[j].mean(dim=0).numpy()
                delta = float(f_x[c] - f_b[:, c].mean())
                total = float(attr.sum())
                gap = _relative_gap(total, delta)
                sums_k = attr_k[j].sum(dim=1).numpy()
                d_k = f_x[c] - f_b[:, c]
                err_k = np.abs(sums_k - d_k)
                gap_pb = _ratio(float(err_k.sum()), float(np.abs(d_k).sum()))
                history[j].append(
                    {"n_steps": n, "gap": gap, "gap_per_baseline": gap_pb, "n_paths": int(paths.size)}
                )
                if st["criterion"] == "mean":
                    ok = gap <= tol or (atol > 0 and abs(total - delta) <= atol)
                    budget = n_base * max(tol * abs(delta), atol)
                else:  # every path integrated to tol (errors of different baselines cannot cancel)
                    ok = gap_pb <= tol or (atol > 0 and float(err_k.mean()) <= atol)
                    budget = max(tol * float(np.abs(d_k).sum()), n_base * atol)
                if ok or n >= max_steps:
                    results[targets[j]] = AttributionResult(
                        galaxy_id=gid,
                        target=targets[j],
                        z=prep.z,
                        attribution=attr,
                        good=good.copy(),
                        f_x=float(f_x[c]),
                        f_baselines=f_b[:, c].copy(),
                        sum_per_baseline=sums_k,
                        n_steps=int(steps_k[j].max()),
                        converged=bool(ok),
                        settings=dict(st),
                        history=history[j],
                        n_steps_per_baseline=steps_k[j].copy(),
                    )
                else:
                    still.append(j)
                    refine.update(_paths_to_refine(err_k, budget))
            pending = still
            paths = np.array(sorted(refine), dtype=np.int64)
            n = min(2 * n, max_steps)
    elapsed = time.perf_counter() - t0
    for r in results.values():
        r.elapsed_s = elapsed
    return {t: results[t] for t in targets}


def attribute(
    target_fn,
    spectrum: GalaxySpectrum,
    target: str,
    *,
    baselines=None,
    n_steps: int = DEFAULT_N_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tol: float = DEFAULT_TOL,
    **kwargs,
) -> AttributionResult:
    """Integrated-gradient attribution of one target for one galaxy.

    Same parameters as :func:`attribute_targets` (``target`` is one name); see there.
    """
    return attribute_targets(
        target_fn,
        spectrum,
        [target],
        baselines=baselines,
        n_steps=n_steps,
        max_steps=max_steps,
        tol=tol,
        **kwargs,
    )[target]
