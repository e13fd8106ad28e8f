"""Reference spectra used as integrated-gradient baselines.

An all-zero spectrum is not a meaningful reference for a normalized galaxy spectrum (no galaxy
looks like that, and the path from zero to the galaxy crosses spectra the model never saw).
We follow the "expected gradients" idea (Erion et al. 2021, Nature Machine Intelligence 3, 620):
average integrated gradients (Sundararajan, Taly & Yan 2017, ICML) over K reference spectra
drawn from the data distribution, here *typical galaxies placed at the target galaxy's
redshift* and normalized the way spender normalizes every spectrum (median flux in rest frame
5300-5850 A, Melchior et al. 2023). The attribution then answers: "which pixels make this
galaxy's prediction differ from that of a typical galaxy at the same redshift?".

Pixels where a reference is undefined (outside its wavelength coverage, or masked) are NaN
in the returned baselines; the engine holds those pixels at the target galaxy's own value, so
they get exactly zero attribution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.ndimage import median_filter

from ..catalog import GalaxySpectrum
from ..constants import LOGLAM_GRID, LOGLAM_START, LOGLAM_STEP, N_PIX, NORM_WINDOW_REST_AA, WAVE_OBS_VAC_AA
from ..errors import AttributionError

#: Default number of reference spectra per galaxy (measured cost: see benchmarks/attribution_bench.py).
DEFAULT_N_BASELINES = 8
#: Default seed for the choice of reference spectra (reproducible attributions and cache keys).
DEFAULT_SEED = 0


def normalize_like_spender(flux_obs: np.ndarray, z: float) -> np.ndarray:
    """Divide spectra by their median flux in rest frame 5300-5850 A (spender's normalization).

    Parameters
    ----------
    flux_obs : ndarray, shape (M, 3921) or (3921,)
        Flux on the observed grid :data:`explorer.constants.WAVE_OBS_VAC_AA`; NaN = undefined.
    z : float
        Redshift the spectra are placed at.

    Returns
    -------
    ndarray, same shape, dimensionless. Spectra whose window median is not positive and finite
    are returned as all-NaN rows (unusable references).
    """
    arr = np.array(flux_obs, dtype=float, copy=True)
    one = arr.ndim == 1
    arr = np.atleast_2d(arr)
    wave_rest_aa = WAVE_OBS_VAC_AA / (1.0 + z)
    win = (wave_rest_aa >= NORM_WINDOW_REST_AA[0]) & (wave_rest_aa <= NORM_WINDOW_REST_AA[1])
    with np.errstate(all="ignore"):
        sub = arr[:, win]
        has = np.isfinite(sub).any(axis=1)
        med = np.full(arr.shape[0], np.nan)
        if has.any():
            med[has] = np.nanmedian(sub[has], axis=1)
    ok = np.isfinite(med) & (med > 0)
    arr[~ok] = np.nan
    arr[ok] /= med[ok, None]
    return arr[0] if one else arr


def _shift_observed(spectra: np.ndarray, z_ref: np.ndarray, z: float) -> np.ndarray:
    """Move observed-grid spectra from their redshifts ``z_ref`` to redshift ``z``.

    A pixel at observed wavelength lam (target frame) has rest wavelength lam / (1 + z); in the
    reference's observed frame that is lam * (1 + z_ref) / (1 + z). Flux is interpolated
    linearly in log-wavelength; the (1+z) flux-density factors cancel after normalization.
    """
    out = np.full_like(spectra, np.nan, dtype=float)
    for m in range(spectra.shape[0]):
        loglam_ref = LOGLAM_GRID + np.log10((1.0 + z_ref[m]) / (1.0 + z))
        pos = (loglam_ref - LOGLAM_START) / LOGLAM_STEP
        lo = np.floor(pos).astype(np.int64)
        t = pos - lo
        inside = (lo >= 0) & (lo < N_PIX - 1)
        lo_c = np.clip(lo, 0, N_PIX - 2)
        row = spectra[m]
        val = (1 - t) * row[lo_c] + t * row[lo_c + 1]  # NaN neighbours propagate
        out[m] = np.where(inside, val, np.nan)
    return out


def reference_baselines(
    spectra_or_fn: np.ndarray | torch.Tensor | Callable[[float], np.ndarray | torch.Tensor],
    z: float,
    k: int = DEFAULT_N_BASELINES,
    rng: np.random.Generator | int | None = None,
    *,
    z_ref: np.ndarray | None = None,
    wave_rest_aa: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    normalize: bool = True,
) -> torch.Tensor:
    """K reference spectra at redshift ``z`` on the observed grid, for use as IG baselines.

    Parameters
    ----------
    spectra_or_fn : array (M, L) or callable
        Either reference spectra, or a callable ``fn(z) -> (M, 3921)`` that returns reference
        spectra already placed at redshift ``z`` on the observed grid (for example decoder
        reconstructions of M typical training galaxies redshifted to ``z``). An array is
        interpreted as

        - rest-frame spectra on ``wave_rest_aa`` (Angstrom, vacuum) if that is given;
        - observed-frame spectra on the 3921-pixel grid at redshifts ``z_ref`` if given;
        - otherwise spectra already at ``z`` on the observed grid.
    z : float
        Redshift of the galaxy being attributed.
    k : int
        Number of references to draw (without replacement); all M if M <= k.
    rng : numpy Generator, int seed or None
        Draw of the k references; None means seed :data:`DEFAULT_SEED` (reproducible).
    z_ref : array (M,), optional
        Redshifts of observed-frame reference spectra.
    wave_rest_aa : array (L,), optional
        Rest-frame vacuum wavelength grid of rest-frame reference spectra, increasing.
    weight : array like the spectra, optional
        Inverse variances; pixels with weight 0 are undefined (NaN) before any resampling.
    normalize : bool
        Renormalize each reference at ``z`` like spender (median in rest 5300-5850 A), so it
        is comparable with the normalized galaxy flux.

    Returns
    -------
    Tensor, shape (k', 3921), float32
        k' = min(k, number of usable references); NaN where a reference is undefined.

    Raises
    ------
    AttributionError
        Wrong shapes, or no usable reference spectrum.
    """
    if k < 1:
        raise AttributionError(f"reference_baselines: k must be >= 1, got {k}")
    source = "callable" if callable(spectra_or_fn) else "array"
    arr = _reference_array(spectra_or_fn, z, weight, source)
    arr = _place_at_redshift(arr, z, z_ref, wave_rest_aa, source)
    if normalize:
        arr = normalize_like_spender(arr, z)
    usable = np.isfinite(arr).sum(axis=1) > N_PIX // 2
    arr = arr[usable]
    if arr.shape[0] == 0:
        raise AttributionError(
            f"reference_baselines: none of the {usable.size} reference spectra ({source}) is usable at z={z:.4f}"
            " (each needs finite flux on more than half of the grid and a positive normalization)"
        )
    if arr.shape[0] > k:
        gen = (
            rng
            if isinstance(rng, np.random.Generator)
            else np.random.default_rng(DEFAULT_SEED if rng is None else rng)
        )
        arr = arr[np.sort(gen.choice(arr.shape[0], size=k, replace=False))]
    return torch.as_tensor(arr, dtype=torch.float32)


def _reference_array(spectra_or_fn, z: float, weight, source: str) -> np.ndarray:
    """The reference spectra as a float (M, L) copy, NaN where ``weight`` <= 0."""
    raw = spectra_or_fn(float(z)) if callable(spectra_or_fn) else spectra_or_fn
    if isinstance(raw, torch.Tensor):
        raw = raw.detach().cpu().numpy()
    arr = np.array(raw, dtype=float, copy=True)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise AttributionError(f"reference spectra ({source}) must be 2-D (M, n_pix), got shape {arr.shape}")
    if weight is not None:
        w = np.atleast_2d(np.asarray(weight, dtype=float))
        if w.shape != arr.shape:
            raise AttributionError(
                f"reference weights shape {w.shape} differs from spectra shape {arr.shape}"
            )
        arr[w <= 0] = np.nan
    return arr


def _place_at_redshift(arr: np.ndarray, z: float, z_ref, wave_rest_aa, source: str) -> np.ndarray:
    """(M, 3921) spectra on the observed grid at redshift ``z``: rest-frame spectra on
    ``wave_rest_aa`` are interpolated, observed-frame ones at ``z_ref`` shifted, others kept."""
    if wave_rest_aa is not None:
        wave = np.asarray(wave_rest_aa, dtype=float)
        if wave.shape != (arr.shape[1],):
            raise AttributionError(
                f"wave_rest_aa has shape {wave.shape}, rest-frame references have {arr.shape[1]} pixels"
            )
        target_rest = WAVE_OBS_VAC_AA / (1.0 + z)
        out = np.empty((arr.shape[0], N_PIX))
        for m in range(arr.shape[0]):
            out[m] = np.interp(target_rest, wave, arr[m], left=np.nan, right=np.nan)
        return out
    if arr.shape[1] != N_PIX:
        raise AttributionError(
            f"reference spectra ({source}) have {arr.shape[1]} pixels; the observed grid has {N_PIX}"
            " (pass wave_rest_aa for rest-frame spectra)"
        )
    if z_ref is not None:
        zr = np.broadcast_to(np.asarray(z_ref, dtype=float), (arr.shape[0],))
        return _shift_observed(arr, zr, z)
    return arr


def smooth_baseline(spectrum: GalaxySpectrum, width_pix: int = 101) -> torch.Tensor:
    """The galaxy itself with its narrow features smoothed away: a running median of the flux.

    With the default 101 pixels (about 7000 km/s, 150 A at 6500 A) emission and absorption
    lines are removed while the continuum shape is kept, so an attribution against this
    baseline measures what the *line features* add on top of the continuum. Used by the
    engine only when neither ``baselines`` nor ``target_fn.reference_baselines`` is given.

    Returns
    -------
    Tensor, shape (1, 3921), float32; NaN where the galaxy is masked.
    """
    flux = np.asarray(spectrum.flux, dtype=float)
    good = (np.asarray(spectrum.weight) > 0) & np.isfinite(flux)
    if good.sum() < 2:
        raise AttributionError(f"galaxy {spectrum.id}: fewer than 2 good pixels, no smooth baseline")
    idx = np.arange(N_PIX)
    filled = np.interp(idx, idx[good], flux[good])
    smooth = median_filter(filled, size=int(width_pix) | 1, mode="nearest")
    smooth[~good] = np.nan
    return torch.as_tensor(smooth[None], dtype=torch.float32)
