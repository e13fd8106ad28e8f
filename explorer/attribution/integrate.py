"""The path integrals of the integrated-gradient engine: the two backends and path refinement.

- :func:`path_gradients_shared` (backend ``"shared"``): quadrature-weighted gradient sums along
  every baseline's path, one forward pass per chunk of path points and one backward pass per
  target;
- :func:`path_attr_captum` (backend ``"captum"``): :class:`captum.attr.IntegratedGradients`,
  one call per target;
- :func:`paths_to_refine`: which paths the completeness loop integrates again with more steps.

The loop itself and the public API are in :mod:`explorer.attribution.engine`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from captum.attr import IntegratedGradients
from captum.attr._utils.approximation_methods import approximation_parameters
from torch import nn

from ..constants import N_PIX
from ..errors import AttributionError


def model_dtype(target_fn) -> torch.dtype:
    """Floating dtype of the module's first floating parameter (else buffer); float32 otherwise."""
    if isinstance(target_fn, nn.Module):
        for p in list(target_fn.parameters()) + list(target_fn.buffers()):
            if p.is_floating_point():
                return p.dtype
    return torch.float32


@contextlib.contextmanager
def eval_mode(target_fn):
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


def checked_forward(target_fn, flux: torch.Tensor) -> torch.Tensor:
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


def path_gradients_shared(target_fn, x, b, cols, n_steps, method, chunk) -> torch.Tensor:
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
        out = checked_forward(target_fn, pts)
        for j, c in enumerate(cols):
            (g,) = torch.autograd.grad(out[:, c].sum(), pts, retain_graph=j < len(cols) - 1)
            total[j].index_add_(0, k_base, g.to(torch.float64) * sizes[i_step, None])
    return total


def path_attr_captum(target_fn, x, b, cols, n_steps, method, chunk) -> torch.Tensor:
    """Per-baseline attributions (len(cols), K, P) from captum's IntegratedGradients."""
    ig = IntegratedGradients(lambda inp: checked_forward(target_fn, inp))
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


def paths_to_refine(err_k: np.ndarray, budget: float) -> list[int]:
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
