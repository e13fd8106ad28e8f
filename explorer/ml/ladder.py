"""The information ladder of a simulated catalog: how much WISE information each kind of input holds.

Issue 14, item 6. The same censored full-covariance IR network (:func:`.predictor.train_ir_ensemble`)
is trained on the training split from four inputs, and scored on the test split in both chi^2_N
conventions per band and per class (:func:`.evaluate.ir_metrics`, :func:`.evaluate.chi2_by_class`):

* ``truth_all``: every truth quantity, including the hidden deviates (q_PAH, gamma, U_min, dust
  mass, covering factor and torus slope as drawn). A capacity check: chi^2_N ~ 1 means the network
  can learn the simulator and only the WISE noise remains.
* ``truth_visible``: the exact values of the quantities an optical analysis measures (stellar mass,
  SFR, stellar and gas metallicity, A_V, B/T, burst, fiber fraction, r_50, AGN [OIII] luminosity and
  type). What stays above 1 is the hidden (optically invisible) scatter of this simulation.
* ``truth_measured``: the same quantities with the random errors of their usual SDSS measurements
  (:data:`MEASUREMENT_NOISE`, each with its source).
* ``spectrum``: the spectrum and photometry themselves, i.e. :func:`.ceiling.information_ceiling`
  (about 35 min on 2 cores; run it separately and pass its JSON with ``--spectrum-json``).

The ladder says how much IR the optical holds *in this simulation*; it is a measurement, not a target.
Run: ``python -m explorer ladder runs/sim50k.h5 --json``.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ModelError

#: Truth columns of ``truth_visible`` (exact) and ``truth_measured`` (with noise), log-transformed
#: where marked ``log``.
VISIBLE = (
    ("z", None),
    ("truth_r_mag_model", None),
    ("truth_log_mstar", None),
    ("truth_log_sfr", None),
    ("truth_zmet_stellar", "log"),
    ("truth_oh12", None),
    ("truth_av", None),
    ("truth_bulge_to_total", None),
    ("truth_burst_frac", "log"),
    ("truth_burst_age_gyr", "log"),
    ("truth_fiber_frac", None),
    ("truth_r50_kpc", "log"),
    ("truth_log_loiii_agn", None),
    ("truth_agn_type", None),
    ("truth_agn_liner", None),
)
#: Extra truth columns of ``truth_all``: the hidden deviates' results.
HIDDEN = (
    ("truth_qpah", "log"),
    ("truth_gamma", "log"),
    ("truth_umin", "log"),
    ("truth_umin_bulge", "log"),
    ("truth_log_mdust", None),
    ("truth_covering_factor", None),
    ("truth_torus_alpha", None),
    ("truth_log_ldisk_agn", None),
)
#: 1-sigma random errors of SDSS measurements of the visible quantities (dex unless noted):
#: stellar mass 0.1 (Kauffmann et al. 2003a), SFR 0.3 (Brinchmann et al. 2004, Halpha and D4000
#: based), stellar metallicity 0.15 (Gallazzi et al. 2005), 12+log(O/H) 0.1 (Tremonti et al. 2004),
#: A_V 0.15 mag (Balmer decrement at typical S/N), B/T 0.1 (Simard et al. 2011), burst mass fraction
#: and age 0.3 (Kauffmann et al. 2003b: weakly constrained by D4000-Hdelta_A), fiber fraction 0.05
#: (fiber vs model magnitudes), r_50 0.05 (Simard et al. 2011), L[OIII] 0.1 (line flux).
MEASUREMENT_NOISE = {
    "truth_log_mstar": 0.1,
    "truth_log_sfr": 0.3,
    "truth_zmet_stellar": 0.15,
    "truth_oh12": 0.1,
    "truth_av": 0.15,
    "truth_bulge_to_total": 0.1,
    "truth_burst_frac": 0.3,
    "truth_burst_age_gyr": 0.3,
    "truth_fiber_frac": 0.05,
    "truth_r50_kpc": 0.05,
    "truth_log_loiii_agn": 0.1,
}
RUNGS = ("truth_all", "truth_visible", "truth_measured")


def truth_features(
    table: dict, idx, rung: str, rng: np.random.Generator | None = None, extra: tuple = ()
) -> np.ndarray:
    """Feature matrix of one rung for rows ``idx`` (NaN where a quantity does not exist, e.g. the
    AGN columns of galaxies without an AGN, and a burst age without a burst); ``extra`` appends
    more ``(column, transform)`` truth columns (the mid-IR ladder's ``truth_every``)."""
    cols = VISIBLE + (HIDDEN if rung == "truth_all" else ()) + tuple(extra)
    missing = [c for c, _ in cols if c not in table]
    if missing:
        raise ModelError(f"the information ladder needs a simulated catalog (v2); missing columns: {missing}")
    noise = MEASUREMENT_NOISE if rung == "truth_measured" else {}
    x = truth_columns(table, idx, cols, noise, rng)
    # "no burst" and "no AGN" are inputs, not guesses: one flag each
    names = [c for c, _ in cols]
    flags = [~np.isfinite(x[:, names.index(c)]) for c in ("truth_burst_frac", "truth_log_loiii_agn")]
    return np.concatenate([x] + [f[:, None].astype(float) for f in flags], 1)


def truth_columns(
    table: dict, idx, cols, noise: dict | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """(len(idx), len(cols)) truth columns ``(name, transform)``, log10 where ``transform`` is
    ``"log"`` (NaN for values <= 0), plus Gaussian errors of ``noise[name]`` (in the transformed
    units) drawn from ``rng`` for the columns ``noise`` names."""
    missing = [c for c, _ in cols if c not in table]
    if missing:
        raise ModelError(f"the information ladder needs a simulated catalog (v2); missing columns: {missing}")
    idx = np.asarray(idx, dtype=int)
    out = []
    for name, transform in cols:
        x = np.asarray(table[name], float)[idx]
        if transform == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(x > 0, np.log10(x), np.nan)
        if noise and name in noise:
            x = x + noise[name] * rng.standard_normal(x.size)
        out.append(x)
    return np.stack(out, 1) if out else np.zeros((idx.size, 0))


def information_ladder(
    catalog,
    *,
    rungs=RUNGS,
    split: str = "test",
    n_members: int = 2,
    epochs: int = 150,
    max_train: int | None = None,
    spectrum_result: dict | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train and score one IR network per rung; ``spectrum_result`` (the ceiling's JSON) is added
    as the last rung. Returns ``{"rungs": {rung: {"bands", "colors", "by_class", ...}}, ...}``."""
    import torch

    from ..catalog import Catalog
    from .data import wise_targets

    torch.set_num_threads(2)
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    t = cat.table
    idx = {s: np.sort(cat.split_indices(s)) for s in ("train", "valid", split)}
    if max_train is not None and idx["train"].size > max_train:
        idx["train"] = np.sort(np.random.default_rng(seed).choice(idx["train"], max_train, replace=False))
    targets = {s: wise_targets(t, i) for s, i in idx.items()}
    out = {"catalog": str(cat.path), "split": split, "n_train": int(idx["train"].size), "rungs": {}}
    for rung in rungs:
        rng = np.random.default_rng([seed, RUNGS.index(rung)])
        x = {s: truth_features(t, i, rung, rng) for s, i in idx.items()}
        out["rungs"][rung] = _fit_and_score(x, targets, t, idx, split, n_members, epochs, seed, progress)
    if spectrum_result is not None:
        keep = ("bands", "colors", "by_class")
        out["rungs"]["spectrum"] = {k: spectrum_result[k] for k in keep if k in spectrum_result}
        out["rungs"]["spectrum"]["source"] = "explorer.ml.ceiling.information_ceiling (its JSON)"
    out["measurement_noise"] = dict(MEASUREMENT_NOISE)
    return out


def _fit_and_score(x, targets, table, idx, split, n_members, epochs, seed, progress) -> dict:
    from .evaluate import chi2_by_class, ir_metrics
    from .predictor import IRConfig, fit_cov_scale, train_ir_ensemble

    t0 = time.perf_counter()
    cfg = IRConfig(feature_kind="truth", n_members=n_members, epochs=epochs, seed=seed)
    ens = train_ir_ensemble(
        x["train"], targets["train"], x["valid"], targets["valid"], cfg, progress=progress
    )
    ens.cov_scale = fit_cov_scale(ens, x["valid"], targets["valid"])
    post = ens.predict(x[split])
    pred = post.detected_mean_mag()
    res = ir_metrics(post, targets[split], pred=pred)
    res["by_class"] = chi2_by_class(post, targets[split], table, idx[split], pred=pred)
    res["n_features"] = int(x["train"].shape[1])
    res["train_seconds"] = round(time.perf_counter() - t0, 1)
    return res


#: how the rungs are named in the Markdown table
RUNG_LABELS = {
    "truth_all": "all truth, hidden deviates included (capacity check)",
    "truth_visible": "exact visible truth (M*, SFR, Z*, O/H, A_V, B/T, burst, fiber fraction, r₅₀, L[O III], AGN type)",
    "truth_measured": "the same with SDSS measurement errors (`MEASUREMENT_NOISE`, each with its source)",
    "spectrum": "the spectrum and photometry (`ceiling`)",
}
#: the paper's Table 3 (their MLP on real galaxies), chi^2_N in the paper's convention
_PAPER_TABLE3 = {"W1": 1.33, "W2": 1.17, "W3": 2.23, "W4": 1.41}


def ladder_markdown(out: dict, command: str) -> str:
    """The ladder as a Markdown table (standard / paper's chi^2_N per band and rung) with the W3
    chi^2_N per class of each rung under it; ``command`` is named above the table."""
    from .model_card import fmt_metric as fmt

    bands = ("W1", "W2", "W3", "W4")

    def cell(m):
        if not m:
            return "–"
        a, b = m.get("chi2_n"), m.get("chi2_n_paper")
        return f"{fmt(a)} / {fmt(b)}"

    L = [
        f"`{command}` ({out.get('n_train', '?')} training galaxies, scored on the `{out.get('split')}` split of"
        f" `{out.get('catalog')}`). χ²_N of detected galaxies, standard convention / the paper's Table 3"
        " convention (χ = Δ/√σ):",
        "",
        "| input | " + " | ".join(bands) + " | training [s] |",
        "|---" * (len(bands) + 2) + "|",
    ]
    for rung, res in out["rungs"].items():
        cells = [cell(res.get("bands", {}).get(b)) for b in bands]
        L.append(
            f"| {RUNG_LABELS.get(rung, rung)} | "
            + " | ".join(cells)
            + f" | {res.get('train_seconds', '–')} |"
        )
    L.append(
        "| *the paper's model on real galaxies (Table 3)* | "
        + " | ".join(f"– / {_PAPER_TABLE3[b]:.2f}" for b in bands)
        + " | |"
    )
    L += [
        "",
        "W3 χ²_N per class (standard convention):",
        "",
        "| input | "
        + " | ".join(
            sorted({c for res in out["rungs"].values() for c in (res.get("by_class", {}).get("W3") or {})})
        )
        + " |",
    ]
    classes = sorted({c for res in out["rungs"].values() for c in (res.get("by_class", {}).get("W3") or {})})
    L.append("|---" * (len(classes) + 1) + "|")
    for rung, res in out["rungs"].items():
        w3 = res.get("by_class", {}).get("W3") or {}
        L.append(
            f"| {rung} | "
            + " | ".join("–" if c not in w3 else fmt(w3[c].get("chi2_n")) for c in classes)
            + " |"
        )
    return "\n".join(L)
