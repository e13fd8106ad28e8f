"""Held-out evaluation of the IR predictor, the baselines, the property heads and the autoencoder.

Metric definitions (Jespersen et al. 2025 demo notebook, see ``shared/reference/science.md``):

* ``chi2_n``: mean of chi^2 = ((pred - obs) / sigma_obs)^2 over detected test galaxies with
  sigma_obs < 5 mag and |chi| < 100. For a colour m_i - m_j, sigma_obs^2 = sigma_i^2 + sigma_j^2
  (galaxies detected in both bands). ``pred`` for our model and the photometry-only baseline is
  the expected catalog magnitude given that the band is detected (posterior draws passed
  through the AllWISE measurement model, :meth:`IRPosterior.detected_mean_mag`): the metric
  only scores detected sources, whose catalog values are Eddington-biased near the limit. The
  same metrics with ``pred`` = posterior mean of the true magnitude are under ``true_mean``. The
  paper's MLP is a point estimate trained on detected values; its ``pred`` is its output.
* ``chi2_n_paper``: the same mean in the convention of the paper's Table 3, chi = (pred - obs) /
  sqrt(sigma_obs) (the square root of the magnitude error, as in the authors' demo notebook whose
  loss is ``GaussianNLLLoss(pred, obs, var=sqrt(sigma))``; documented by the independent
  reproduction github.com/KoslickiLab/reproducing-jespersen-25, README and ``train_their_data.py``).
  For a colour the same square root is taken of the colour's error, sqrt(sigma_i^2 + sigma_j^2).
  Same selection as ``chi2_n``. ``PAPER_TABLE3_CHI2_N`` holds the paper's values (real data).
* ``mean_chi``; ``iqr_sigma_chi`` = (P84 - P16) / 2 of chi;
* ``bias`` = median(obs - pred); ``sigma_iqr`` = IQR(obs - pred) / 1.349;
  ``outlier_frac`` = fraction with |obs - pred| >= 0.2 mag;
* ``coverage68`` / ``coverage95``: fraction of the same observations inside the central 68.27% /
  95.45% interval of the *observation* predictive (model + catalog error), from the PIT.

All band/colour metrics use the same selection (detected, sigma < 5, |chi| < 100); ``n`` is its size.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from ..constants import WISE_BANDS, mjy_to_vega_mag
from ..errors import ModelError
from .acceptance import (  # noqa: F401  (re-exported: evaluate's public names)
    CEILING_JSON,
    PAPER_TABLE3_CHI2_N,
    PAPER_TABLE3_SOURCE,
    acceptance,
    ceiling_ratios,
    load_ceiling,
    paper_mlp_training_log,
)
from .data import WiseTargets, build_features, wise_targets
from .evaluation_figures import figures
from .predictor import COLOR_PAIRS, N_BANDS, IRPosterior, color_name, coverage_from_pit

LEVEL68 = math.erf(1 / math.sqrt(2))  # 0.6827
LEVEL95 = math.erf(2 / math.sqrt(2))  # 0.9545
SIGMA_MAX_MAG = 5.0
CHI_MAX = 100.0
OUTLIER_MAG = 0.2


def _robust(delta, chi, pit) -> dict:
    if delta.size == 0:
        return {"n": 0}
    p16, p84 = np.percentile(chi, [16, 84])
    q25, q75 = np.percentile(delta, [25, 75])
    return {
        "n": int(delta.size),
        "chi2_n": float(np.mean(chi**2)),
        "mean_chi": float(np.mean(chi)),
        "iqr_sigma_chi": float((p84 - p16) / 2),
        "bias": float(np.median(delta)),
        "sigma_iqr": float((q75 - q25) / 1.349),
        "outlier_frac": float(np.mean(np.abs(delta) >= OUTLIER_MAG)),
        "coverage68": coverage_from_pit(pit, LEVEL68),
        "coverage95": coverage_from_pit(pit, LEVEL95),
    }


def ir_metrics(post: IRPosterior, targets: WiseTargets, pred: str = "mean") -> dict:
    """Band and colour metrics of a TRUE-magnitude posterior against catalog observations.

    Parameters
    ----------
    post : IRPosterior
        Posterior of the true magnitudes.
    targets : WiseTargets
    pred : {"mean", "detected"} or ndarray (N, 4)
        The point prediction compared with the catalog: ``"mean"``, the posterior mean of the
        true magnitude; ``"detected"``, the expected catalog magnitude given that the band is
        detected (:meth:`IRPosterior.detected_mean_mag`; a colour uses the difference of the two
        bands' values); or that prediction already computed. Coverage always uses the full
        observation predictive.

    Returns
    -------
    dict with ``bands`` {W1..W4: metrics} and ``colors`` {"W1-W2", "W2-W3", "W3-W4": metrics}.
    """
    if post.kind != "true":
        raise ModelError(
            "ir_metrics needs the posterior of the true magnitudes (catalog noise is added here)"
        )
    pred = _point_prediction(post, pred)
    obs_post = post.observed(np.where(targets.detected, targets.sigma, 0.0))
    out = {"bands": {}, "colors": {}}
    pit_all = obs_post.cdf(np.nan_to_num(targets.mag))
    chi_paper = chi_paper_values(pred, targets)
    for name, (chi, sel, delta) in _chi_values(post, targets, pred).items():
        if name in WISE_BANDS:
            m = _robust(delta[sel], chi[sel], pit_all[sel, WISE_BANDS.index(name)])
            out["bands"][name] = _with_paper_chi2(m, chi_paper[name][sel])
        else:
            i, j = (WISE_BANDS.index(b) for b in name.split("-"))
            obs_c = targets.mag[sel, i] - targets.mag[sel, j]
            pit = obs_post[sel].color_cdf(i, j, obs_c) if sel.any() else np.zeros(0)
            out["colors"][name] = _with_paper_chi2(_robust(delta[sel], chi[sel], pit), chi_paper[name][sel])
    return out


def chi_paper_values(pred: np.ndarray, targets: WiseTargets) -> dict:
    """chi in the paper's convention, (pred - obs) / sqrt(sigma_obs), per band and adjacent colour.

    For a colour, sigma_obs = sqrt(sigma_i^2 + sigma_j^2) and the chi is the colour residual over
    its square root. Returns ``{name: chi (N,)}`` (NaN where undefined); select with the ``sel``
    of :func:`_chi_values`.
    """
    pred = np.asarray(pred, dtype=float)
    sig, mag = targets.sigma, targets.mag
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for b, w in enumerate(WISE_BANDS):
            out[w] = (pred[:, b] - mag[:, b]) / np.sqrt(sig[:, b])
        for i, j in COLOR_PAIRS:
            s = np.sqrt(sig[:, i] ** 2 + sig[:, j] ** 2)
            out[color_name(i, j)] = ((pred[:, i] - pred[:, j]) - (mag[:, i] - mag[:, j])) / np.sqrt(s)
    return out


def _with_paper_chi2(metrics: dict, chi_paper: np.ndarray) -> dict:
    """Add ``chi2_n_paper`` (mean of chi_paper^2) right after ``chi2_n``."""
    if not metrics.get("n"):
        return metrics
    out = {}
    for k, v in metrics.items():
        out[k] = v
        if k == "chi2_n":
            out["chi2_n_paper"] = float(np.mean(chi_paper**2))
    return out


def _point_prediction(post: IRPosterior, pred) -> np.ndarray:
    """The (N, 4) point prediction named by ``pred`` ("mean" or "detected"), or ``pred`` itself.

    Passing the array lets callers that score one posterior twice (:func:`ir_metrics`, then
    :func:`chi2_by_class`) run the Monte Carlo of :meth:`IRPosterior.detected_mean_mag` once.
    """
    if isinstance(pred, str):
        if pred not in ("mean", "detected"):
            raise ModelError(f"ir_metrics: pred must be 'mean' or 'detected', got {pred!r}")
        return post.mean_mag if pred == "mean" else post.detected_mean_mag()
    pred = np.asarray(pred, dtype=float)
    if pred.shape != (len(post), N_BANDS):
        raise ModelError(f"ir_metrics: a pred array must have shape {(len(post), N_BANDS)}, got {pred.shape}")
    return pred


def _chi_values(post: IRPosterior, targets: WiseTargets, pred) -> dict:
    """chi, selection and obs - pred of every band and adjacent colour (the metric's definition).

    Returns ``{name: (chi (N,), sel (N,) bool, delta (N,) mag)}`` for W1..W4 and the colours; ``sel``
    is the metric's selection (detected, sigma < SIGMA_MAX_MAG, |chi| < CHI_MAX).
    """
    pred = _point_prediction(post, pred)
    det, sig, mag = targets.detected, targets.sigma, targets.mag
    out = {}
    with np.errstate(invalid="ignore"):
        for b, w in enumerate(WISE_BANDS):
            chi = (pred[:, b] - mag[:, b]) / sig[:, b]
            sel = det[:, b] & (sig[:, b] < SIGMA_MAX_MAG) & (np.abs(chi) < CHI_MAX)
            out[w] = (chi, sel, mag[:, b] - pred[:, b])
        for i, j in COLOR_PAIRS:
            s = np.sqrt(sig[:, i] ** 2 + sig[:, j] ** 2)
            obs_c, pred_c = mag[:, i] - mag[:, j], pred[:, i] - pred[:, j]
            chi = (pred_c - obs_c) / s
            sel = det[:, i] & det[:, j] & (s < SIGMA_MAX_MAG) & (np.abs(chi) < CHI_MAX)
            out[color_name(i, j)] = (chi, sel, obs_c - pred_c)
    return out


#: Groups of a simulated catalog for :func:`chi2_by_class`: name -> (class_label or None, truth_agn_type).
CLASS_GROUPS = {
    "star-forming": ("star-forming", 0),
    "quenched": ("quenched", 0),
    "AGN type 1": (None, 1),
    "AGN type 2": (None, 2),
}


def chi2_by_class(
    post: IRPosterior, targets: WiseTargets, table: dict, idx, pred: str = "detected"
) -> dict | None:
    """Where the chi^2 comes from: ``chi2_n`` within each simulated class and its share of the sum.

    Parameters
    ----------
    post, targets, pred : as :func:`ir_metrics` (same selection per band and colour).
    table : catalog table with ``class_label`` and ``truth_agn_type`` (simulated catalogs).
    idx : rows of ``table`` that ``post`` and ``targets`` describe.

    Returns
    -------
    ``{band or colour: {group: {"n", "chi2_n", "chi2_n_paper", "share_of_chi2_sum", "median_chi"}}}``
    (share and median of the standard chi) for the groups
    of :data:`CLASS_GROUPS`, or None without the truth columns (real catalogs).
    """
    if "class_label" not in table or "truth_agn_type" not in table:
        return None
    idx = np.asarray(idx, dtype=int)
    label = np.asarray(table["class_label"]).astype(str)[idx]
    agn = np.nan_to_num(np.asarray(table["truth_agn_type"], float)[idx], nan=0.0).astype(int)
    out = {}
    pred = _point_prediction(post, pred)
    chi_paper = chi_paper_values(pred, targets)
    for name, (chi, sel, _) in _chi_values(post, targets, pred).items():
        total = float(np.sum(chi[sel] ** 2))
        block = {}
        for group, (cls, agn_type) in CLASS_GROUPS.items():
            m = sel & (agn == agn_type) & ((label == cls) if cls is not None else True)
            c = chi[m]
            block[group] = {
                "n": int(m.sum()),
                "chi2_n": float(np.mean(c**2)) if c.size else None,
                "chi2_n_paper": float(np.mean(chi_paper[name][m] ** 2)) if c.size else None,
                "share_of_chi2_sum": float(np.sum(c**2) / total) if c.size and total > 0 else None,
                "median_chi": float(np.median(c)) if c.size else None,
            }
        out[name] = block
    return out


def _sigma_iqr(x) -> float:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    q25, q75 = np.percentile(x, [25, 75])
    return float((q75 - q25) / 1.349)


def truth_flux_reference(table: dict, idx, targets: WiseTargets) -> dict | None:
    """The metrics a predictor would score that knows each galaxy's noiseless WISE fluxes.

    For simulated catalogs (``truth_w?_flux_mjy`` columns) the "prediction" is the simulator's
    noise-free magnitude, so ``chi2_n`` here is the lowest value the paper's metric can take on this
    catalog: what is left is measurement noise, the small hidden scatter, and the bias of selecting
    *detected* sources (at signal-to-noise 2-4, the sources that pass the detection threshold are
    mostly upward fluctuations, so their catalog magnitudes are brighter than the truth: Eddington
    bias; this is what keeps W4 above 1). ``detected`` scores the expected catalog magnitude given
    a detection computed from the truth (:meth:`IRPosterior.detected_mean_mag`), which removes
    that bias. Coverage entries are not meaningful (zero width) and are left out.

    Returns
    -------
    ``{"truth": metrics, "detected": metrics}`` (each as :func:`ir_metrics`), or None when the
    catalog has no truth fluxes (real data).
    """
    cols = [f"truth_{w.lower()}_flux_mjy" for w in WISE_BANDS]
    if not all(c in table for c in cols):
        return None
    idx = np.asarray(idx, dtype=int)
    flux = np.stack([np.asarray(table[c], float)[idx] for c in cols], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.stack([mjy_to_vega_mag(flux[:, b], b) for b in range(N_BANDS)], axis=1)
    covs = np.broadcast_to(np.eye(N_BANDS) * 1e-10, (len(idx), 1, N_BANDS, N_BANDS)).copy()
    truth = IRPosterior(mag[:, None, :], covs, "true")
    out = {
        "truth": ir_metrics(truth, targets, pred="mean"),
        "detected": ir_metrics(truth, targets, pred="detected"),
    }
    for res in out.values():
        for block in res.values():
            for m in block.values():
                m.pop("coverage68", None)
                m.pop("coverage95", None)
    return out


def property_metrics(pp, targets: dict, floors: dict) -> dict:
    """Scatter and calibration of the property heads on the test split."""
    out = {}
    q_true = np.exp(targets["ln_qpah"])
    ok = np.isfinite(q_true)
    frac = (pp.qpah[ok] - q_true[ok]) / q_true[ok]
    z = (np.log(pp.qpah[ok]) - targets["ln_qpah"][ok]) / pp.qpah_frac_sigma[ok]
    out["qpah"] = {
        "n": int(ok.sum()),
        "frac_scatter": _sigma_iqr(frac),
        "frac_rms": float(np.sqrt(np.mean(frac**2))) if ok.any() else float("nan"),
        "frac_bias": float(np.median(frac)) if ok.any() else float("nan"),
        "coverage68": float(np.mean(np.abs(z) < 1)) if ok.any() else float("nan"),
        "floor": floors.get("qpah_frac"),
    }
    agn = targets["agn"] == 1
    ok = agn & np.isfinite(targets["log_lbol_agn"])
    d = pp.log_lbol_agn[ok] - targets["log_lbol_agn"][ok]
    out["lbol_agn"] = {
        "n": int(ok.sum()),
        "scatter_dex": _sigma_iqr(d),
        "rms_dex": float(np.sqrt(np.mean(d**2))) if ok.any() else float("nan"),
        "bias_dex": float(np.median(d)) if ok.any() else float("nan"),
        "coverage68": float(np.mean(np.abs(d / pp.log_lbol_agn_sigma[ok]) < 1)) if ok.any() else float("nan"),
        "floor": floors.get("lbol_agn_dex"),
    }
    ok = np.isfinite(targets["log_sfr"])
    d = pp.log_sfr[ok] - targets["log_sfr"][ok]
    out["log_sfr"] = {
        "n": int(ok.sum()),
        "scatter_dex": _sigma_iqr(d),
        "rms_dex": float(np.sqrt(np.mean(d**2))) if ok.any() else float("nan"),
        "bias_dex": float(np.median(d)) if ok.any() else float("nan"),
        "coverage68": float(np.mean(np.abs(d / pp.log_sfr_sigma[ok]) < 1)) if ok.any() else float("nan"),
    }
    known = np.isfinite(targets["agn"])
    if known.any():
        y = targets["agn"][known]
        p = pp.p_agn[known]
        out["agn_class"] = {
            "n": int(known.sum()),
            "n_agn": int(y.sum()),
            "accuracy": float(np.mean((p > 0.5) == (y == 1))),
            "brier": float(np.mean((p - y) ** 2)),
            "auc": _auc(p, y),
        }
    return out


def _auc(p, y) -> float:
    pos, neg = p[y == 1], p[y == 0]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def autoencoder_metrics(
    encoder, catalog, idx_test, max_test: int = 5000, seed: int = 0, *, real_spectra=None
) -> dict:
    """Median reduced chi^2 of the reconstruction on the test split and on real SDSS spectra.

    ``real_spectra``: ``{name: spectrum (z, flux, weight) or a reason it is missing}``, or one
    reason for all (a str); None: not evaluated.
    """
    out = {}
    idx = np.asarray(idx_test)
    if len(idx) > max_test:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_test, replace=False))
    chi2 = []
    for s in range(0, len(idx), 1024):
        f, w = catalog.spectra(idx[s : s + 1024])
        chi2.append(encoder.reduced_chi2(f, w, np.asarray(catalog.table["z"], float)[idx[s : s + 1024]]))
    chi2 = np.concatenate(chi2) if chi2 else np.zeros(0)
    out["test_median_reduced_chi2"] = float(np.nanmedian(chi2)) if chi2.size else None
    out["test_reduced_chi2_p16_p84"] = (
        [float(v) for v in np.nanpercentile(chi2, [16, 84])] if chi2.size else None
    )
    out["n_test_spectra"] = int(len(idx))
    if real_spectra is None or isinstance(real_spectra, str):
        out["real_sdss_reduced_chi2"] = real_spectra or "not evaluated: no real spectra given"
        return out
    real = {}
    for name, sp in real_spectra.items():
        if isinstance(sp, str):
            real[name] = sp
            continue
        real[name] = {
            "z": sp.z,
            "reduced_chi2": float(encoder.reduced_chi2(sp.flux[None], sp.weight[None], [sp.z])[0]),
        }
    out["real_sdss_reduced_chi2"] = real or "not evaluated: no real spectra given"
    return out


def evaluate(
    catalog,
    models="default",
    *,
    split: str = "test",
    floors: dict | None = None,
    floors_source: str | None = None,
    real_spectra=None,
    figures_dir: str | Path | None = None,
    autoencoder: bool = True,
    write: bool = False,
    progress: bool = False,
    ceiling: dict | str | Path | None = None,
) -> dict:
    """Evaluate a model directory on a catalog's held-out split.

    Parameters
    ----------
    catalog : path or Catalog
    models : str, path or ModelBundle
        Model name (``models/<name>``), directory, or a loaded bundle.
    split : str
        Catalog split to evaluate on (``test``).
    floors, floors_source : dict, str, optional
        ``{"qpah_frac": ..., "lbol_agn_dex": ...}`` and where they came from; default: none
        (the command line passes :func:`explorer.simulate.population.scatter_floors`).
    real_spectra : dict or str, optional
        Real SDSS spectra for :func:`autoencoder_metrics` (the CLI: ``io.sdss.real_sdss_spectra``).
    figures_dir : path, optional
        Also write the figures there (:func:`figures`).
    autoencoder : bool
        Include the autoencoder reconstruction metrics (reads up to 5,000 test spectra).
    write : bool
        Write ``evaluation.json`` and ``MODEL_CARD.md`` into the model directory and register
        them in its manifest.
    ceiling : dict or path, optional
        Output of ``python -m explorer ceiling`` to divide our ``chi2_n`` by: a dict (used as it is)
        or its JSON file, used only when measured on the same catalog file name, split and number
        of galaxies (:func:`load_ceiling`; else the result says why not); default
        ``docs/evaluation/ceiling.json`` under the same rule.

    Returns
    -------
    dict: ``bands``, ``colors`` (our model), ``baselines.paper_mlp`` / ``baselines.photometry_only``
    / ``baselines.paper_inputs_ensemble`` (same layout), ``paper_table3``, ``paper_mlp_training``,
    ``ceiling``, ``properties``, ``autoencoder``, ``acceptance``, ``meta``.
    """
    from ..catalog import Catalog
    from .registry import ModelBundle, load_models

    t0 = time.perf_counter()
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    bundle = models if isinstance(models, ModelBundle) else load_models(models)
    idx = cat.split_indices(split)
    if len(idx) == 0:
        raise ModelError(f"{cat.path}: no good rows in split {split!r}")
    targets = wise_targets(cat.table, idx)
    result: dict = {
        "meta": {"catalog": str(cat.path), "split": split, "n": int(len(idx)), "models": str(bundle.path)}
    }
    latents = bundle.catalog_latents(cat, idx, progress=progress)
    arrays = {"targets": targets, "posteriors": {}}
    _model_metrics(result, arrays, bundle, cat, idx, latents, targets)
    _paper_comparison(result, bundle, cat, idx, latents, targets, arrays, split, ceiling)
    fl, fl_src = dict(floors or {}), (floors_source or "argument") if floors else "none given"
    result["floors"] = {"values": fl, "source": fl_src}
    ref = truth_flux_reference(cat.table, idx, targets)
    if ref is not None:
        result["reference"] = {"truth_flux": ref}
    _property_metrics(result, arrays, bundle, cat, idx, latents, fl)
    if autoencoder and bundle.encoder is not None and cat.has_spectra:
        result["autoencoder"] = autoencoder_metrics(bundle.encoder, cat, idx, real_spectra=real_spectra)
    result["acceptance"] = acceptance(result)
    result["meta"]["seconds"] = time.perf_counter() - t0
    if figures_dir is not None:
        result["meta"]["figures"] = [str(p) for p in figures(figures_dir, arrays)]
    if write:
        write_evaluation(bundle.path, result)
    return result


def _model_metrics(result, arrays, bundle, cat, idx, latents, targets) -> None:
    """Our IR posterior's metrics (detection-conditioned prediction), per class, and the two
    baselines' (in place)."""
    if bundle.predictor is not None:
        post = bundle.predictor.predict(
            build_features(bundle.predictor.feature_kind, cat.table, idx, latents)
        )
        pred_detected = post.detected_mean_mag()
        result.update(ir_metrics(post, targets, pred=pred_detected))
        result["true_mean"] = ir_metrics(post, targets, pred="mean")
        by_class = chi2_by_class(post, targets, cat.table, idx, pred=pred_detected)
        if by_class is not None:
            result["by_class"] = by_class
        arrays["posteriors"]["ours"] = post
    result["baselines"] = {}
    if bundle.paper_mlp is not None:
        post = bundle.paper_mlp.predict(build_features("paper", cat.table, idx, latents))
        result["baselines"]["paper_mlp"] = ir_metrics(post, targets)
        arrays["posteriors"]["paper_mlp"] = post
    if bundle.photometry_only is not None:
        post = bundle.photometry_only.predict(build_features("photometry", cat.table, idx))
        result["baselines"]["photometry_only"] = ir_metrics(post, targets, pred="detected")
        arrays["posteriors"]["photometry_only"] = post


def _property_metrics(result, arrays, bundle, cat, idx, latents, floors: dict) -> None:
    """The property heads against the catalog's truth, when both exist (in place)."""
    if bundle.properties is not None:
        from .properties import property_targets

        try:
            pt = property_targets(cat.table, idx)
        except ModelError as exc:
            result["properties"] = f"not evaluated: {exc}"
        else:
            pp = bundle.properties.predict(
                build_features(bundle.properties.feature_kind, cat.table, idx, latents)
            )
            result["properties"] = property_metrics(pp, pt, floors)
            arrays["properties"] = (pp, pt)
    else:
        result["properties"] = "not evaluated: no property heads in the model directory"


def _paper_comparison(result, bundle, cat, idx, latents, targets, arrays, split, ceiling) -> None:
    """Add the paper's Table 3, the shipped paper MLP's training log, the paper-inputs ablation
    and the ceiling ratios to ``result`` (in place)."""
    result["paper_table3"] = {"chi2_n_paper": dict(PAPER_TABLE3_CHI2_N), "source": PAPER_TABLE3_SOURCE}
    if bundle.paper_mlp is not None:
        result["paper_mlp_training"] = paper_mlp_training_log(bundle.paper_mlp.meta)
    from .paper_recipe import load_ablation, load_recipe_model

    rec = load_recipe_model(bundle.path)
    if rec is not None:  # the demo-recipe model kept beside the shipped paper MLP
        post = rec.predict(build_features("paper", cat.table, idx, latents))
        result["baselines"]["paper_mlp_recipe"] = ir_metrics(post, targets)
        result["paper_mlp_recipe_training"] = paper_mlp_training_log(rec.meta)
    abl = load_ablation(bundle.path)
    if abl is not None:
        post = abl.predict(build_features(abl.feature_kind, cat.table, idx, latents))
        result["baselines"]["paper_inputs_ensemble"] = ir_metrics(post, targets, pred="detected")
        arrays["posteriors"]["paper_inputs_ensemble"] = post
    if ceiling is None:
        ceiling, src = load_ceiling(cat.path, split, len(idx))
    elif not isinstance(ceiling, dict):  # a file: used only if measured on this catalog, split and size
        ceiling, src = load_ceiling(cat.path, split, len(idx), path=ceiling)
    else:
        src = "argument"
    result["ceiling"] = ceiling_ratios(result, ceiling, src)


def write_evaluation(model_dir, result: dict) -> None:
    """Write evaluation.json and MODEL_CARD.md into a model directory and register them."""
    from ..jsonutil import json_default
    from .registry import register_file

    d = Path(model_dir)
    (d / "evaluation.json").write_text(json.dumps(result, indent=2, default=json_default))
    register_file(d, "evaluation.json")
    from .model_card import write_model_card

    write_model_card(d, result)
    register_file(d, "MODEL_CARD.md")
