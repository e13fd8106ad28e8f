"""Side by side on the same galaxies: our IR posterior against the separable SED fit.

Both posteriors go through the same metric code (:func:`explorer.ml.evaluate.ir_metrics` and
:func:`~explorer.ml.evaluate.chi2_by_class`): the SED fit's draws of the true W1-W4 become a
mixture of point masses (:func:`draws_posterior`), so chi^2_N in both conventions, mean chi, the
detection-conditioned prediction and the coverage of the 68/95 % intervals of the observation
predictive (catalog error added) are defined exactly as for ours. SFR and q_PAH are compared with
the simulation's truth; the SED fit's SFR is moved from bagpipes' cosmology (H0 = 70, Omega_m =
0.3) to the truth's (Planck18) by the squared ratio of luminosity distances, the simulator's own
convention.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ExplorerError
from ..ml.data import build_features, wise_targets
from ..ml.evaluate import chi2_by_class, ir_metrics, property_metrics
from ..ml.predictor import IRPosterior
from .table import SedFitTable

POINT_VAR_MAG2 = 1e-8  # variance given each posterior draw (a point mass, numerically)


def draws_posterior(wise_mag_draws: np.ndarray) -> IRPosterior:
    """(N, n_draws, 4) Vega-mag draws as an :class:`IRPosterior` of the true magnitudes."""
    d = np.asarray(wise_mag_draws, float)
    covs = np.broadcast_to(np.eye(4) * POINT_VAR_MAG2, d.shape + (4,)).copy()
    return IRPosterior(d, covs, kind="true")


def planck18_lum_factor(z) -> np.ndarray:
    """(d_L Planck18 / d_L bagpipes)^2 at ``z``: bagpipes luminosities (at fixed flux) times this."""
    from astropy.cosmology import FlatLambdaCDM, Planck18

    z = np.asarray(z, float)
    return (
        Planck18.luminosity_distance(z).value / FlatLambdaCDM(H0=70.0, Om0=0.3).luminosity_distance(z).value
    ) ** 2


def sed_property_metrics(qpah_draws, log_sfr_draws, truth_ln_qpah, truth_log_sfr) -> dict:
    """q_PAH (fractional) and log SFR (dex) of the SED fit's posterior against the truth, in the
    layout of :func:`explorer.ml.evaluate.property_metrics` (coverage68: truth inside the draws'
    central 68 %)."""
    out = {}
    q_true = np.exp(truth_ln_qpah)
    q_med = np.median(qpah_draws, axis=1)
    lo, hi = np.percentile(qpah_draws, [15.865, 84.135], axis=1)
    ok = np.isfinite(q_true)
    frac = (q_med[ok] - q_true[ok]) / q_true[ok]
    out["qpah"] = _prop(frac, ((q_true >= lo) & (q_true <= hi))[ok], "frac")
    s_med = np.median(log_sfr_draws, axis=1)
    lo, hi = np.percentile(log_sfr_draws, [15.865, 84.135], axis=1)
    ok = np.isfinite(truth_log_sfr)
    d = s_med[ok] - truth_log_sfr[ok]
    out["log_sfr"] = _prop(d, ((truth_log_sfr >= lo) & (truth_log_sfr <= hi))[ok], "dex")
    return out


def _prop(d: np.ndarray, inside: np.ndarray, unit: str) -> dict:
    if d.size == 0:
        return {"n": 0}
    q25, q75 = np.percentile(d, [25, 75])
    key = "frac" if unit == "frac" else ""
    scat, rms, bias = (
        (f"{key}_scatter", f"{key}_rms", f"{key}_bias") if key else ("scatter_dex", "rms_dex", "bias_dex")
    )
    return {
        "n": int(d.size),
        scat: float((q75 - q25) / 1.349),
        rms: float(np.sqrt(np.mean(d**2))),
        bias: float(np.median(d)),
        "coverage68": float(np.mean(inside)),
    }


def compare(catalog, table: SedFitTable, models="default", *, time_fits: int = 1, log=print) -> dict:
    """Ours vs the SED fit on the galaxies of ``table`` (which must be of this catalog file).

    Parameters
    ----------
    time_fits : int
        Refit this many of the table's galaxies with the table's settings, timed in this run,
        beside our model's encoding + prediction of all of them (0: use the table's wall times).

    Returns
    -------
    dict: ``ours`` and ``sedfit`` (bands, colors, by_class, properties), ``wall_s_per_galaxy``,
    ``meta`` (catalog, checksum, n, settings).
    """
    from ..catalog import Catalog
    from ..ml.registry import load_models
    from .table import catalog_sha256

    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    sha = catalog_sha256(cat.path)
    if table.catalog_sha256 != sha:
        raise ExplorerError(f"{table.path}: made from another catalog file than {cat.path} (sha256 differs)")
    ids = np.asarray(cat.table["id"]).astype(str)
    pos = {g: k for k, g in enumerate(ids)}
    idx = np.array([pos[g] for g in table.ids if g in pos], dtype=int)
    if idx.size == 0:
        raise ExplorerError(f"{table.path}: none of its galaxies is in {cat.path}")
    order = [table.ids.index(g) for g in ids[idx]]
    targets = wise_targets(cat.table, idx)
    bundle = load_models(models)

    t0, c0 = time.perf_counter(), time.process_time()
    latents = bundle.catalog_latents(cat, idx)
    ours = bundle.predictor.predict(build_features(bundle.predictor.feature_kind, cat.table, idx, latents))
    pp = (
        bundle.properties.predict(build_features(bundle.properties.feature_kind, cat.table, idx, latents))
        if bundle.properties
        else None
    )
    ours_s, ours_cpu = (time.perf_counter() - t0) / idx.size, (time.process_time() - c0) / idx.size

    sed = draws_posterior(table.draws["wise_mag_draws"][order])
    result = {"meta": _meta(cat, table, sha, idx, models)}
    for name, post in (("ours", ours), ("sedfit", sed)):
        pred = post.detected_mean_mag()
        r = ir_metrics(post, targets, pred=pred)
        r["by_class"] = chi2_by_class(post, targets, cat.table, idx, pred=pred)
        r["mean_pred"] = {b: v for b, v in ir_metrics(post, targets, pred="mean")["bands"].items()}
        result[name] = r
    _class_coverage(result, {"ours": ours, "sedfit": sed}, targets, cat.table, idx)
    _properties(result, cat.table, idx, pp, table, order)
    if time_fits:
        sed_s, sed_cpu = _time_fits(cat, table, idx, time_fits, log)
        source = f"{time_fits} fits timed in this run"
    else:
        sed_s, sed_cpu = float(np.mean(table.table["wall_s"])), float(np.nanmean(table.table["cpu_s"]))
        source = "the table's recorded times"
    result["wall_s_per_galaxy"] = {
        "ours": ours_s,
        "sedfit": sed_s,
        "ratio": sed_s / ours_s,
        "cpu_s_ours": ours_cpu,
        "cpu_s_sedfit": sed_cpu,
        "sedfit_source": source,
    }
    return result


def _meta(cat, table, sha, idx, models) -> dict:
    labels = np.asarray(cat.table.get("class_label", np.full(len(cat), "")), dtype=str)[idx]
    return {
        "catalog": str(cat.path),
        "catalog_sha256": sha,
        "table": str(table.path),
        "n": int(idx.size),
        "n_by_class": {c: int(np.sum(labels == c)) for c in sorted(set(labels))},
        "models": str(models),
        "settings": table.settings,
        "versions": table.attrs.get("versions", ""),
    }


def _class_coverage(result, posts, targets, table, idx) -> None:
    """Per class and band: mean chi and coverage 68/95 of each posterior (in place)."""
    from ..ml.evaluate import LEVEL68, LEVEL95
    from ..ml.predictor import coverage_from_pit

    labels = np.asarray(table.get("class_label", np.full(len(idx), "")), dtype=str)[idx]
    for name, post in posts.items():
        obs = post.observed(np.where(targets.detected, targets.sigma, 0.0))
        pit = obs.cdf(np.nan_to_num(targets.mag))
        pred = post.detected_mean_mag()
        out = {}
        for c in sorted(set(labels)):
            out[c] = {}
            for b in range(4):
                sel = (labels == c) & targets.detected[:, b] & (targets.sigma[:, b] < 5)
                chi = (pred[sel, b] - targets.mag[sel, b]) / targets.sigma[sel, b]
                out[c][f"W{b + 1}"] = {
                    "n": int(sel.sum()),
                    "mean_chi": float(np.mean(chi)) if sel.any() else None,
                    "coverage68": coverage_from_pit(pit[sel, b], LEVEL68) if sel.any() else None,
                    "coverage95": coverage_from_pit(pit[sel, b], LEVEL95) if sel.any() else None,
                }
        result[name]["class_coverage"] = out


def _properties(result, table, idx, pp, fits: SedFitTable, order) -> None:
    from ..ml.properties import property_targets

    try:
        pt = property_targets(table, idx)
    except ExplorerError as err:
        result["properties"] = f"not compared: {err}"
        return
    z = np.asarray(table["z"], float)[idx]
    sfr = fits.draws["log_sfr_draws"][order] + np.log10(planck18_lum_factor(z))[:, None]
    result["sedfit"]["properties"] = sed_property_metrics(
        fits.draws["qpah_draws"][order], sfr, pt["ln_qpah"], pt["log_sfr"]
    )
    if pp is not None:
        ours = property_metrics(pp, pt, {})
        result["ours"]["properties"] = {k: ours[k] for k in ("qpah", "log_sfr") if k in ours}


def _time_fits(cat, fits: SedFitTable, idx, n: int, log) -> tuple[float, float]:
    """Mean wall and CPU time of ``n`` SED fits (the table's settings) of the table's first galaxies."""
    from .data import fit_data_from_catalog
    from .fit import FitSettings, fit_galaxy

    s = FitSettings(**fits.settings)
    walls, cpus = [], []
    for i in idx[:n]:
        t0, c0 = time.perf_counter(), time.process_time()
        data = fit_data_from_catalog(
            cat, int(i), bin_pixels=s.bin_pixels, spec_floor=s.spec_floor, phot_floor=s.phot_floor
        )
        fit_galaxy(data, s)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        log(f"timed SED fit of {cat.table['id'][i]}: {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU")
    return float(np.mean(walls)), float(np.mean(cpus))
