"""Out-of-domain scoring: is a galaxy like the ones the model was trained on?

A model's predictions are trustworthy only inside the region of input space its training set
covers. Four checks, each against numbers stored with the model (``domain.json`` in the model
directory, written by ``train-predictor`` or computed once from the training catalog):

- **redshift** outside [min, max] of the training split;
- **latents** far from the training latents: squared Mahalanobis distance
  d^2 = (x - mu)^T C^-1 (x - mu) above the chi^2 quantile with S degrees of freedom at
  ``p = 0.999`` (for Gaussian latents, 0.1% of training galaxies would exceed it);
- **normalization** log10(spec_norm) outside the training split's 0.1-99.9 percentile range;
- **magnitudes** (ugriz total, when the model uses them and the galaxy has them) outside the
  training split's 0.1-99.9 percentile range.

:func:`score_domain` returns per-galaxy flags and a reason string naming every check failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError

__all__ = ["DomainReference", "DomainScores", "score_domain", "DOMAIN_FILE", "load_domain", "save_domain"]

DOMAIN_FILE = "domain.json"
#: tail probability of the Mahalanobis threshold
LATENT_P = 0.999
#: percentiles of the training split that bound normalization and magnitudes
RANGE_PERCENTILES = (0.1, 99.9)
OPTICAL_BANDS = "ugriz"


@dataclass
class DomainReference:
    """Training-set summary used by :func:`score_domain`.

    Attributes
    ----------
    z_range : (lo, hi)
    log_norm_range : (lo, hi), log10 of spec_norm [1e-17 erg/s/cm^2/A]
    mag_ranges : dict band -> (lo, hi) of ugriz total AB magnitudes (may be empty)
    latent_mean : (S,)
    latent_cov : (S, S)
    d2_threshold : float, chi^2_S quantile at ``latent_p``
    n_train : int
    source : str, where it was computed from
    """

    z_range: tuple
    log_norm_range: tuple
    latent_mean: np.ndarray
    latent_cov: np.ndarray
    d2_threshold: float
    n_train: int
    latent_p: float = LATENT_P
    mag_ranges: dict = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_training(cls, table: dict, idx, latents: np.ndarray, source: str = "") -> DomainReference:
        """Summarize training rows ``idx`` of a catalog table and their latents (len(idx), S)."""
        from scipy.stats import chi2

        idx = np.asarray(idx, dtype=int)
        lat = np.asarray(latents, dtype=float)
        lat = lat[np.all(np.isfinite(lat), axis=1)]
        if len(lat) <= lat.shape[1]:
            raise ModelError(
                f"need more than {lat.shape[1]} training latents for a covariance, got {len(lat)}"
            )
        z = np.asarray(table["z"], float)[idx]
        z = z[np.isfinite(z)]
        with np.errstate(divide="ignore", invalid="ignore"):
            ln = np.log10(np.asarray(table["spec_norm"], float)[idx])
        ln = ln[np.isfinite(ln)]
        lo, hi = RANGE_PERCENTILES
        mags = {}
        for b in OPTICAL_BANDS:
            col = f"mag_{b}_total"
            if col in table:
                m = np.asarray(table[col], float)[idx]
                m = m[np.isfinite(m)]
                if m.size:
                    mags[b] = (float(np.percentile(m, lo)), float(np.percentile(m, hi)))
        s = lat.shape[1]
        return cls(
            z_range=(float(z.min()), float(z.max())),
            log_norm_range=(float(np.percentile(ln, lo)), float(np.percentile(ln, hi))),
            latent_mean=lat.mean(axis=0),
            latent_cov=np.cov(lat, rowvar=False).reshape(s, s),
            d2_threshold=float(chi2.ppf(LATENT_P, s)),
            n_train=int(len(lat)),
            mag_ranges=mags,
            source=source,
        )

    def to_dict(self) -> dict:
        return {
            "z_range": list(self.z_range),
            "log_norm_range": list(self.log_norm_range),
            "mag_ranges": {k: list(v) for k, v in self.mag_ranges.items()},
            "latent_mean": self.latent_mean.tolist(),
            "latent_cov": self.latent_cov.tolist(),
            "latent_p": self.latent_p,
            "d2_threshold": self.d2_threshold,
            "n_train": self.n_train,
            "source": self.source,
            "percentiles": list(RANGE_PERCENTILES),
        }

    @classmethod
    def from_dict(cls, d: dict) -> DomainReference:
        return cls(
            z_range=tuple(d["z_range"]),
            log_norm_range=tuple(d["log_norm_range"]),
            latent_mean=np.asarray(d["latent_mean"], float),
            latent_cov=np.asarray(d["latent_cov"], float),
            d2_threshold=float(d["d2_threshold"]),
            n_train=int(d["n_train"]),
            latent_p=float(d.get("latent_p", LATENT_P)),
            mag_ranges={k: tuple(v) for k, v in d.get("mag_ranges", {}).items()},
            source=str(d.get("source", "")),
        )


@dataclass
class DomainScores:
    """Per-galaxy out-of-domain flags (arrays of length N) and reasons."""

    ood: np.ndarray
    ood_z: np.ndarray
    ood_latent: np.ndarray
    ood_norm: np.ndarray
    ood_mag: np.ndarray
    mahalanobis_d2: np.ndarray
    reason: np.ndarray

    def columns(self) -> dict:
        return {
            "ood": self.ood,
            "ood_z": self.ood_z,
            "ood_latent": self.ood_latent,
            "ood_norm": self.ood_norm,
            "ood_mag": self.ood_mag,
            "latent_mahalanobis_d2": self.mahalanobis_d2,
            "ood_reason": self.reason,
        }


def score_domain(ref: DomainReference, z, spec_norm, latents, mag_total=None) -> DomainScores:
    """Flag galaxies outside the training domain.

    Parameters
    ----------
    ref : DomainReference
    z, spec_norm : (N,)
    latents : (N, S)
    mag_total : (N, 5) ugriz total AB magnitudes, optional (NaN = not checked)
    """
    z = np.atleast_1d(np.asarray(z, float))
    n = z.size
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.log10(np.atleast_1d(np.asarray(spec_norm, float)))
    lat = np.atleast_2d(np.asarray(latents, float))
    if lat.shape[1] != ref.latent_mean.size:
        raise ModelError(
            f"latents have {lat.shape[1]} dimensions, the domain reference {ref.latent_mean.size}"
        )
    diff = lat - ref.latent_mean
    prec = np.linalg.pinv(ref.latent_cov)
    d2 = np.einsum("ni,ij,nj->n", diff, prec, diff)
    reasons: list[list[str]] = [[] for _ in range(n)]
    zlo, zhi = ref.z_range
    ood_z = ~np.isfinite(z) | (z < zlo) | (z > zhi)
    for i in np.flatnonzero(ood_z):
        reasons[i].append(f"z={z[i]:.4g} outside training range [{zlo:.3g}, {zhi:.3g}]")
    ood_lat = ~np.isfinite(d2) | (d2 > ref.d2_threshold)
    for i in np.flatnonzero(ood_lat):
        reasons[i].append(
            f"latents far from training set (Mahalanobis d^2={d2[i]:.3g} > {ref.d2_threshold:.3g}, p={1 - ref.latent_p:g})"
        )
    nlo, nhi = ref.log_norm_range
    ood_norm = ~np.isfinite(ln) | (ln < nlo) | (ln > nhi)
    for i in np.flatnonzero(ood_norm):
        reasons[i].append(f"log10 spec_norm={ln[i]:.3g} outside training range [{nlo:.3g}, {nhi:.3g}]")
    ood_mag = np.zeros(n, bool)
    if mag_total is not None and ref.mag_ranges:
        m = np.atleast_2d(np.asarray(mag_total, float))
        for k, b in enumerate(OPTICAL_BANDS):
            if b not in ref.mag_ranges:
                continue
            lo, hi = ref.mag_ranges[b]
            bad = np.isfinite(m[:, k]) & ((m[:, k] < lo) | (m[:, k] > hi))
            ood_mag |= bad
            for i in np.flatnonzero(bad):
                reasons[i].append(f"{b} mag={m[i, k]:.3g} outside training range [{lo:.3g}, {hi:.3g}]")
    ood = ood_z | ood_lat | ood_norm | ood_mag
    return DomainScores(
        ood=ood,
        ood_z=ood_z,
        ood_latent=ood_lat,
        ood_norm=ood_norm,
        ood_mag=ood_mag,
        mahalanobis_d2=d2,
        reason=np.array(["; ".join(r) for r in reasons], dtype=object).astype(str),
    )


def save_domain(model_dir, ref: DomainReference) -> Path:
    """Write ``domain.json`` into a model directory and register it in the manifest."""
    from ..jsonutil import json_default
    from .registry import register_file

    d = Path(model_dir)
    path = d / DOMAIN_FILE
    tmp = d / (DOMAIN_FILE + ".partial")
    tmp.write_text(json.dumps(ref.to_dict(), indent=1, default=json_default))
    tmp.replace(path)
    register_file(d, DOMAIN_FILE)
    return path


def load_domain(model_dir) -> DomainReference | None:
    """The model directory's domain reference, or None if it has none."""
    path = Path(model_dir) / DOMAIN_FILE
    if not path.is_file():
        return None
    try:
        return DomainReference.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path} is not a valid domain reference: {exc}") from None


def domain_reference(bundle, train_catalog=None, *, max_rows: int = 20000, save: bool = True, seed: int = 0):
    """Load the bundle's domain reference, or compute it from the training catalog (and save it).

    Parameters
    ----------
    bundle : ModelBundle
    train_catalog : path or Catalog, optional
        Default: the catalog recorded in the model's manifest.
    max_rows : int
        Encode at most this many (random) training rows for the latent mean/covariance.
    """
    from ..catalog import Catalog

    ref = load_domain(bundle.path)
    if ref is not None:
        return ref
    if train_catalog is None:
        train_catalog = (bundle.manifest.get("catalog") or {}).get("path")
        if train_catalog is None or not Path(train_catalog).is_file():
            from ..paths import REPO_ROOT

            alt = REPO_ROOT / str(train_catalog) if train_catalog else None
            if alt is None or not alt.is_file():
                raise ModelError(
                    f"{bundle.path} has no {DOMAIN_FILE} and its training catalog {train_catalog!r} is not "
                    "here: give the training catalog (--train-catalog) to compute the domain reference"
                )
            train_catalog = alt
    cat = train_catalog if isinstance(train_catalog, Catalog) else Catalog(train_catalog)
    idx = cat.split_indices("train")
    which = "train split"
    if len(idx) == 0:  # e.g. the demo catalog (test galaxies of the 50k run): all good rows
        idx, which = np.flatnonzero(cat.good), "all good rows (no train split)"
    if len(idx) > max_rows:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_rows, replace=False))
    lat = bundle.catalog_latents(cat, idx)
    ref = DomainReference.from_training(cat.table, idx, lat, source=f"{cat.path} ({which}, {len(idx)} rows)")
    if save:
        save_domain(bundle.path, ref)
    return ref


def score_row(ref: DomainReference, row: dict, latents) -> DomainScores:
    """:func:`score_domain` of one galaxy given as a catalog-like row (``z``, ``spec_norm``,
    ``mag_<b>_total``; a missing value is NaN) and its latents (S,)."""
    mags = np.array([[float(row.get(f"mag_{b}_total", np.nan)) for b in OPTICAL_BANDS]])
    z, norm = float(row.get("z", np.nan)), float(row.get("spec_norm", np.nan))
    return score_domain(ref, [z], [norm], np.asarray(latents, float)[None], mags)


def spectrum_domain_reason(bundle, spectrum, row: dict | None = None) -> str | None:
    """Why one spectrum lies outside ``bundle``'s training domain (None: inside, or the model
    has no ``domain.json``); what an attribution figure of it says in its caption."""
    ref = load_domain(bundle.path)
    if ref is None or bundle.encoder is None:
        return None
    row = {"z": spectrum.z, "spec_norm": spectrum.norm, **(row or {})}
    s = score_row(ref, row, bundle.encode(np.asarray(spectrum.flux, np.float32)[None])[0])
    return str(s.reason[0]) if bool(s.ood[0]) else None
