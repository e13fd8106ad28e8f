"""``train-midir``: train both mid-IR designs on a simulated catalog, evaluate, ship the better.

For every design (``pca`` and ``glo``) two models are trained on the catalog's training split
(features of the model directory's encoder and predictor, and ugriz + z for the photometry
mode), early-stopped on the validation split, and evaluated in the three modes on the test split
(:func:`explorer.ml.midir_eval.spectrum_metrics`). The design shipped is chosen *before* the test
numbers are looked at: the lower median Rissaki chi^2 of the optical-only posterior median on
the validation split. ``midir.pt`` goes into the model directory (registered in its manifest),
``midir_evaluation.json`` beside it holds every number with the command that produced it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .data import feature_names
from .midir_calibrate import fit_band_levels
from .midir_eval import (
    MODES,
    midir_data,
    posterior,
    rissaki_chi2,
    save_midir,
    spectrum_metrics,
    subset,
    write_json,
)
from .midir_fit import MidIRConfig, fit_midir
from .threads import torch_threads


def _fit_pair(dtr: dict, dva: dict, cfg: MidIRConfig, n_latent_enc: int, progress: bool) -> dict:
    out = {}
    for key, kind in (("optical", dtr["optical_kind"]), ("photometry", "photometry")):
        out[key] = fit_midir(
            dtr[f"x_{key}"], dtr["log_fnu"], dva[f"x_{key}"], dva["log_fnu"], dtr["wave_um"], kind, cfg,
            phot_train=dtr, phot_valid=dva, feature_names=feature_names(kind, n_latent_enc), progress=progress,
        )  # fmt: skip
    return out


def _valid_score(models: dict, dva: dict) -> float:
    """Median Rissaki chi^2 of the optical-only posterior median on the validation rows (selection)."""
    med = 10.0 ** np.median(models["optical"].predict(dva["x_optical"], dva["z"]).sample_log(200, 0), axis=1)
    return float(np.median(rissaki_chi2(med, 10.0 ** dva["log_fnu"], dva["wave_um"])))


def evaluate_modes(models: dict, dte: dict, predictor_mag, n_draws: int, modes=MODES) -> dict:
    """:func:`spectrum_metrics` of each of ``modes`` on the rows of ``dte`` (seconds and the number of
    optical-only fallbacks added)."""
    res = {}
    for mode in modes:
        t0 = time.perf_counter()
        post = posterior(models, mode, dte)
        m = spectrum_metrics(post, dte, n_draws=n_draws, predictor_mag=predictor_mag)
        m.pop("_chi2")
        m["seconds"] = round(time.perf_counter() - t0, 1)
        m["n_fallback_optical_only"] = int(sum("optical-only" in n for n in post.notes))
        res[mode] = m
    return res


def train_midir(catalog, name, designs=("pca", "glo"), n_latent: int = 12, epochs: int = 100,
                n_members: int = 3, glo_epochs: int = 300, max_eval: int = 1000, n_draws: int = 500,
                seed: int = 0, progress: bool = True, command: str = "", threads: int = 1,
                aux_targets=()) -> dict:  # fmt: skip
    """Train, evaluate and ship (see the module docstring). Returns the evaluation dict.

    Parameters
    ----------
    catalog : path of a simulated v2 catalog (with ``/ir_rest``)
    name : model directory (name under ``models/`` or a path) holding the encoder and predictor;
        ``midir.pt`` and ``midir_evaluation.json`` are written into it
    designs : designs to train and compare
    max_eval : at most this many test galaxies are evaluated (a random subset, seed ``seed``)
    threads : torch threads (1: on a shared machine a second thread mostly waits)
    aux_targets : truth columns whose auxiliary heads (:mod:`.midir_aux`) feed every model's prior
    """
    from .registry import resolve_model_dir

    with torch_threads(threads):
        base = MidIRConfig(n_latent=n_latent, epochs=epochs, n_members=n_members, glo_epochs=glo_epochs,
                           seed=seed, aux_targets=tuple(aux_targets))  # fmt: skip
        return _train(catalog, resolve_model_dir(name), designs, base, max_eval, n_draws, progress, command)


def _train(catalog, d, designs, base: MidIRConfig, max_eval, n_draws, progress, command):
    """:func:`train_midir`'s work: one model pair per design, each with ``base``'s settings."""
    from ..catalog import Catalog
    from .midir_eval import load_feature_models
    from .registry import catalog_provenance

    bundle = load_feature_models(d)  # without a predictor: ``spectrum`` features, no comparison
    t0 = time.perf_counter()
    with Catalog(catalog) as cat:
        splits = {s: cat.split_indices(s) for s in ("train", "valid", "test")}
        te = _test_rows(splits["test"], max_eval, base.seed)
        data = midir_data(cat, bundle, np.concatenate([splits["train"], splits["valid"], te]), progress)
        prov = catalog_provenance(cat)
    n_tr, n_va = len(splits["train"]), len(splits["valid"])
    dtr, dva = subset(data, slice(0, n_tr)), subset(data, slice(n_tr, n_tr + n_va))
    dte = subset(data, slice(n_tr + n_va, None))
    has_pred = bundle.predictor is not None
    pred_mag = bundle.predictor.predict(dte["x_optical"]).quantiles([0.5])[:, 0] if has_pred else None
    out = {"command": command, "catalog": prov, "encoder_sha256": bundle.manifest["files"]["encoder.pt"]["sha256"],
           "n_train": n_tr, "n_valid": n_va, "n_test_evaluated": len(te), "designs": {}, "seconds_data": round(time.perf_counter() - t0, 1)}  # fmt: skip
    trained = {}
    for design in designs:
        t1 = time.perf_counter()
        cfg = replace(base, design=design)
        trained[design] = _fit_pair(dtr, dva, cfg, data["latents"].shape[1], progress)
        levels = fit_band_levels(trained[design], subset(dva, slice(0, CALIBRATION_ROWS)), seed=base.seed)
        t_fit = time.perf_counter() - t1
        out["designs"][design] = {"config": cfg.to_dict(), "valid_median_chi2_optical": _valid_score(trained[design], dva),
                                  "band_levels": levels,
                                  "seconds_train": round(t_fit, 1), "test": evaluate_modes(trained[design], dte, pred_mag, n_draws),
                                  "floor_mag": trained[design]["optical"].floor_mag.tolist(),
                                  "resid_dex_median": float(np.median(trained[design]["optical"].resid_dex))}  # fmt: skip
    ship = min(designs, key=lambda k: out["designs"][k]["valid_median_chi2_optical"])
    out["shipped_design"] = ship
    out["selection"] = (
        "lowest median Rissaki chi^2 of the optical-only posterior median on the validation split"
    )
    info = {"training_command": command, "seed": base.seed, "catalog": prov, "design": ship}
    out["path"] = str(save_midir(d, trained[ship], info))
    write_json(d / "midir_evaluation.json", out)
    _refresh_model_card(d)
    return out


#: validation galaxies behind the band recalibration (:func:`.midir_calibrate.fit_band_levels`)
CALIBRATION_ROWS = 2000


def recalibrate_midir(catalog, name, progress: bool = True, command: str = "", threads: int = 1) -> dict:
    """Fit the band levels (:mod:`.midir_calibrate`) of a model directory's ``midir.pt`` on the first
    :data:`CALIBRATION_ROWS` validation galaxies of the catalog it was trained on, save it (the
    manifest's training record kept, the command added), and evaluate it again
    (:func:`reevaluate_midir`). Returns the updated ``midir_evaluation.json``."""
    import json

    from ..catalog import Catalog
    from ..errors import ModelError
    from .midir_eval import load_feature_models, load_midir
    from .registry import read_manifest, register_file, resolve_model_dir, same_catalog

    d = resolve_model_dir(name)
    path = d / "midir_evaluation.json"
    if not path.exists():
        raise ModelError(f"{d}: no midir_evaluation.json: train first (python -m explorer train-midir)")
    doc = json.loads(path.read_text())
    ship = doc["shipped_design"]
    with torch_threads(threads):
        bundle, models = load_feature_models(d), load_midir(d)
        with Catalog(catalog) as cat:
            same, how = same_catalog(cat.path, doc["catalog"], cat.provenance)
            if not same:
                raise ModelError(
                    f"{catalog}: not the catalog {d / 'midir.pt'} was trained on (compared by {how})"
                )
            dva = midir_data(cat, bundle, cat.split_indices("valid")[:CALIBRATION_ROWS], progress)
        seed = int(doc["designs"][ship]["config"].get("seed", 0))
        levels = fit_band_levels(models, dva, seed=seed)
    entry = read_manifest(d).get("components", {}).get("midir", {})
    info = {k: v for k, v in entry.items() if k not in ("file", "config")}  # the training record, kept
    info["band_levels_fitted_by"] = command
    save_midir(d, models, info)
    doc["designs"][ship]["band_levels"] = levels
    write_json(path, doc)
    register_file(d, path.name)
    return reevaluate_midir(catalog, name, progress=progress, command=command, threads=threads)


def _test_rows(test: np.ndarray, max_eval: int, seed: int) -> np.ndarray:
    """The evaluated test galaxies: all, or a random ``max_eval`` of them (seed ``seed``)."""
    if len(test) > max_eval:
        return np.sort(np.random.default_rng(seed).choice(test, max_eval, replace=False))
    return test


def reevaluate_midir(catalog, name, n_draws: int = 500, progress: bool = True, command: str = "",
                     threads: int = 1) -> dict:  # fmt: skip
    """Evaluate the shipped ``midir.pt`` again on the same test galaxies (same ``max_eval`` and seed
    as its training run) with the current metrics, and update its design's entry in
    ``midir_evaluation.json`` (the other design's numbers are kept as they were). Returns the JSON."""
    import json

    from ..catalog import Catalog
    from ..errors import ModelError
    from .midir_eval import load_feature_models, load_midir
    from .registry import catalog_content_sha256, resolve_model_dir, same_catalog

    d = resolve_model_dir(name)
    path = d / "midir_evaluation.json"
    if not path.exists():
        raise ModelError(
            f"{d}: no midir_evaluation.json to update: train first (python -m explorer train-midir)"
        )
    doc = json.loads(path.read_text())
    ship = doc["shipped_design"]
    seed = int(doc["designs"][ship]["config"].get("seed", 0))
    with torch_threads(threads):
        bundle = load_feature_models(d)
        models = load_midir(d)
        with Catalog(catalog) as cat:
            same, how = same_catalog(cat.path, doc["catalog"], cat.provenance)
            if not same:
                raise ModelError(f"{catalog}: not the catalog {d / 'midir.pt'} was trained and evaluated on "
                                 f"(compared by {how})")  # fmt: skip
            if "content_sha256" not in doc["catalog"]:  # matched on provenance: record its data digest
                doc["catalog"]["content_sha256"] = catalog_content_sha256(cat.path)
            doc["catalog"]["matched_by"] = how
            te = _test_rows(cat.split_indices("test"), int(doc["n_test_evaluated"]), seed)
            dte = midir_data(cat, bundle, te, progress)
        has_pred = bundle.predictor is not None
        pred_mag = bundle.predictor.predict(dte["x_optical"]).quantiles([0.5])[:, 0] if has_pred else None
        doc["designs"][ship]["test"] = evaluate_modes(models, dte, pred_mag, n_draws)
    doc["reevaluated_by"] = command
    write_json(path, doc)
    _refresh_model_card(d)
    return doc


def _refresh_model_card(d) -> None:
    """Register the evaluation and re-render MODEL_CARD.md, whose mid-IR section shows it."""
    import json

    from .model_card import write_model_card
    from .model_card_midir import MIDIR_EVALUATION_FILE
    from .registry import register_file

    register_file(d, MIDIR_EVALUATION_FILE)
    evaluation = json.loads((d / "evaluation.json").read_text()) if (d / "evaluation.json").exists() else {}
    write_model_card(d, evaluation)
    register_file(d, "MODEL_CARD.md")
