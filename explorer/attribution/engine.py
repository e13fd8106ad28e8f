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
integrated again with the doubled steps (:func:`~explorer.attribution.integrate.paths_to_refine`); paths that are already
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

Layout: this module holds the public API, the input checks and the completeness loop; the
path integrals of both backends are in :mod:`explorer.attribution.integrate`, the result class
and the settings hash in :mod:`explorer.attribution.result` (re-exported here).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from captum.attr._utils.approximation_methods import SUPPORTED_METHODS
from torch import nn

from ..catalog import GalaxySpectrum
from ..constants import N_PIX
from ..errors import AttributionError
from .baselines import DEFAULT_N_BASELINES, reference_baselines, smooth_baseline
from .integrate import (
    checked_forward,
    eval_mode,
    model_dtype,
    path_attr_captum,
    path_gradients_shared,
    paths_to_refine,
)
from .result import RESULT_SETTINGS, AttributionResult, ratio, relative_gap, settings_hash

__all__ = [
    "DEFAULT_INTERNAL_BATCH",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_N_BASELINES",
    "DEFAULT_N_STEPS",
    "DEFAULT_TOL",
    "RESULT_SETTINGS",
    "AttributionResult",
    "Prepared",
    "TargetFunction",
    "TargetFunctionLike",
    "attribute",
    "attribute_targets",
    "prepare",
    "run_prepared",
    "settings_hash",
    "target_names",
]

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

    dtype = model_dtype(target_fn)
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
    with eval_mode(target_fn):
        with torch.no_grad():
            f_all = checked_forward(target_fn, torch.cat([x, b])).to(torch.float64)
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
                attr_pb = path_gradients_shared(target_fn, x, bp, pcols, n, method, chunk)
                attr_pb *= diff64[torch.as_tensor(paths)][None]
            else:
                attr_pb = path_attr_captum(target_fn, x, bp, pcols, n, method, chunk)
            attr_pb[:, :, ~good_t] = 0.0
            still, refine = [], set()
            for row, j in enumerate(pending):
                c = cols[j]
                attr_k[j][torch.as_tensor(paths)] = attr_pb[row]
                steps_k[j][paths] = n
                attr = attr_k[j].mean(dim=0).numpy()
                delta = float(f_x[c] - f_b[:, c].mean())
                total = float(attr.sum())
                gap = relative_gap(total, delta)
                sums_k = attr_k[j].sum(dim=1).numpy()
                d_k = f_x[c] - f_b[:, c]
                err_k = np.abs(sums_k - d_k)
                gap_pb = ratio(float(err_k.sum()), float(np.abs(d_k).sum()))
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
                    refine.update(paths_to_refine(err_k, budget))
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
