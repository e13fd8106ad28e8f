"""The mid-IR spectrum's information ladder: how well could *any* model predict it? (issue 15)

The same mid-IR model as ``train-midir`` (:func:`.midir_fit.fit_midir`, design ``pca`` by default:
the basis, the full-covariance ensemble prior, the catalog-offset model, the WISE conditioning) is
trained on the training split of a simulated v2 catalog from the truth inputs of the WISE ladder
(:func:`.ladder.truth_features`) instead of the encoder's features, and scored on the same test
galaxies as ``train-midir`` (:func:`.midir_train._test_rows`, same seed) with the same metrics
(:func:`.midir_eval.spectrum_metrics`), with and without conditioning on the catalog's W1-W4:

* ``basis``: the true test spectra projected on the model's basis (no prediction at all): what the
  basis and its out-of-basis residual allow;
* ``truth_all``: every truth quantity, the hidden deviates (q_PAH, U_min, gamma, dust mass, torus)
  included: a capacity check of the prior network;
* ``truth_visible``: the exact values of what an optical analysis usually measures. Not a ceiling
  for a model on the optical spectrum: the spectrum holds more (the dust luminosity, which energy
  balance ties to the attenuated starlight, decides the mid-IR; see ``truth_visible+truth_log_ldust``);
* ``truth_measured``: the same with SDSS measurement errors (:data:`.ladder.MEASUREMENT_NOISE`);
* ``truth_every``: ``truth_all`` and every other stored truth quantity that shapes the 1-40 um
  spectrum (:data:`SPECTRUM_EXTRA`: the star-formation history, the bulge's and disk's
  attenuation and metallicity, L_dust, the old stars' PAH share, the AGN's bolometric luminosity
  and torus fade...): with nothing hidden, what the model itself leaves (a capacity check for the
  mid-IR, where ``truth_all`` is the WISE ladder's);
* ``truth_unhidden``: ``truth_every`` without the hidden deviates' results (:data:`.ladder.HIDDEN`):
  ``truth_visible`` and :data:`SPECTRUM_EXTRA`. Some of those extras are only partly visible in the
  optical (L_dust, the old stars' PAH share, the torus fade), so this is a generous bound on what
  an optical analysis could know;
* ``RUNG+COLUMN[+COLUMN...]`` (``truth_visible+truth_log_ldust``): a WISE-ladder rung with those truth
  columns added (log-transformed as in :data:`SPECTRUM_EXTRA`): which of the extras carries the
  difference; ``COLUMN~SIGMA`` gives the column a Gaussian error of SIGMA;
* ``encoder[+COLUMN...]``: the optical features of a model directory's encoder and predictor (what
  ``train-midir`` trains on): the shipped model again, and what it would gain from one more input.

Like the WISE ladder, this measures the simulation; nothing is tuned on it.
Run: ``python -m explorer midir-ladder runs/sim50k_v2.h5 --json``.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import ModelError
from .ladder import RUNGS, truth_columns, truth_features

LADDER_RUNGS = ("basis",) + RUNGS + ("truth_unhidden", "truth_every")
#: truth columns beyond ``truth_all`` (:data:`.ladder.HIDDEN`) that shape the rest-frame 1-40 um
#: spectrum (:mod:`explorer.simulate.irspec`'s stars, dust and AGN components), log-transformed where
#: marked; never the WISE magnitudes, fluxes or torus fractions (integrals of the answer)
SPECTRUM_EXTRA = (
    ("truth_sfh_age_gyr", "log"),
    ("truth_sfh_tau_gyr", "log"),
    ("truth_delta_ms", None),
    ("truth_av_bulge", None),
    ("truth_av_gas", None),
    ("truth_zmet_bulge", "log"),
    ("truth_zmet_disk", "log"),
    ("truth_fiber_frac_bulge", None),
    ("truth_veldisp_kms", "log"),
    ("truth_logu", None),
    ("truth_log_ldust", None),
    ("truth_pah_old_fraction", None),
    ("truth_log_lbol_agn", None),
    ("truth_log_edd", None),
    ("truth_torus_fade", None),
    ("truth_agn_oiii_share", None),
)
_TRANSFORMS = dict(SPECTRUM_EXTRA)
#: the two modes a truth rung is scored in (there is no photometry-only model of truth inputs)
LADDER_MODES = ("optical", "optical+wise")


def parse_rung(rung: str) -> tuple[str, tuple, dict]:
    """``"base+col+col~0.2"`` -> ``(base, extra columns, {col: error})``: the truth columns a rung
    adds to its base (log-transformed as in :data:`SPECTRUM_EXTRA`), ``~sigma`` giving one a random
    error of ``sigma`` in those units."""
    base, *cols = rung.split("+")
    noise, extra = {}, []
    for c in cols:
        name, _, sigma = c.partition("~")
        try:
            if sigma:
                noise[name] = float(sigma)
        except ValueError:
            raise ModelError(f"rung {rung!r}: {c!r} is not COLUMN~SIGMA with a number") from None
        extra.append((name, _TRANSFORMS.get(name)))
    if base in ("truth_every", "truth_unhidden"):
        extra = list(SPECTRUM_EXTRA) + extra
    return base, tuple(extra), noise


def rung_features(
    table: dict, idx, rung: str, seed: int = 0, encoder_x: np.ndarray | None = None
) -> np.ndarray:
    """The input matrix of one rung for rows ``idx``: :func:`.ladder.truth_features`; for
    ``truth_every`` (``truth_unhidden``) ``truth_all``'s (``truth_visible``'s) with
    :data:`SPECTRUM_EXTRA` added; for ``encoder`` the model's own optical features ``encoder_x``;
    with ``+COLUMN[~SIGMA]`` those truth columns added (NaN where a quantity does not exist; the
    scaler reads NaN as the training mean)."""
    base, extra, noise = parse_rung(rung)
    rng = np.random.default_rng([seed, len(RUNGS) + 1])  # the added columns' errors
    if base == "encoder":
        if encoder_x is None:
            raise ModelError(f"rung {rung!r} needs a model directory (--models) for the encoder's features")
        return np.concatenate([encoder_x, truth_columns(table, idx, extra, noise, rng)], 1)
    truth = {"truth_every": "truth_all", "truth_unhidden": "truth_visible"}.get(base, base)
    x = truth_features(table, idx, truth, np.random.default_rng([seed, RUNGS.index(truth)]), extra=extra)
    first = x.shape[1] - 2 - len(extra)  # the added columns stand before truth_features' two flags
    for k, (name, _) in enumerate(extra):
        if name in noise:
            x[:, first + k] += noise[name] * rng.standard_normal(len(x))
    return x


def midir_ladder(catalog, rungs=("basis", "truth_all", "truth_visible"), design: str = "pca",
                 n_latent: int = 12, epochs: int = 100, n_members: int = 3, max_eval: int = 1000,
                 n_draws: int = 500, seed: int = 0, progress: bool = True, command: str = "",
                 threads: int = 1, models=None, probes=()) -> dict:  # fmt: skip
    """Train and score one mid-IR model per truth rung (see the module docstring).

    Returns ``{"rungs": {rung: {mode: spectrum_metrics}}, "n_train", "n_test_evaluated", ...}``;
    the ``basis`` rung has one entry, ``"projection"``. ``probes`` (truth columns) adds
    ``"probes": {column: probe_column(...)}``: how well the ``models`` encoder's features predict each.
    """
    from ..catalog import Catalog
    from .midir_eval import midir_targets, subset
    from .midir_fit import MidIRConfig
    from .midir_train import _test_rows
    from .registry import catalog_provenance
    from .threads import torch_threads

    bad = [
        r for r in rungs if r not in LADDER_RUNGS and r.split("+")[0] not in LADDER_RUNGS[1:] + ("encoder",)
    ]
    if bad:
        raise ModelError(f"unknown rung(s) {bad}: choose from {', '.join(LADDER_RUNGS)}, encoder, or one of "
                         "these with truth columns added by '+' (truth_visible+truth_log_ldust, encoder+truth_log_ldust~0.2)")  # fmt: skip
    t0 = time.perf_counter()
    with Catalog(catalog) as cat:
        if not cat.has_ir_rest:
            raise ModelError(f"{cat.path}: no rest-frame IR spectra (/ir_rest): simulate a v2 catalog")
        tr, va = cat.split_indices("train"), cat.split_indices("valid")
        te = _test_rows(cat.split_indices("test"), max_eval, seed)
        idx = np.concatenate([tr, va, te])
        data = midir_targets(cat, idx)
        table = cat.table
        truth_features(table, idx[:1], "truth_visible")  # a catalog without truth columns: refused by name
        enc = (
            _encoder_features(cat, idx, models, progress)
            if probes or any(r.split("+")[0] == "encoder" for r in rungs)
            else None
        )
        x = {r: rung_features(table, idx, r, seed, enc) for r in rungs if r != "basis"}
        targets = {c: truth_columns(table, idx, [(c, _TRANSFORMS.get(c))])[:, 0] for c in probes}
        prov = catalog_provenance(cat)
    parts = {"train": slice(0, len(tr)), "valid": slice(len(tr), len(tr) + len(va)), "test": slice(len(tr) + len(va), None)}  # fmt: skip
    d = {k: subset(data, s) for k, s in parts.items()}
    cfg = MidIRConfig(design=design, n_latent=n_latent, epochs=epochs, n_members=n_members, seed=seed)
    out = {"command": command, "catalog": prov, "config": cfg.to_dict(), "n_train": len(tr), "n_valid": len(va),
           "n_test_evaluated": len(te), "seconds_data": round(time.perf_counter() - t0, 1), "rungs": {}}  # fmt: skip
    model = None
    with torch_threads(threads):
        for rung in rungs:
            t1 = time.perf_counter()
            if rung != "basis":
                xs = {k: x[rung][s] for k, s in parts.items()}
                out["rungs"][rung], model = _truth_rung(d, xs, cfg, n_draws, progress)
                out["rungs"][rung]["seconds"] = round(time.perf_counter() - t1, 1)
        for c, yc in targets.items():
            xs, ys = {k: enc[sl] for k, sl in parts.items()}, {k: yc[sl] for k, sl in parts.items()}
            out.setdefault("probes", {})[c] = probe_column(xs, ys, seed=seed, progress=progress)
    if "basis" in rungs:  # the first row of the table
        out["rungs"] = {"basis": {"projection": _basis_rung(d, cfg, model)}, **out["rungs"]}
    return out


def _encoder_features(cat, idx, models, progress: bool) -> np.ndarray:
    """The optical features the mid-IR model of ``models`` (a model directory) sees
    (:func:`.midir_eval.optical_features`, as ``train-midir`` builds them)."""
    from .midir_eval import load_feature_models, optical_features
    from .registry import resolve_model_dir

    if models is None:
        raise ModelError("an encoder rung needs a model directory (--models) for the encoder's features")
    return optical_features(cat, load_feature_models(resolve_model_dir(models)), idx, progress)[1]


def _truth_rung(d: dict, xs: dict, cfg, n_draws: int, progress: bool) -> tuple[dict, object]:
    from .midir_fit import fit_midir
    from .midir_train import evaluate_modes

    names = [f"truth_{k}" for k in range(xs["train"].shape[1])]
    model = fit_midir(xs["train"], d["train"]["log_fnu"], xs["valid"], d["valid"]["log_fnu"], d["train"]["wave_um"],
                      "truth", cfg, phot_train=d["train"], phot_valid=d["valid"], feature_names=names,
                      progress=progress)  # fmt: skip
    dte = dict(d["test"], x_optical=xs["test"])
    return evaluate_modes({"optical": model}, dte, None, n_draws, modes=LADDER_MODES), model


def _basis_rung(d: dict, cfg, model=None) -> dict:
    """Rissaki chi^2 of the true test spectra projected on a trained rung's decoder (or, without
    one, on the PCA basis of the training shapes), decoded without the residual scatter."""
    from .midir import PCABasis
    from .midir_eval import rissaki_by_group, rissaki_chi2

    yt = d["test"]["log_fnu"]
    if model is not None:
        rec = model.decode(model.encode_truth(yt))
    else:
        y = d["train"]["log_fnu"]
        mean = (y - y.mean(1, keepdims=True)).mean(0)
        basis, _ = PCABasis.fit(y - y.mean(1, keepdims=True) - mean, cfg.n_latent)
        shapes = yt - yt.mean(1, keepdims=True) - mean
        v = basis.components.numpy().astype(float)
        rec = yt.mean(1, keepdims=True) + mean + (shapes @ v.T) @ v
    chi2 = rissaki_chi2(10.0**rec, 10.0**yt, d["test"]["wave_um"])
    pick = np.random.default_rng(0).choice(len(chi2), size=min(100, len(chi2)), replace=False)
    return {"n_galaxies": len(chi2), "decoder": getattr(model, "design", "pca"),
            "rissaki": {"n_random": len(pick), "n_chi2_below_5": int(np.sum(chi2[pick] < 5)),
                        "median_chi2": float(np.median(chi2[pick])), "all_fraction_below_5": float(np.mean(chi2 < 5)),
                        "all_median_chi2": float(np.median(chi2))},
            "rissaki_by_group": rissaki_by_group(chi2, d["test"])}  # fmt: skip


#: how the rungs are named in the Markdown table
RUNG_LABELS = {
    "basis": "the true spectrum projected on the basis (no prediction)",
    "truth_all": "all truth, hidden deviates included (capacity check)",
    "truth_visible": "exact visible truth (what an optical analysis measures, without error)",
    "truth_measured": "the same with SDSS measurement errors",
    "truth_unhidden": "every truth quantity that shapes the spectrum but the hidden deviates (generous)",
    "truth_every": "every truth quantity that shapes the spectrum (nothing hidden)",
    "encoder": "the shipped model's optical features",
}


def rung_label(rung: str, short: bool = False) -> str:
    """How a rung is named in the tables: its base's label, then what it adds (``+ log_ldust ± 0.2``)."""
    base, *cols = rung.split("+")
    name = (RUNG_SHORT if short else RUNG_LABELS).get(base, base)
    added = [c.removeprefix("truth_").replace("~", " ± ") for c in cols]
    return " + ".join([name] + added)


def merge_ladders(outs: list[dict]) -> dict:
    """Several ``midir-ladder`` results (their ``--json``) as one: the rungs in the order given, a
    ``commands`` list. They must share the catalog's data, the training split and the test galaxies."""
    if not outs:
        raise ModelError("no ladder results to merge")
    first = outs[0]
    key = ("n_train", "n_test_evaluated")
    for o in outs[1:]:
        same_data = o["catalog"].get("content_sha256") == first["catalog"].get("content_sha256")
        if not same_data or any(o[k] != first[k] for k in key) or o["config"] != first["config"]:
            raise ModelError(f"ladder results of other data or settings cannot be merged: {o['command']!r} "
                             f"and {first['command']!r}")  # fmt: skip
    rungs, probes = {}, {}
    for o in outs:
        rungs.update(o["rungs"])
        probes.update(o.get("probes", {}))
    commands = [
        c for o in outs for c in (o.get("commands") or [o["command"]])
    ]  # a merged result keeps its own
    return {**first, "commands": commands, "rungs": rungs, "probes": probes}


def midir_ladder_markdown(out: dict, command: str, shipped: dict | None = None) -> list[str]:
    """The ladder as Markdown lines: one row per rung, for the optical and the optical + WISE mode
    the number of 100 random test galaxies with Rissaki chi^2 < 5, the fraction of all evaluated and
    the median; then the fraction below 5 by what WISE detected and by class. ``shipped`` (a
    ``midir_evaluation.json``) adds the shipped model's row on the same galaxies. A merged result
    (:func:`merge_ladders`) names every command that made it after ``command``."""
    if out.get("commands"):
        command = "`, `".join([command] + [c for c in out["commands"] if c != command])

    def cells(m):
        if m is None:
            return "– | – | –"
        r = m["rissaki"]
        return f"{r['n_chi2_below_5']}/{r['n_random']} | {100 * r['all_fraction_below_5']:.0f}% | {r['all_median_chi2']:.3g}"

    rows = [(rung_label(rung), rung_label(rung, short=True), res) for rung, res in out["rungs"].items()]
    if shipped:
        from .model_card_midir import design_label

        ship = shipped["shipped_design"]
        rows.append(
            (
                f"the shipped model (`{design_label(ship, shipped['designs'][ship])}`, `midir_evaluation.json`)",
                "shipped",
                shipped["designs"][ship]["test"],
            )
        )
    lines = [
        f"From `{command}` ({out['n_train']} training galaxies, the same {out['n_test_evaluated']} random test"
        " galaxies as `train-midir`; Rissaki χ² of the posterior median over 5–35 µm; the basis row projects"
        " the true spectra, no prediction):",
        "",
        "| input | optical: χ² < 5 (100 random) | (all) | median χ² | optical + WISE: χ² < 5 (100 random) | (all) | median χ² |",
        "|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for label, _, res in rows:
        first = res.get("optical", res.get("projection"))
        lines.append(f"| {label} | {cells(first)} | {cells(res.get('optical+wise'))} |")
    for c, p in out.get("probes", {}).items():
        lines += ["", f"The encoder's features predict `{c}` on the {p['n_test']} test galaxies with a robust standard"
                  f" deviation of {p['robust_sd']:.2f} (standard deviation {p['sd']:.2f}, median offset"
                  f" {p['median_offset']:+.2f}; the truth itself scatters by {p['truth_sd']:.2f}), from a"
                  " least-squares MLP probe (`--probe`)."]  # fmt: skip
    return lines + _group_lines([(short, res) for _, short, res in rows])


#: short column names of the by-group table
RUNG_SHORT = {
    "basis": "basis",
    "truth_all": "all truth",
    "truth_visible": "visible",
    "truth_measured": "measured",
    "truth_unhidden": "unhidden",
    "truth_every": "every truth",
    "encoder": "encoder",
}


def _group_lines(columns: list[tuple[str, dict]]) -> list[str]:
    """Fraction of the evaluated galaxies with chi^2 < 5 by what WISE detected and by class, one
    column per rung, each cell optical / optical + WISE (the galaxies are the same in every column)."""
    modes = ("projection", "optical", "optical+wise")
    columns = [(name, [res[m]["rissaki_by_group"] for m in modes if "rissaki_by_group" in res.get(m, {})])
               for name, res in columns]  # fmt: skip
    columns = [(name, g) for name, g in columns if g]
    if not columns:
        return []
    groups = list(columns[0][1][0])
    lines = ["", "Fraction with χ² < 5 by what WISE detected and by class, optical / optical + WISE"
             " (same galaxies in every column):", "",
             "| galaxies | n | " + " | ".join(name for name, _ in columns) + " |", "|---" * (len(columns) + 2) + "|"]  # fmt: skip

    def frac(g, name):
        f = g.get(name, {}).get("fraction_below_5")
        return "–" if f is None else f"{f:.2f}"

    for name in groups:
        n = columns[0][1][0][name]["n"]
        lines.append(
            f"| {name} | {n} | "
            + " | ".join(" / ".join(frac(g, name) for g in gs) for _, gs in columns)
            + " |"
        )
    return lines


def probe_column(x: dict, y: dict, seed: int = 0, epochs: int = 100, progress: bool = False) -> dict:
    """How well features predict one truth column: a least-squares MLP (two SiLU layers of 128,
    early stopping on the validation split) trained on ``x["train"]`` -> ``y["train"]`` and scored on
    ``x["test"]``: the median offset, robust (1.4826 MAD) and plain standard deviation of
    prediction - truth, in the column's units. Rows with a non-finite truth are left out."""
    import torch
    from torch import nn

    from .data import Scaler
    from .fit import EarlyStopping, fit_ensemble
    from .nets import silu_trunk

    ok = {k: np.isfinite(y[k]) for k in ("train", "valid", "test")}
    scaler = Scaler.fit(x["train"][ok["train"]])
    mean, sd = float(np.mean(y["train"][ok["train"]])), float(np.std(y["train"][ok["train"]]))

    def tensors(k):
        return (torch.as_tensor(scaler.transform(x[k][ok[k]]), dtype=torch.float32),
                torch.as_tensor((y[k][ok[k]] - mean) / sd, dtype=torch.float32))  # fmt: skip

    (xt, yt), (xv, yv), (xs, _) = tensors("train"), tensors("valid"), tensors("test")

    def build():
        trunk, width = silu_trunk(xt.shape[1], (128, 128))
        return nn.Sequential(trunk, nn.Linear(width, 1))

    def mse(net, xx, yy):
        return torch.mean((net(xx)[:, 0] - yy) ** 2)

    (net,), _ = fit_ensemble(build, [seed * 1000 + 700], lambda n, b: mse(n, xt[b], yt[b]), len(xt),
                             EarlyStopping(epochs=epochs, batch_size=512, lr=2e-3, weight_decay=1e-5, patience=15),
                             valid_loss=lambda n: float(mse(n, xv, yv)), desc="probe", progress=progress)  # fmt: skip
    with torch.no_grad():
        pred = net(xs)[:, 0].numpy() * sd + mean
    d = pred - y["test"][ok["test"]]
    mad = float(np.median(np.abs(d - np.median(d))))
    return {"n_test": int(d.size), "median_offset": float(np.median(d)), "robust_sd": 1.4826 * mad,
            "sd": float(np.std(d)), "truth_sd": float(np.std(y["test"][ok["test"]]))}  # fmt: skip
