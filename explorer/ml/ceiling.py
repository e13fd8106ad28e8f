"""How much WISE information do the (noisy) spectra hold? A supervised spectrum -> WISE network.

The shipped model squeezes each spectrum into S = 6 latents learned WITHOUT looking at WISE
(spender's reconstruction loss) and then predicts W1-W4 from them. Whether chi^2_N ~ 1 is reachable
that way depends on two things: how much the noisy spectra know about the infrared at all, and how
much of that survives the unsupervised bottleneck. This module measures the first.

The *ceiling network* is the same convolutional spender encoder (:class:`.encoder.WidthSpectrumEncoder`)
trained END TO END on the WISE likelihood: spectrum -> ``n_latent`` (default 32) learned features,
concatenated with the shipped predictor's other inputs (z, spec_norm, aperture corrections, total
ugriz: :func:`.data.build_features` ``"spectrum"``), -> :class:`.predictor.IRNet` (mean and full
covariance of W1-W4) with the censored Gaussian likelihood of :func:`.predictor.censored_gaussian_nll`
(catalog errors included, upper limits censored). It sees everything the shipped model sees and more
(a wider, supervised bottleneck), so its chi^2_N is an empirical lower bound for any 6-latent model
of the same encoder family on the same data; it is not a product model (no S = 6, no spender latents)
and is not shipped.

Run: ``python -m explorer ceiling runs/sim50k.h5 --json`` (about 40 minutes on 2 cores).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..errors import ModelError
from .data import Scaler, build_features, load_spectra, wise_targets
from .fit import fit_one_cycle, standardization
from .predictor import (
    IRConfig,
    IREnsemble,
    IRNet,
    _target_tensors,
    censored_gaussian_nll,
    fit_cov_scale,
)


def information_ceiling(
    catalog,
    *,
    minutes: float = 35.0,
    max_epochs: int | None = None,
    n_latent: int = 32,
    widths=(16, 32, 64),
    batch_size: int = 128,
    lr: float = 2e-3,
    max_train: int | None = None,
    n_threads: int = 2,
    seed: int = 0,
    split: str = "test",
    progress: bool = True,
) -> dict:
    """Train the ceiling network on the training split and score it on ``split``.

    Parameters
    ----------
    catalog : path or :class:`explorer.catalog.Catalog`
        Needs ``train``, ``valid`` and ``split`` rows (e.g. ``runs/sim50k.h5``).
    minutes : float
        Wall-clock training budget (one-cycle learning rate over it; validation every epoch,
        the best epoch is kept).
    max_epochs : int, optional
        Also stop after this many epochs (the schedule then runs by epoch, not by clock).
    n_latent : int
        Width of the learned bottleneck (the shipped model has 6 unsupervised latents).
    widths : tuple of 3 int
        Encoder convolution widths (the shipped encoder: 16, 32, 64).
    batch_size, lr, max_train, n_threads, seed : training settings.
    split : str
        Split to score.
    progress : bool
        tqdm bar over the training steps.

    Returns
    -------
    dict (JSON-ready): ``bands``/``colors`` metrics as :func:`.evaluate.ir_metrics` with the
    expected catalog magnitude of a detection as the point prediction (``pred="detected"``, as the
    shipped model's headline), ``true_mean`` (chi^2_N with the posterior mean), ``by_class``
    (:func:`.evaluate.chi2_by_class`, simulated catalogs), and ``training``
    (steps, epochs, best validation NLL, minutes, settings).
    """
    from .encoder import WidthSpectrumEncoder, sdss_instrument
    from .train import _open

    torch.set_num_threads(int(n_threads))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cat = _open(catalog)
    t_load = time.perf_counter()
    data = _ceiling_data(cat, split, max_train, rng, progress)
    idx, aux = data["idx"], data["aux"]
    y_mean, y_std = standardization(data["targets"]["train"].mag, data["targets"]["train"].detected)
    cfg = IRConfig(n_members=1, seed=seed, feature_kind="ceiling")
    tens = {s: _target_tensors(data["targets"][s], y_mean, y_std, cfg.ul_sigma_mag) for s in idx}
    load_s = time.perf_counter() - t_load

    n = idx["train"].size
    steps_per_epoch = max(1, n // batch_size)
    encoder = WidthSpectrumEncoder(sdss_instrument(), int(n_latent), widths=tuple(int(w) for w in widths))
    head = IRNet(int(n_latent) + aux["train"].shape[1], cfg.hidden, full_cov=True)
    net = torch.nn.ModuleList([encoder, head])
    run = _train(net, data, tens, rng, batch_size=batch_size, lr=lr, weight_decay=cfg.weight_decay,
                 budget_s=60.0 * minutes, schedule_steps=None if max_epochs is None else max_epochs * steps_per_epoch,
                 progress=progress)  # fmt: skip
    out = _score(encoder, head, (y_mean, y_std, cfg), data, split, cat.table)
    out["training"] = {
        "n_train": int(n),
        "n_valid": int(idx["valid"].size),
        "split": split,
        "n_scored": int(idx[split].size),
        "n_latent": int(n_latent),
        "widths": [int(w) for w in widths],
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "n_steps": run.n_steps,
        "epochs": run.n_steps / steps_per_epoch,
        "best_valid_nll": float(run.best_valid),
        "valid_nll_per_epoch": [float(v) for _, v in run.history],
        "train_minutes": run.seconds / 60,
        "load_minutes": load_s / 60,
        "n_parameters": int(sum(p.numel() for p in net.parameters())),
        "catalog": str(cat.path),
    }
    return out


def _train(net, data: dict, tens: dict, rng, **settings):
    """Fit ``net`` = [encoder, head] on the censored WISE likelihood (one-cycle, best epoch kept)."""
    encoder, head = net
    idx, spec, aux = data["idx"], data["spectra"], data["aux"]

    def nll(s, sl):
        y, ns, d, c = (x[sl] for x in tens[s])
        mu, chol = head(torch.cat([encoder(spec[s][sl]), aux[s][sl]], dim=1))
        return censored_gaussian_nll(mu, chol, y, ns, d, c)

    def valid_nll(_losses) -> float:
        net.eval()
        with torch.no_grad():
            tot = sum(
                float(nll("valid", slice(a, a + 1024)).sum()) for a in range(0, idx["valid"].size, 1024)
            )
        return tot / idx["valid"].size

    run = fit_one_cycle(
        net,
        torch.optim.Adam(net.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"]),
        lambda b: nll("train", b).mean(),
        idx["train"].size,
        settings["batch_size"],
        settings["lr"],
        rng,
        budget_s=settings["budget_s"],
        schedule_steps=settings["schedule_steps"],
        end_epoch=valid_nll,
        keep_best=True,
        clip_norm=5.0,
        desc="ceiling network",
        progress=settings["progress"],
    )
    net.eval()
    return run


def _ceiling_data(cat, split: str, max_train: int | None, rng, progress: bool) -> dict:
    """Rows, spectra, standardized auxiliary inputs and WISE targets of the three splits."""
    t = cat.table
    idx = {s: np.sort(cat.split_indices(s)) for s in ("train", "valid", split)}
    for s, rows in idx.items():
        if rows.size == 0:
            raise ModelError(
                f"{cat.path}: the {s!r} split is empty; the ceiling network needs train, valid and {split}"
            )
    if max_train is not None:
        idx["train"] = np.sort(
            rng.choice(idx["train"], size=min(max_train, idx["train"].size), replace=False)
        )
    spec = {s: load_spectra(cat, idx[s], progress and s == "train")[0] for s in idx}
    aux_raw = {s: build_features("spectrum", t, idx[s], np.zeros((idx[s].size, 0))) for s in idx}
    scaler = Scaler.fit(aux_raw["train"])
    aux = {s: torch.from_numpy(scaler.transform(a).astype(np.float32)) for s, a in aux_raw.items()}
    targets = {s: wise_targets(t, idx[s]) for s in idx}
    return {"idx": idx, "spectra": spec, "aux": aux, "targets": targets}


def _score(encoder, head, standardization_config: tuple, data: dict, split: str, table: dict) -> dict:
    """Metrics of the trained network on ``split`` through the shipped machinery.

    Learned features + scaled auxiliary inputs -> :class:`.predictor.IREnsemble` (its one member
    is the network's head; ``standardization_config`` = its ``(y_mean, y_std, IRConfig)``), with
    the covariance scale fitted on the validation split.
    """
    from .evaluate import chi2_by_class, ir_metrics

    idx, spec, aux, targets = data["idx"], data["spectra"], data["aux"], data["targets"]
    with torch.no_grad():
        feats = {
            s: np.concatenate(
                [
                    torch.cat([encoder(spec[s][a : a + 1024]) for a in range(0, idx[s].size, 1024)]).numpy(),
                    aux[s].numpy(),
                ],
                axis=1,
            )
            for s in ("valid", split)
        }
    d = feats["valid"].shape[1]
    ens = IREnsemble([head], Scaler(np.zeros(d), np.ones(d)), *standardization_config)
    ens.cov_scale = fit_cov_scale(ens, feats["valid"], targets["valid"])
    post = ens.predict(feats[split])
    pred_detected = post.detected_mean_mag()
    out = ir_metrics(post, targets[split], pred=pred_detected)
    mean = ir_metrics(post, targets[split], pred="mean")
    out["true_mean"] = {k: {b: m["chi2_n"] for b, m in mean[k].items()} for k in ("bands", "colors")}
    by_class = chi2_by_class(post, targets[split], table, idx[split], pred=pred_detected)
    if by_class is not None:
        out["by_class"] = by_class
    return out
