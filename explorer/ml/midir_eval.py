"""Data, metrics, the three modes and the shipped file of the mid-IR spectrum model (issue 15).

Modes (:data:`MODES`):

* ``optical``: the prior of the model trained on the predictor's features (latents, z,
  normalisation, aperture corrections, ugriz);
* ``optical+wise``: that prior conditioned on the observed W1-W4 (:mod:`.midir_condition`);
* ``photometry``: the model trained on ugriz + z only, conditioned on W1-W4 (Rissaki et al.'s
  setting: photometry only).

Metrics (:func:`spectrum_metrics`): Rissaki et al.'s chi^2 (their Eq. 6) of the posterior median
over 5-35 micron, for 100 random test galaxies (number below 5, median) and for all evaluated
ones; the fraction of true f_nu inside the central 68/95% bands per wavelength bin (3-35 micron);
the PAH 7.7 and 11.3 micron band fluxes of the median against the truth; and W1-W4 of the draws
against the catalog's noiseless truth (and against the shipped predictor where given).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelError
from .data import build_features, wise_targets
from .midir import (
    OUTPUT_RANGE_UM,
    PAH_WINDOWS_UM,
    RISSAKI_RANGE_UM,
    MidIRModel,
    SpectrumPosterior,
    draw_quantiles,
    in_range,
    log_total,
    wise_mjy_to_mag,
)
from .midir_condition import condition_on_wise

MODES = ("optical", "optical+wise", "photometry")
MIDIR_FILE = "midir.pt"
C_UM_HZ = 2.99792458e14


# --- data ---------------------------------------------------------------------------------------
def midir_data(cat, bundle, idx, progress: bool = False, chunk: int = 4096, truth: bool = True,
               optical_kind: str | None = None) -> dict:  # fmt: skip
    """Inputs (and, on a simulated catalog, truths) of rows ``idx``, encoded with ``bundle``'s encoder.

    ``truth=True`` needs the catalog's ``/ir_rest`` spectra; without it, or on a catalog without
    them, ``log_fnu`` and ``truth_mag`` are left out. ``optical_kind``: the feature set of the
    optical model (default: the bundle's predictor's, else ``spectrum``).
    """
    if truth and not cat.has_ir_rest:
        raise ModelError(f"{cat.path}: no rest-frame IR spectra (/ir_rest): simulate a v2 catalog")
    idx = np.asarray(idx, int)
    lat, x, kind = optical_features(cat, bundle, idx, progress, optical_kind)
    return {
        **midir_targets(cat, idx, truth=truth, chunk=chunk),
        "latents": lat,
        "x_optical": x,
        "optical_kind": kind,
        "x_photometry": build_features("photometry", cat.table, idx),
    }


def optical_features(cat, bundle, idx, progress: bool = False, optical_kind: str | None = None):
    """``(latents, features, kind)`` of rows ``idx``: ``bundle``'s encoder latents and the optical
    model's feature set built on them (default: the bundle's predictor's, else ``spectrum``)."""
    idx = np.asarray(idx, int)
    lat = bundle.catalog_latents(cat, idx, progress=progress)
    kind = optical_kind or (
        bundle.predictor.config.feature_kind if bundle.predictor is not None else "spectrum"
    )
    return lat, build_features(kind, cat.table, idx, lat), kind


def load_feature_models(model_dir):
    """A model directory's encoder, and its predictor where it has one (whose feature set the
    mid-IR model uses; without one, ``spectrum`` features)."""
    from .registry import load_models, read_manifest

    has_pred = "predictor.pt" in read_manifest(model_dir)["files"]
    return load_models(model_dir, components=["encoder", "predictor"] if has_pred else ["encoder"])


def midir_targets(cat, idx, truth: bool = True, chunk: int = 4096) -> dict:
    """What every mid-IR model of rows ``idx`` is conditioned on and scored against, whatever its
    inputs: ids, z, the catalog's W1-W4 (mag, sigma, upper-limit flags), the class and, with
    ``truth`` on a catalog with ``/ir_rest``, the true spectra (``wave_um``, ``log_fnu``), the
    noiseless W1-W4 (``truth_mag``) and the auxiliary heads' truth columns."""
    idx = np.asarray(idx, int)
    t = cat.table
    w = wise_targets(t, idx) if "w1_mag_vega" in t else None
    nan4 = np.full((len(idx), 4), np.nan)
    out = {
        "idx": idx,
        "id": np.asarray(t["id"]).astype(str)[idx],
        "z": np.asarray(t["z"], float)[idx],
        "wise_mag": w.mag if w else nan4,
        "wise_sigma": w.sigma if w else nan4,
        "wise_is_ul": w.is_ul if w else np.zeros((len(idx), 4), bool),
    }
    if "class_label" in t:
        out["class_label"] = np.asarray(t["class_label"]).astype(str)[idx]
    if truth and cat.has_ir_rest:
        ys = []
        for s in range(0, len(idx), chunk):
            ir = cat.ir_rest(idx[s : s + chunk])
            out["wave_um"] = np.asarray(ir["wave_um"], float)
            ys.append(log_total(ir))
        out["log_fnu"] = np.concatenate(ys) if ys else np.zeros((0, 0))
        flux = np.stack([np.asarray(t[f"truth_w{b}_flux_mjy"], float)[idx] for b in range(1, 5)], 1)
        out["truth_mag"] = wise_mjy_to_mag(flux)
        from .midir_aux import AUX_TARGETS  # the auxiliary heads' targets (train-midir --aux)

        out.update({c: np.asarray(t[c], float)[idx] for c in AUX_TARGETS if c in t})
    return out


def subset(data: dict, sel) -> dict:
    return {k: (v[sel] if isinstance(v, np.ndarray) and v.ndim and len(v) == len(data["idx"]) else v)
            for k, v in data.items()}  # fmt: skip


# --- the modes ----------------------------------------------------------------------------------
def posterior(models: dict, mode: str, data: dict) -> SpectrumPosterior:
    """The spectrum posterior of the rows of ``data`` in one of :data:`MODES`."""
    if mode not in MODES:
        raise ModelError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    key = "photometry" if mode == "photometry" else "optical"
    post = models[key].predict(data[f"x_{key}"], data["z"])
    if mode == "optical":
        return post
    return condition_on_wise(post, data["wise_mag"], data["wise_sigma"], data["wise_is_ul"])


# --- metrics ------------------------------------------------------------------------------------
def rissaki_chi2(s_rec: np.ndarray, s_true: np.ndarray, wave_um: np.ndarray) -> np.ndarray:
    """(N,) Rissaki et al. Eq. 6: mean over 5-35 micron of (S_rec - S_true)^2 / ((0.1 S_rec)^2 + (0.1 S_true)^2)."""
    sel = in_range(wave_um, RISSAKI_RANGE_UM)
    a, b = s_rec[:, sel], s_true[:, sel]
    return np.mean((a - b) ** 2 / ((0.1 * a) ** 2 + (0.1 * b) ** 2), axis=1)


def pah_band_flux(fnu_mjy: np.ndarray, wave_um: np.ndarray, window_um) -> np.ndarray:
    """(N,) band flux (mJy Hz) above a straight continuum (in f_nu vs nu) between the window edges."""
    lo, hi = window_um
    sel = (wave_um >= lo) & (wave_um <= hi)
    nu = C_UM_HZ / wave_um[sel]
    f = fnu_mjy[:, sel]
    cont = f[:, :1] + (f[:, -1:] - f[:, :1]) * (nu - nu[0]) / (nu[-1] - nu[0])
    return -np.trapezoid(f - cont, nu, axis=1)  # nu decreases along the grid


def _robust_sd(x):
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else float("nan")


def spectrum_metrics(post: SpectrumPosterior, data: dict, n_draws: int = 500, n_rissaki: int = 100,
                     seed: int = 0, predictor_mag=None, chunk: int = 64) -> dict:  # fmt: skip
    """All the metrics of the module docstring for the galaxies of ``post`` (rows of ``data``)."""
    wave = data["wave_um"]
    levels = (0.68, 0.95)
    qs = [0.5] + [q for lv in levels for q in ((1 - lv) / 2, (1 + lv) / 2)]
    inside = {lv: [] for lv in levels}
    raw = {lv: [] for lv in levels}  # the bands as drawn, before the level recalibration
    med, wise_med, wise_cat = [], [], []
    for s in range(0, len(post), chunk):
        sl = slice(s, s + chunk)
        part = post.part(sl)
        draws = part.sample_log(n_draws, seed + s)
        y = data["log_fnu"][sl]
        q_raw, q = draw_quantiles(draws, qs), draw_quantiles(draws, part.level_probs(qs))  # (5, n, W)
        for store, qq in ((raw, q_raw), (inside, q)):
            for k, lv in enumerate(levels):
                store[lv].append((y >= qq[1 + 2 * k]) & (y <= qq[2 + 2 * k]))
        med.append(10.0 ** q[0])  # the median: the same either way
        wise_med.append(np.median(part.wise_mag_draws(min(n_draws, 300), seed + s), axis=1))
        wise_cat.append(np.median(part.wise_mag_draws(min(n_draws, 300), seed + s, catalog=True), axis=1))
    med, wise_med, wise_cat = np.concatenate(med), np.concatenate(wise_med), np.concatenate(wise_cat)
    truth = 10.0 ** data["log_fnu"]
    chi2 = rissaki_chi2(med, truth, wave)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(chi2), size=min(n_rissaki, len(chi2)), replace=False)
    out = {
        "n_galaxies": len(chi2),
        "rissaki": {"n_random": len(pick), "n_chi2_below_5": int(np.sum(chi2[pick] < 5)),
                    "median_chi2": float(np.median(chi2[pick])), "all_fraction_below_5": float(np.mean(chi2 < 5)),
                    "all_median_chi2": float(np.median(chi2))},
        "coverage": _coverage_table(inside, wave),
        "coverage_as_drawn": _coverage_table(raw, wave),
        "pah": {},
        "wise_vs_truth_mag": _offsets(wise_med, data["truth_mag"]),
        "wise_catalog_vs_detected_mag": _offsets(wise_cat, np.where(data["wise_is_ul"], np.nan, data["wise_mag"])),
    }  # fmt: skip
    for name, win in PAH_WINDOWS_UM.items():
        ft, fp = pah_band_flux(truth, wave, win), pah_band_flux(med, wave, win)
        ok = ft > 0.05 * np.median(np.abs(ft))
        frac = fp[ok] / ft[ok] - 1
        out["pah"][name] = {"window_um": list(win), "n": int(ok.sum()), "median_frac_offset": float(np.median(frac)),
                            "robust_frac_scatter": _robust_sd(frac), "frac_scatter_68": float(np.diff(np.quantile(frac, [0.16, 0.84]))[0] / 2)}  # fmt: skip
    if predictor_mag is not None:
        out["wise_catalog_vs_predictor_mag"] = _offsets(wise_cat, predictor_mag)
        out["wise_spectrum_vs_predictor_mag"] = _offsets(wise_med, predictor_mag)
        out["predictor_vs_truth_mag"] = _offsets(predictor_mag, data["truth_mag"])
        out["predictor_vs_detected_mag"] = _offsets(
            predictor_mag, np.where(data["wise_is_ul"], np.nan, data["wise_mag"])
        )
    out["rissaki_by_group"] = rissaki_by_group(chi2, data)
    out["_chi2"] = chi2
    return out


def rissaki_by_group(chi2: np.ndarray, data: dict) -> dict:
    """The Rissaki chi^2 of all evaluated galaxies split by what WISE detected (W3 and W4, W3 only,
    neither... as the catalog flags them) and by class: where the spectrum is and is not pinned down."""
    ul = np.asarray(data["wise_is_ul"], bool)
    groups = {
        "W3 and W4 detected": ~ul[:, 2] & ~ul[:, 3],
        "W3 detected, W4 upper limit": ~ul[:, 2] & ul[:, 3],
        "W3 upper limit": ul[:, 2],
    }
    if "class_label" in data:
        groups.update({f"class {c}": data["class_label"] == c for c in np.unique(data["class_label"])})
    return {
        name: {"n": int(sel.sum()), "fraction_below_5": float(np.mean(chi2[sel] < 5)) if sel.any() else None,
               "median_chi2": float(np.median(chi2[sel])) if sel.any() else None}
        for name, sel in groups.items()
    }  # fmt: skip


def _offsets(a, b) -> dict:
    d = a - b
    return {f"W{k + 1}": {"median_offset_mag": float(np.nanmedian(d[:, k])), "robust_sd_mag": _robust_sd(d[:, k])}
            for k in range(4)}  # fmt: skip


def _coverage_table(inside: dict, wave: np.ndarray, n_bins: int = 8) -> dict:
    sel = in_range(wave, OUTPUT_RANGE_UM)
    edges = np.geomspace(*OUTPUT_RANGE_UM, n_bins + 1)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        b = sel & (wave >= lo) & (wave < hi)
        rows.append({"bin_um": [round(float(lo), 2), round(float(hi), 2)],
                     **{f"inside_{int(lv * 100)}": float(np.concatenate(v)[:, b].mean()) for lv, v in inside.items()}})  # fmt: skip
    return {
        "bins": rows,
        **{f"overall_{int(lv * 100)}": float(np.concatenate(v)[:, sel].mean()) for lv, v in inside.items()},
    }


# --- the shipped file ---------------------------------------------------------------------------
def save_midir(model_dir, models: dict, info: dict) -> Path:
    """Write ``midir.pt`` (the optical and photometry models of one design) and register it."""
    from .registry import register_file

    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / MIDIR_FILE
    tmp = path.with_suffix(".pt.partial")
    torch.save({k: m.state() for k, m in models.items()}, tmp)
    tmp.replace(path)
    cfg = {
        k: {"design": m.design, "feature_kind": m.feature_kind, "feature_names": m.x_scaler.names}
        for k, m in models.items()
    }
    register_file(d, MIDIR_FILE, component="midir", config=cfg, info=info)
    return path


def load_midir(model_dir, check: bool = True) -> dict:
    """``{"optical": MidIRModel, "photometry": MidIRModel}`` from ``<model_dir>/midir.pt``."""
    from .registry import read_manifest, resolve_model_dir, sha256_file

    d = resolve_model_dir(model_dir)
    man = read_manifest(d)
    f = d / MIDIR_FILE
    if MIDIR_FILE not in man["files"] or not f.is_file():
        raise ModelError(
            f"{d}: no mid-IR model ({MIDIR_FILE}); train one with `python -m explorer train-midir CATALOG --name {d.name}`"
        )
    if check and sha256_file(f) != man["files"][MIDIR_FILE]["sha256"]:
        raise ModelError(f"{f} is corrupt or was changed: its sha256 does not match {d / 'manifest.json'}")
    try:
        st = torch.load(f, map_location="cpu", weights_only=True)
        return {k: MidIRModel.from_state(v) for k, v in st.items()}
    except Exception as exc:
        raise ModelError(f"{f} does not hold a valid mid-IR model: {type(exc).__name__}: {exc}") from None


def write_json(path, obj) -> None:
    from ..jsonutil import json_default

    Path(path).write_text(json.dumps(obj, indent=2, default=json_default))
