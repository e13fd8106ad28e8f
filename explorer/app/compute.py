"""Numbers behind the panels: per-galaxy predictions, SED arrays, sample summaries.

Pure functions (no widget, no figure): the panels, the export figures and the tests all call
them. Models come from :func:`explorer.ml.registry.load_models`; every function also works
without models (``bundle=None``) and then returns observed quantities only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import N_PIX, SDSS_BANDS, WISE_BANDS, WISE_WAVE_UM

#: Quantiles drawn in the SED panel: 95% and 68% central intervals and the median.
SED_QUANTILES = (0.025, 0.16, 0.5, 0.84, 0.975)
#: Posterior draws drawn as thin lines.
N_DRAWS = 30


# --- one galaxy ---------------------------------------------------------------------------------
def row_mags(row: dict, kind: str) -> np.ndarray:
    """ugriz ``kind`` ("total" or "fiber") AB magnitudes of a row, NaN where missing: (5,)."""
    return np.array([float(row.get(f"mag_{b}_{kind}", np.nan)) for b in SDSS_BANDS], float)


def row_wise(row: dict) -> dict[str, np.ndarray]:
    """Observed WISE values of a row: mag_vega, sigma_mag (NaN for upper limits), flux_mjy,
    err_mjy, is_ul (all (4,)); NaN where the row has no WISE photometry."""
    get = lambda key: np.array([float(row.get(f"{b.lower()}_{key}", np.nan)) for b in WISE_BANDS])  # noqa: E731
    return {
        "mag_vega": get("mag_vega"),
        "sigma_mag": get("sigma_mag"),
        "flux_mjy": get("flux_mjy"),
        "err_mjy": get("flux_err_mjy"),
        "is_ul": np.array([bool(row.get(f"{b.lower()}_is_ul", False)) for b in WISE_BANDS]),
    }


@dataclass
class Prediction:
    """What the models say about one galaxy for one latent vector.

    Attributes
    ----------
    latents : ndarray (S,)
    posterior : IRPosterior
        Predictive distribution of the TRUE W1-W4 magnitudes (one galaxy).
    observed : IRPosterior or None
        Same, for a measurement with the row's catalog errors (used for chi).
    properties : PropertyPosterior or None
        q_PAH, P(AGN), L_bol,AGN, SFR (when the model directory has property heads).
    decoded_flux : ndarray (3921,) or None
        The decoder's spectrum for ``latents`` at the galaxy's redshift (normalized units).
    """

    latents: np.ndarray
    posterior: object
    observed: object = None
    properties: object = None
    decoded_flux: np.ndarray | None = None


def encode_spectrum(bundle, flux: np.ndarray) -> np.ndarray:
    """Latents (S,) of one normalized spectrum."""
    return np.asarray(bundle.encode(np.asarray(flux, np.float32)[None])[0], dtype=np.float64)


def predict_galaxy(bundle, row: dict, latents: np.ndarray, decode: bool = True) -> Prediction:
    """IR posterior, properties and decoded spectrum of one galaxy for given latents.

    Parameters
    ----------
    bundle : ModelBundle
    row : dict
        Catalog-like row (``z``, ``spec_norm``, ugriz ``mag_*_total/fiber``, WISE columns).
    latents : ndarray (S,)
    decode : bool
        Also decode the latents into a spectrum at the row's redshift.
    """
    lat = np.asarray(latents, dtype=np.float32)[None]
    kw = dict(
        latents=lat,
        z=[float(row["z"])],
        spec_norm=[float(row["spec_norm"])],
        mag_total=row_mags(row, "total")[None],
        mag_fiber=row_mags(row, "fiber")[None],
    )
    post = bundle.predict(**kw)
    sig = row_wise(row)["sigma_mag"]
    observed = post.observed(sig[None]) if np.isfinite(sig).any() else None
    props = bundle.predict_properties(**kw) if bundle.properties is not None else None
    decoded = None
    if decode and bundle.encoder is not None:
        from ..ml.decode import decode_latents

        decoded = decode_latents(bundle.encoder, lat[0], float(row["z"]))
    return Prediction(
        latents=np.asarray(latents, dtype=np.float64).copy(),
        posterior=post,
        observed=observed,
        properties=props,
        decoded_flux=decoded,
    )


def band_chi(mag_obs: np.ndarray, sigma_obs: np.ndarray, is_ul: np.ndarray, posterior) -> np.ndarray:
    """Per-band chi of observed magnitudes against a predictive distribution, (N, 4).

    ``chi = (m_obs - E[m]) / sqrt(Var_pred[m] + sigma_obs^2)``: positive when the galaxy is
    FAINTER than predicted. NaN for upper limits and missing bands.
    """
    mag_obs, sigma_obs = np.atleast_2d(mag_obs), np.atleast_2d(sigma_obs)
    var = np.diagonal(posterior.cov_mag, axis1=1, axis2=2) + np.nan_to_num(sigma_obs, nan=0.0) ** 2
    chi = (mag_obs - posterior.mean_mag) / np.sqrt(var)
    return np.where(np.atleast_2d(is_ul) | ~np.isfinite(mag_obs), np.nan, chi)


def sed_data(
    row: dict, prediction: Prediction | None, n_draws: int = N_DRAWS, seed: int = 0, sedfit=None
) -> dict:
    """Everything the SED panel and :func:`explorer.app.figures.plot_sed` draw.

    Parameters
    ----------
    row : dict
        Catalog-like row with WISE columns (and ``truth_w*_flux_mjy`` for simulated galaxies).
    prediction : Prediction or None
    n_draws : int
        Posterior draws (the same random numbers for every call with the same ``seed``, so
        draws move smoothly when a latent slider moves).

    Returns
    -------
    dict with ``id``, ``z``, ``wave_um`` (4,), observed ``flux_mjy``, ``err_mjy``, ``is_ul``,
    ``mag_vega``, ``sigma_mag``, ``truth_mjy`` (NaN if unknown); with a prediction also
    ``q_mjy`` (5, 4) at :data:`SED_QUANTILES`, ``draws_mjy`` (n_draws, 4), ``pred_mag``,
    ``pred_sigma_mag`` (4,) and ``chi`` (4,) (NaN for upper limits); with ``sedfit`` (a
    :class:`~explorer.sedfit.table.SedFitDraws`) ``has_sedfit`` and the same keys prefixed
    ``sed_`` (:func:`sedfit_overlay`).
    """
    obs = row_wise(row)
    out = {
        "id": str(row.get("id", "")),
        "z": float(row.get("z", np.nan)),
        "wave_um": np.asarray(WISE_WAVE_UM, float),
        **obs,
        "truth_mjy": np.array([float(row.get(f"truth_w{k}_flux_mjy", np.nan)) for k in range(1, 5)]),
        "has_prediction": prediction is not None and prediction.posterior is not None,
        "has_sedfit": sedfit is not None,
    }
    if sedfit is not None:
        out.update(sedfit_overlay(sedfit, obs, n_draws))
    if not out["has_prediction"]:
        return out
    post = prediction.posterior
    out["q_mjy"] = post.quantiles_mjy(SED_QUANTILES)[0]
    out["draws_mjy"] = post.sample_mjy(n_draws, np.random.default_rng(seed))[0]
    out["pred_mag"] = post.mean_mag[0]
    out["pred_sigma_mag"] = post.sigma_mag[0]
    ref = prediction.observed if prediction.observed is not None else post
    out["chi"] = band_chi(obs["mag_vega"], obs["sigma_mag"], obs["is_ul"], ref)[0]
    return out


def sedfit_overlay(sedfit, obs: dict, n_draws: int = N_DRAWS) -> dict:
    """The SED fit's posterior for the SED panel: ``sed_q_mjy`` (5, 4) at :data:`SED_QUANTILES`,
    ``sed_draws_mjy`` (n_draws, 4), ``sed_pred_mag``, ``sed_sigma_mag`` and ``sed_chi`` (4,),
    chi defined as for our prediction (:func:`band_chi`)."""
    mjy = np.asarray(sedfit.wise_mjy_draws, float)
    mag = np.asarray(sedfit.wise_mag_draws, float)
    mean, sd = mag.mean(axis=0), mag.std(axis=0, ddof=1)
    var = sd**2 + np.nan_to_num(np.asarray(obs["sigma_mag"], float), nan=0.0) ** 2
    chi = (np.asarray(obs["mag_vega"], float) - mean) / np.sqrt(var)
    return {
        "sed_q_mjy": np.quantile(mjy, SED_QUANTILES, axis=0),
        "sed_draws_mjy": mjy[: min(n_draws, len(mjy))],
        "sed_pred_mag": mean,
        "sed_sigma_mag": sd,
        "sed_chi": np.where(np.asarray(obs["is_ul"], bool) | ~np.isfinite(obs["mag_vega"]), np.nan, chi),
        "sed_source": str(getattr(sedfit, "source", "")),
    }


def property_rows(prediction: Prediction | None, row: dict) -> list[dict]:
    """Predicted physical properties (value, 1-sigma range, truth if simulated) as table rows."""
    rows = []
    p = prediction.properties if prediction is not None else None

    def truth(col, fmt="{:.2f}"):
        v = row.get(col)
        try:
            v = float(v)
        except (TypeError, ValueError):
            return ""
        return fmt.format(v) if np.isfinite(v) else ""

    if p is not None:
        q, fs = float(p.qpah[0]), float(p.qpah_frac_sigma[0])
        rows.append(
            {
                "name": "q_PAH",
                "unit": "% of dust mass",
                "value": f"{q:.2f}",
                "range": f"{q * np.exp(-fs):.2f}–{q * np.exp(fs):.2f}",
                "truth": truth("truth_qpah"),
            }
        )
        rows.append(
            {
                "name": "P(AGN)",
                "unit": "",
                "value": f"{float(p.p_agn[0]):.2f}",
                "range": "",
                "truth": str(row.get("class_label", "") or ""),
            }
        )
        lb, lbs = float(p.log_lbol_agn[0]), float(p.log_lbol_agn_sigma[0])
        rows.append(
            {
                "name": "log L_bol,AGN",
                "unit": "erg/s (if AGN)",
                "value": f"{lb:.2f}",
                "range": f"± {lbs:.2f}",
                "truth": truth("truth_log_lbol_agn") if row.get("class_label") == "agn" else "",
            }
        )
        sf, sfs = float(p.log_sfr[0]), float(p.log_sfr_sigma[0])
        rows.append(
            {
                "name": "log SFR",
                "unit": "M☉/yr",
                "value": f"{sf:.2f}",
                "range": f"± {sfs:.2f}",
                "truth": truth("truth_log_sfr"),
            }
        )
    return rows


# --- the whole sample ---------------------------------------------------------------------------
@dataclass
class SampleSummary:
    """Per-galaxy numbers of the browsed catalog (computed once per catalog and model).

    Attributes
    ----------
    snr : ndarray (N,)
        Median S/N per pixel of the spectrum (good pixels).
    latents : ndarray (N, S) or None
    pred_mag, pred_sigma_mag : ndarray (N, 4) or None
        Posterior mean and sigma of the true W1-W4 magnitudes (Vega).
    chi : ndarray (N, 4) or None
        Per-band chi of the observation (NaN for upper limits).
    latent_lo, latent_hi : ndarray (S,) or None
        1st and 99th percentiles of the latents (slider ranges).
    """

    snr: np.ndarray
    latents: np.ndarray | None = None
    pred_mag: np.ndarray | None = None
    pred_sigma_mag: np.ndarray | None = None
    chi: np.ndarray | None = None
    latent_lo: np.ndarray | None = None
    latent_hi: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def worst_abs_chi(self) -> np.ndarray | None:
        if self.chi is None:
            return None
        a = np.abs(self.chi)
        with np.errstate(all="ignore"):
            return np.where(np.isfinite(a).any(1), np.nanmax(np.where(np.isfinite(a), a, -1.0), 1), np.nan)


def median_snr(flux: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Median per-pixel S/N = |flux| sqrt(weight) over good pixels, (N,)."""
    snr = np.where(weight > 0, np.abs(flux) * np.sqrt(np.clip(weight, 0, None)), np.nan)
    with np.errstate(all="ignore"):
        out = np.nanmedian(np.where(np.isfinite(snr), snr, np.nan), axis=1)
    return out


def cache_dir() -> Path:
    """Where sample summaries are cached (``IROX_CACHE_DIR``, default ``<repo>/runs/app_cache``)."""
    from ..paths import REPO_ROOT

    return Path(os.environ.get("IROX_CACHE_DIR", REPO_ROOT / "runs" / "app_cache"))


def _catalog_key(catalog) -> str:
    p = Path(catalog.path).resolve()
    st = p.stat()
    return f"{p}|{st.st_size}|{st.st_mtime_ns}"


def model_key(bundle) -> str:
    """Identity of a model directory: hash of its manifest's file checksums."""
    if bundle is None:
        return "no-models"
    files = bundle.manifest.get("files", {})
    return hashlib.sha1(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def _snr_and_latents(catalog, bundle, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Median S/N (N,) and latents (N, S) or None: encoded spectra, or a latent catalog's own
    latents (whose S/N is unknown: NaN)."""
    n = catalog.n
    snr = np.full(n, np.nan)
    if not catalog.has_spectra:
        lat = catalog.latents
        return snr, None if lat is None else np.asarray(lat, np.float32)
    lat = None
    has_encoder = bundle is not None and bundle.encoder is not None
    for s in range(0, n, batch):
        idx = np.arange(s, min(n, s + batch))
        f, w = catalog.spectra(idx)
        snr[idx] = median_snr(f, w)
        if has_encoder:
            z_ = bundle.encode(f)
            lat = np.zeros((n, z_.shape[1]), np.float32) if lat is None else lat
            lat[idx] = z_
    return snr, lat


def sample_summary(catalog, bundle=None, *, use_cache: bool = True, batch: int = 500) -> SampleSummary:
    """S/N, latents, predictions and chi of every galaxy in ``catalog`` (disk-cached).

    Parameters
    ----------
    catalog : Catalog
    bundle : ModelBundle or None
        Without models only ``snr`` is filled.
    use_cache : bool
        Read/write ``<cache_dir>/sample-<hash>.npz`` keyed by the catalog file (path, size,
        mtime) and the model directory's checksums.
    """
    key = hashlib.sha1(f"{_catalog_key(catalog)}|{model_key(bundle)}|v1".encode()).hexdigest()[:20]
    path = cache_dir() / f"sample-{key}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path) as d:
                get = lambda k: d[k] if k in d.files else None  # noqa: E731
                return SampleSummary(
                    snr=d["snr"],
                    latents=get("latents"),
                    pred_mag=get("pred_mag"),
                    pred_sigma_mag=get("pred_sigma_mag"),
                    chi=get("chi"),
                    latent_lo=get("latent_lo"),
                    latent_hi=get("latent_hi"),
                    meta={"cache": str(path), "from_cache": True},
                )
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: recompute
    snr, lat = _snr_and_latents(catalog, bundle, batch)
    out = SampleSummary(snr=snr, meta={"cache": str(path), "from_cache": False})
    if lat is not None:
        n = catalog.n
        out.latents = lat
        out.latent_lo = np.nanpercentile(lat, 1, axis=0)
        out.latent_hi = np.nanpercentile(lat, 99, axis=0)
        if bundle is not None and bundle.predictor is not None:
            t = catalog.table
            mt = np.stack(
                [np.asarray(t.get(f"mag_{b}_total", np.full(n, np.nan)), float) for b in SDSS_BANDS], 1
            )
            mf = np.stack(
                [np.asarray(t.get(f"mag_{b}_fiber", np.full(n, np.nan)), float) for b in SDSS_BANDS], 1
            )
            post = bundle.predict(
                latents=lat, z=np.asarray(t["z"], float), spec_norm=np.asarray(t["spec_norm"], float),
                mag_total=mt, mag_fiber=mf,
            )  # fmt: skip
            out.pred_mag = post.mean_mag
            out.pred_sigma_mag = post.sigma_mag
            mag = np.stack([np.asarray(t[f"{b.lower()}_mag_vega"], float) for b in WISE_BANDS], 1)
            sig = np.stack([np.asarray(t[f"{b.lower()}_sigma_mag"], float) for b in WISE_BANDS], 1)
            ul = np.stack([np.asarray(t[f"{b.lower()}_is_ul"], bool) for b in WISE_BANDS], 1)
            out.chi = band_chi(mag, sig, ul, post.observed(sig))
    if use_cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = {k: v for k, v in out.__dict__.items() if isinstance(v, np.ndarray)}
            tmp = path.with_name(path.name + ".partial.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
        except OSError:
            pass  # read-only checkout: no cache, still works
    return out


def galaxy_spectrum_arrays(spectrum, rest_frame: bool) -> dict:
    """Observed spectrum in physical units with its 1-sigma band, for plotting.

    Returns
    -------
    dict: ``wave`` (Angstrom, observed or rest frame), ``flux``, ``lo``, ``hi``
    (1e-17 erg/s/cm^2/A, NaN where masked), ``good`` (bool), ``z``.
    """
    from ..constants import WAVE_OBS_VAC_AA

    good = np.asarray(spectrum.weight) > 0
    scale = 1.0 / (1.0 + spectrum.z) if rest_frame else 1.0
    wave = WAVE_OBS_VAC_AA * scale
    flux = np.where(good, spectrum.flux * spectrum.norm, np.nan)
    sigma = np.where(good, spectrum.norm / np.sqrt(np.where(good, spectrum.weight, 1.0)), np.nan)
    assert flux.shape == (N_PIX,)
    return dict(wave=wave, flux=flux, lo=flux - sigma, hi=flux + sigma, good=good, z=float(spectrum.z))


def empty_spectrum_arrays(row: dict, rest_frame: bool) -> dict:
    """The arrays of :func:`galaxy_spectrum_arrays` for a galaxy without a spectrum (a latent
    catalog's): the wavelength grid at the row's redshift, NaN fluxes, no masked pixels."""
    from ..constants import WAVE_OBS_VAC_AA

    z = float(row.get("z", np.nan))
    wave = WAVE_OBS_VAC_AA / (1.0 + z) if rest_frame and np.isfinite(z) else np.asarray(WAVE_OBS_VAC_AA)
    nan = np.full(N_PIX, np.nan)
    return dict(wave=wave, flux=nan, lo=nan.copy(), hi=nan.copy(), good=np.ones(N_PIX, bool), z=z)
