"""A tiny random-weight model directory, so app tests (Python and browser) need no trained model.

The weights are random (seeded): predictions are meaningless, but every code path the app runs
with real models (encode, decode, IR posterior, property heads, attribution wrapper) runs with
these, in well under a second. Written with the registry's own functions, so ``load_models``
verifies it like any shipped directory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def write_random_models(
    model_dir: str | Path,
    n_latent: int = 6,
    widths=(8, 16, 32),
    decoder_hidden=(16, 32, 64),
    n_members: int = 2,
    seed: int = 0,
    properties: bool = True,
) -> Path:
    """Write encoder.pt, predictor.pt (and properties.pt) with random weights into ``model_dir``.

    Parameters
    ----------
    model_dir : path
    n_latent : int
    widths, decoder_hidden : tuple of int
        Small architectures keep the files (< 2 MB) and the encoding fast.
    n_members : int
        Ensemble members of the IR predictor and the property heads.
    seed : int

    Returns
    -------
    Path of the model directory.
    """
    from ..ml.data import Scaler, feature_names
    from ..ml.encoder import EncoderConfig, SpectrumEncoderModel, build_autoencoder
    from ..ml.predictor import IRConfig, IREnsemble, IRNet
    from ..ml.properties import PropertyEnsemble, PropertyNet
    from ..ml.registry import register_file, save_component

    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    gen = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        cfg = EncoderConfig(n_latent=n_latent, widths=tuple(widths), decoder_hidden=tuple(decoder_hidden))
        enc = SpectrumEncoderModel(build_autoencoder(cfg), cfg, {"note": "random weights (tests)"})
        enc.save(d / "encoder.pt")
        register_file(d, "encoder.pt", component="encoder", config=cfg.to_dict(), info={"seed": seed})
        names = feature_names("spectrum", n_latent)
        n_in = len(names)
        # plausible input scaling: latents ~ N(0, 1), z ~ 0.1, log norm ~ 0.5, ap corr ~ -0.7, mags ~ 17
        mean = np.r_[np.zeros(n_latent), 0.1, 0.5, np.full(5, -0.7), np.full(5, 17.0)]
        std = np.r_[np.ones(n_latent), 0.05, 0.3, np.full(5, 0.3), np.full(5, 1.0)]
        scaler = Scaler(mean, std, names)
        icfg = IRConfig(feature_kind="spectrum", feature_names=names, hidden=(16, 16), n_members=n_members)
        members = [IRNet(n_in, icfg.hidden, True) for _ in range(n_members)]
        ens = IREnsemble(members, scaler, [12.5, 12.3, 9.5, 7.5], [1.0, 1.0, 1.2, 0.9], icfg)
        save_component(d, "predictor", ens.state(), config=icfg.to_dict(), info={"seed": seed})
        if properties:
            pm = [PropertyNet(n_in, (16,)) for _ in range(n_members)]
            props = PropertyEnsemble(pm, scaler, [np.log(2.0), 44.0, 0.0], [0.5, 0.8, 0.7], (16,))
            save_component(d, "properties", props.state(), config={"hidden": [16]}, info={"seed": seed})
    finally:
        torch.random.set_rng_state(gen)
    return d


def write_tiny_midir(model_dir: str | Path, catalog: str | Path, seed: int = 0) -> Path:
    """Train a tiny mid-IR model (``midir.pt``, design ``pca``, 3 shape coefficients, one member)
    on ``catalog`` (with ``/ir_rest``, e.g. ``make_toy_catalog(..., ir_rest=True)``) for the encoder
    and predictor of ``model_dir``, with ``train-midir``'s own function; a few seconds."""
    from ..ml.midir_train import train_midir

    out = train_midir(catalog, model_dir, designs=("pca",), n_latent=3, epochs=15, n_members=1, max_eval=40,
                      n_draws=100, seed=seed, progress=False, command="explorer.testing.models.write_tiny_midir")  # fmt: skip
    return Path(out["path"])
