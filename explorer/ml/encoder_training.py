"""Training the spectrum autoencoder (:mod:`.encoder`) with spender's fidelity loss.

:func:`fit_encoder` reads the catalog's training spectra and runs the shared one-cycle loop
(:func:`.fit.fit_one_cycle`); :func:`time_training_step` measures what a step costs, which is
how the CPU default widths were chosen.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from ..constants import N_PIX, Z_MAX
from ..errors import ModelError
from .data import load_spectra
from .encoder import (
    DEFAULT_DECODER_HIDDEN,
    DEFAULT_WIDTHS,
    EncoderConfig,
    SpectrumEncoderModel,
    build_autoencoder,
)
from .fit import fit_one_cycle
from .threads import torch_threads

#: spender's fidelity loss, as recorded in a trained model's meta
FIDELITY_LOSS = "spender fidelity: sum 0.5 w (y - y')^2 / L per spectrum (no similarity/consistency terms)"


def _fidelity_loss(model, flux, weight, z):
    """spender's fidelity loss: sum over batch of sum_pix(0.5 w (y - y')^2) / L."""
    return model.loss(flux, weight, z=z)


def time_training_step(
    widths=DEFAULT_WIDTHS,
    decoder_hidden=DEFAULT_DECODER_HIDDEN,
    batch_size: int = 64,
    n_steps: int = 5,
    n_threads: int = 2,
    z_max: float = Z_MAX,
    seed: int = 0,
) -> dict:
    """Measure seconds per training step and encode throughput on random spectra.

    Returns
    -------
    dict
        ``step_s`` (median seconds per Adam step of ``batch_size``), ``encode_per_s``
        (spectra/s, eval mode, batch 1024), ``n_parameters``.
    """
    torch.set_num_threads(n_threads)
    torch.manual_seed(seed)
    config = EncoderConfig(widths=tuple(widths), decoder_hidden=tuple(decoder_hidden), z_max=z_max)
    config.n_rest = int(N_PIX * (1 + z_max))
    model = build_autoencoder(config)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    flux = 1 + 0.1 * torch.randn(batch_size, N_PIX, generator=g)
    weight = torch.full((batch_size, N_PIX), 100.0)
    z = torch.rand(batch_size, generator=g) * 0.3
    times = []
    model.train()
    for _ in range(n_steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = _fidelity_loss(model, flux, weight, z)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    model.eval()
    enc = SpectrumEncoderModel(model, config)
    big = np.asarray(1 + 0.1 * torch.randn(1024, N_PIX, generator=g), dtype=np.float32)
    enc.encode(big[:64])
    t0 = time.perf_counter()
    enc.encode(big)
    enc_s = time.perf_counter() - t0
    return {
        "widths": list(widths),
        "decoder_hidden": list(decoder_hidden),
        "batch_size": batch_size,
        "n_threads": n_threads,
        "step_s": float(np.median(times[1:])),
        "encode_per_s": 1024 / enc_s,
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }


def fit_encoder(
    catalog,
    *,
    n_latent: int = 6,
    widths=DEFAULT_WIDTHS,
    decoder_hidden=DEFAULT_DECODER_HIDDEN,
    z_max: float | None = None,
    epochs: int = 100,
    batch_size: int = 64,
    lr: float = 2e-3,
    max_minutes: float | None = 55.0,
    n_threads: int = 2,
    seed: int = 0,
    max_train: int | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> SpectrumEncoderModel:
    """Train the autoencoder on the catalog's training split with spender's fidelity loss.

    The learning rate follows a one-cycle schedule (as spender's training scripts, torch's
    ``OneCycleLR`` shape). With ``max_minutes`` the schedule runs on wall-clock time: the run
    ends when the budget is spent (or after ``epochs``), however fast the machine happens to be.

    Parameters
    ----------
    catalog : Catalog or path-like
        Catalog with a ``train`` split (and ``valid`` for the validation loss).
    n_latent : int
        Number of latents S (the paper uses 6).
    widths : tuple of 3 int
        Convolution widths (spender: 128, 256, 512).
    decoder_hidden : tuple of int
        Decoder MLP hidden sizes (spender: 64, 256, 1024).
    z_max : float, optional
        Highest redshift the rest-frame grid covers; default: max z of the catalog (<= 0.5),
        rounded up to 0.05.
    epochs : int
        Upper limit on passes over the training split.
    batch_size, lr : int, float
        Spectra per Adam step and peak learning rate.
    max_minutes : float or None
        Wall-clock budget for training (data loading excluded).
    n_threads, seed : int
        torch threads; seed of initialization and batch order.
    max_train : int, optional
        Use at most this many training spectra (quick runs).
    progress : bool
        Show a tqdm progress bar.
    device : str
        torch device for training (``"cuda"`` on a GPU machine; spectra stay in host memory
        and move one batch at a time). The returned model is on the CPU.
    """
    from ..catalog import Catalog

    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    dev = torch.device(device)
    with torch_threads(n_threads):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        data, load_s = _training_spectra(cat, rng, max_train, progress)
        if z_max is None:
            z_all = np.asarray(cat.table["z"], dtype=float)
            z_max = min(Z_MAX, math.ceil(float(np.nanmax(z_all[cat.good])) / 0.05 + 1e-9) * 0.05)
        config = EncoderConfig(
            n_latent=n_latent, widths=tuple(widths), decoder_hidden=tuple(decoder_hidden), z_max=float(z_max)
        )
        config.n_rest = int(N_PIX * (1 + config.z_max))
        model = build_autoencoder(config).to(dev)
        flux_tr, w_tr, z_tr = data["train"]
        n_train = len(flux_tr)
        max_steps = epochs * max(1, n_train // batch_size)
        budget_s = None if max_minutes is None else 60.0 * max_minutes

        def batch_loss(b):
            return _fidelity_loss(model, flux_tr[b].to(dev), w_tr[b].to(dev), z_tr[b].to(dev)) / len(b)

        run = fit_one_cycle(
            model, torch.optim.Adam(model.parameters(), lr=lr), batch_loss, n_train, batch_size, lr, rng,
            budget_s=budget_s, schedule_steps=None if budget_s else max_steps, max_steps=max_steps,
            end_epoch=lambda losses: _valid_loss(model, *data["valid"], dev) if losses else None,
            clip_norm=10.0, desc="train encoder", progress=progress,
        )  # fmt: skip
    meta = {
        "losses": run.history,
        "n_train": n_train,
        "n_steps": run.n_steps,
        "epochs_done": run.n_steps / run.steps_per_epoch,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "n_threads": n_threads,
        "train_minutes": run.seconds / 60,
        "load_minutes": load_s / 60,
        "loss": FIDELITY_LOSS,
        "catalog": str(cat.path),
        "device": str(dev),
    }
    return SpectrumEncoderModel(model.cpu().eval(), config, meta)


def _training_spectra(cat, rng, max_train: int | None, progress: bool) -> tuple[dict, float]:
    """Training (optionally subsampled with ``rng``) and the first 1,024 validation spectra.

    Returns ``({"train": (flux, weight, z), "valid": (flux, weight, z)}, seconds)``.
    """
    idx_train = cat.split_indices("train")
    if max_train is not None and len(idx_train) > max_train:
        idx_train = np.sort(rng.choice(idx_train, max_train, replace=False))
    idx_valid = cat.split_indices("valid")[:1024]
    if len(idx_train) == 0:
        raise ModelError(f"{cat.path}: no good rows in the 'train' split")
    z_all = np.asarray(cat.table["z"], dtype=float)
    t_load = time.perf_counter()
    out = {}
    for split, idx, show in (("train", idx_train, progress), ("valid", idx_valid, False)):
        flux, weight = load_spectra(cat, idx, show)
        out[split] = (flux, weight, torch.as_tensor(z_all[idx], dtype=torch.float32))
    return out, time.perf_counter() - t_load


@torch.no_grad()
def _valid_loss(model, flux, weight, z, dev=None) -> float:
    if len(flux) == 0:
        return float("nan")
    model.eval()
    tot = 0.0
    for i in range(0, len(flux), 512):
        sl = slice(i, i + 512)
        tot += float(_fidelity_loss(model, flux[sl].to(dev), weight[sl].to(dev), z[sl].to(dev)))
    return tot / len(flux)
