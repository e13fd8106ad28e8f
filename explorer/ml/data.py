"""Model inputs and targets taken from a catalog table, and the standardizing scaler.

Feature sets (columns in this order):

``spectrum``
    the S latents, z, log10(spec_norm / 1e-17 erg/s/cm^2/A), the aperture corrections
    mag_b_total - mag_b_fiber and the total magnitudes mag_b_total for b in ugriz. The latents
    describe the *normalized* fiber spectrum, so they carry no amplitude; spec_norm gives the
    fiber flux level and the aperture corrections scale it to the whole galaxy that WISE sees.
    The total magnitudes are the most precise amplitude measurement there is (on a 3,000-galaxy
    simulated catalog, adding them to z, spec_norm and the aperture corrections halved the
    W1 scatter of a photometry-level predictor); with them our inputs contain those of the
    photometry-only baseline, so any gain over it is the spectrum's.
``spectrum_ap``
    as ``spectrum`` without the total magnitudes (the inputs named in the issue).
``paper``
    the S latents, z and log10(spec_norm): the 8 inputs of the paper's demo MLP (see
    :mod:`explorer.ml.baselines`).
``photometry``
    ugriz total magnitudes and z (the optical-photometry-only baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import N_PIX, WISE_BANDS
from ..errors import ModelError

OPTICAL_BANDS = "ugriz"

#: Magnitude error of a source at signal-to-noise 2 (2.5/ln10/2): the noise assigned to a band
#: whose catalog value is a 95% (about 2-sigma) upper limit, in the censored likelihood.
UL_SIGMA_MAG = 2.5 / np.log(10.0) / 2.0


def feature_names(kind: str, n_latent: int = 6) -> list[str]:
    """Column names of a feature set (``spectrum``, ``spectrum_ap``, ``paper`` or ``photometry``)."""
    lat = [f"latent_{i}" for i in range(n_latent)]
    ap = [f"ap_corr_{b}_mag" for b in OPTICAL_BANDS]
    if kind == "spectrum":
        return lat + ["z", "log10_spec_norm"] + ap + [f"mag_{b}_total" for b in OPTICAL_BANDS]
    if kind == "spectrum_ap":
        return lat + ["z", "log10_spec_norm"] + ap
    if kind == "paper":
        return lat + ["z", "log10_spec_norm"]
    if kind == "photometry":
        return [f"mag_{b}_total" for b in OPTICAL_BANDS] + ["z"]
    raise ModelError(f"unknown feature set {kind!r} (spectrum, spectrum_ap, paper, photometry)")


def _col(table: dict, name: str, idx, n: int) -> np.ndarray:
    if name not in table:
        return np.full(n, np.nan)
    return np.asarray(table[name], dtype=float)[idx]


def build_features(kind: str, table: dict, idx, latents: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix (N, D) for rows ``idx`` of a catalog table.

    Missing inputs (absent columns, NaN photometry) stay NaN here; :class:`Scaler` replaces
    them with the training mean (0 after standardization).

    Parameters
    ----------
    kind : {"spectrum", "spectrum_ap", "paper", "photometry"}
    table : dict of column -> array
        ``Catalog.table``.
    idx : array of int
        Row indices.
    latents : ndarray (N, S), optional
        Latents of those rows (required for ``spectrum`` and ``paper``).
    """
    idx = np.asarray(idx, dtype=int)
    n = len(idx)
    z = _col(table, "z", idx, n)
    if kind in ("spectrum", "spectrum_ap", "paper"):
        if latents is None or len(latents) != n:
            raise ModelError(
                f"feature set {kind!r} needs latents for {n} rows, got {None if latents is None else len(latents)}"
            )
        norm = _col(table, "spec_norm", idx, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_norm = np.where(norm > 0, np.log10(norm), np.nan)
        cols = [np.asarray(latents, dtype=float), z[:, None], log_norm[:, None]]
        if kind in ("spectrum", "spectrum_ap"):
            ap = [
                _col(table, f"mag_{b}_total", idx, n) - _col(table, f"mag_{b}_fiber", idx, n)
                for b in OPTICAL_BANDS
            ]
            cols.append(np.stack(ap, axis=1))
        if kind == "spectrum":
            cols.append(np.stack([_col(table, f"mag_{b}_total", idx, n) for b in OPTICAL_BANDS], axis=1))
        return np.concatenate(cols, axis=1).astype(np.float32)
    if kind == "photometry":
        mags = [_col(table, f"mag_{b}_total", idx, n) for b in OPTICAL_BANDS]
        return np.stack(mags + [z], axis=1).astype(np.float32)
    raise ModelError(f"unknown feature set {kind!r} (spectrum, spectrum_ap, paper, photometry)")


@dataclass
class WiseTargets:
    """WISE magnitudes of a set of rows.

    Attributes
    ----------
    mag : (N, 4) Vega magnitude, or the 95% upper limit where ``is_ul``.
    sigma : (N, 4) catalog error in mag (NaN for upper limits).
    is_ul : (N, 4) bool, the value is an upper limit (source fainter than ``mag``).
    """

    mag: np.ndarray
    sigma: np.ndarray
    is_ul: np.ndarray

    @property
    def detected(self) -> np.ndarray:
        """(N, 4) bool: a finite magnitude with a finite positive error, not an upper limit."""
        return ~self.is_ul & np.isfinite(self.mag) & np.isfinite(self.sigma) & (self.sigma > 0)

    @property
    def censored(self) -> np.ndarray:
        """(N, 4) bool: an upper limit with a finite limiting magnitude."""
        return self.is_ul & np.isfinite(self.mag)

    def __len__(self) -> int:
        return len(self.mag)


def wise_targets(table: dict, idx) -> WiseTargets:
    """Read W1-W4 magnitudes, errors and upper-limit flags for rows ``idx``."""
    idx = np.asarray(idx, dtype=int)
    mag = np.stack([np.asarray(table[f"{w.lower()}_mag_vega"], float)[idx] for w in WISE_BANDS], 1)
    sig = np.stack([np.asarray(table[f"{w.lower()}_sigma_mag"], float)[idx] for w in WISE_BANDS], 1)
    ul = np.stack([np.asarray(table[f"{w.lower()}_is_ul"]).astype(bool)[idx] for w in WISE_BANDS], 1)
    return WiseTargets(mag=mag, sigma=sig, is_ul=ul)


class Scaler:
    """Standardize columns with training mean and std; NaN -> 0 (the training mean).

    Parameters
    ----------
    mean, std : ndarray (D,)
    names : list of str, optional
        Column names, stored with the model so inputs can be checked.
    """

    def __init__(self, mean, std, names=None):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.names = list(names) if names is not None else None

    @classmethod
    def fit(cls, x: np.ndarray, names=None) -> Scaler:
        x = np.asarray(x, dtype=float)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
            std = np.nanstd(np.where(np.isfinite(x), x, np.nan), axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        return cls(mean, std, names)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.mean.size:
            raise ModelError(f"expected inputs of shape (N, {self.mean.size}), got {x.shape}")
        out = (x - self.mean) / self.std
        return np.where(np.isfinite(out), out, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "names": self.names}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(d["mean"], d["std"], d.get("names"))


def load_spectra(cat, idx, progress: bool, chunk: int = 2048):
    """Read a catalog's spectra in chunks into float32 tensors (N, 3921); NaNs -> 0 with weight 0.

    Parameters
    ----------
    cat : explorer.catalog.Catalog
    idx : array of int
        Rows to read.
    progress : bool
        tqdm bar over the chunks (when there is more than one).

    Returns
    -------
    flux, weight : Tensor (N, 3921)
    """
    import torch
    from tqdm.auto import tqdm

    n = len(idx)
    flux = torch.empty((n, N_PIX), dtype=torch.float32)
    weight = torch.empty((n, N_PIX), dtype=torch.float32)
    for s in tqdm(range(0, n, chunk), desc="read spectra", disable=not progress or n <= chunk):
        f, w = cat.spectra(idx[s : s + chunk])
        bad = ~np.isfinite(f) | ~np.isfinite(w) | (w < 0)
        f[bad] = 0.0
        w[bad] = 0.0
        flux[s : s + chunk] = torch.from_numpy(f)
        weight[s : s + chunk] = torch.from_numpy(w)
    return flux, weight
