"""Training of the mid-IR spectrum model (:mod:`explorer.ml.midir`): decoder, then the prior net.

1. The shapes s = y - mean(y) of the training spectra (y = log10 f_nu) get a decoder: the PCA
   basis (design ``pca``) or a GLO decoder trained jointly with one latent per galaxy (``glo``,
   initialised at the PCA codes, MSE plus a small L2 penalty on the latents).
2. Every spectrum's coefficients c = (a, u) are standardized; the validation spectra are encoded
   with the fixed decoder (projection, or latent optimisation for GLO).
3. A deep ensemble of :class:`~explorer.ml.midir.CoefNet` learns N(c; mu(x), L L^T) from the
   features x (:func:`explorer.ml.fit.fit_ensemble`, early stopping on the validation NLL).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .data import Scaler
from .fit import EarlyStopping, fit_ensemble
from .midir import CoefNet, GLODecoder, MidIRModel, PCABasis, gaussian_nll, wise_matrix, wise_mjy_to_mag


@dataclass
class MidIRConfig:
    """Hyper-parameters of one mid-IR model."""

    design: str = "pca"
    n_latent: int = 12
    member_hidden: tuple = (128, 128)
    n_members: int = 3
    epochs: int = 100
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-5
    patience: int = 20
    glo_hidden: tuple = (128, 256)
    glo_epochs: int = 300
    glo_latent_l2: float = 1e-4
    seed: int = 0
    #: truth columns (:data:`.midir_aux.AUX_TARGETS`) whose auxiliary heads feed the prior
    aux_targets: tuple = ()
    aux_folds: int = 4
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _train_glo(shapes: np.ndarray, codes0: np.ndarray, cfg: MidIRConfig, progress: bool) -> tuple:
    """Decoder and latents (N, K) minimizing |s - D(u)|^2 + l2 |u|^2 over decoder and latents."""
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    s = torch.as_tensor(shapes, dtype=torch.float32)
    dec = GLODecoder(codes0.shape[1], shapes.shape[1], cfg.glo_hidden)
    lat = torch.nn.Parameter(torch.as_tensor(codes0, dtype=torch.float32).clone())
    opt = torch.optim.Adam([{"params": dec.parameters(), "lr": 1e-3}, {"params": [lat], "lr": 1e-2}])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.glo_epochs)
    gen = torch.Generator().manual_seed(cfg.seed)
    for _ in tqdm(range(cfg.glo_epochs), desc="train GLO decoder", disable=not progress):
        perm = torch.randperm(len(s), generator=gen)
        for b in range(0, len(s), cfg.batch_size):
            i = perm[b : b + cfg.batch_size]
            loss = ((dec(lat[i]) - s[i]) ** 2).mean() + cfg.glo_latent_l2 * (lat[i] ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return dec.eval(), lat.detach().numpy().astype(float)


def fit_glo_latents(dec: GLODecoder, shapes: np.ndarray, init: np.ndarray, steps: int = 300) -> np.ndarray:
    """Latents of new shapes (N, W) with the decoder fixed (Adam from ``init``)."""
    s = torch.as_tensor(shapes, dtype=torch.float32)
    lat = torch.nn.Parameter(torch.as_tensor(init, dtype=torch.float32).clone())
    opt = torch.optim.Adam([lat], lr=1e-2)
    for p in dec.parameters():
        p.requires_grad_(False)
    for _ in range(steps):
        loss = ((dec(lat) - s) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for p in dec.parameters():
        p.requires_grad_(True)
    return lat.detach().numpy().astype(float)


def encode_spectra(model: MidIRModel, log_fnu: np.ndarray) -> np.ndarray:
    """Standardized coefficients (N, K + 1) of spectra log10 f_nu (N, W) under ``model``."""
    y = np.asarray(log_fnu, float)
    a = y.mean(axis=1, keepdims=True)
    shapes = y - a - model.shape_mean
    v = model.decoder.components.numpy().astype(float) if isinstance(model.decoder, PCABasis) else None
    if v is None:
        pca = model.meta["pca_init"]
        u = fit_glo_latents(model.decoder, shapes, shapes @ np.asarray(pca).T)
    else:
        u = shapes @ v.T
    return (np.concatenate([a, u], axis=1) - model.coef_mean) / model.coef_sd


def photometry_floor(
    model: MidIRModel, c_std: np.ndarray, z: np.ndarray, truth_mag: np.ndarray
) -> np.ndarray:
    """(4,) rms of W1-W4 of decoded spectra against the catalog's noiseless truth (mag)."""
    f = 10.0 ** model.decode(c_std)
    mag = wise_mjy_to_mag(np.einsum("nw,nbw->nb", f, wise_matrix(model.wave_um, z)))
    d = mag - truth_mag
    return np.sqrt(np.nanmean(d**2, axis=0))


def fit_midir(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    wave_um: np.ndarray,
    feature_kind: str,
    config: MidIRConfig,
    phot_train: dict | None = None,
    phot_valid: dict | None = None,
    feature_names=None,
    progress: bool = False,
) -> MidIRModel:
    """Train one mid-IR model.

    Parameters
    ----------
    x_train, x_valid : (N, D) raw features
    y_train, y_valid : (N, W) log10 f_nu (mJy) of the true total spectra
    wave_um : (W,) rest-frame grid
    feature_kind : str
    config : MidIRConfig
    phot_train, phot_valid : dict, optional
        ``z``, ``truth_mag`` (noiseless W1-W4 of the total spectrum), ``wise_mag``, ``wise_sigma``,
        ``wise_is_ul`` (catalog) of the rows: for the photometric model error
        (:func:`photometry_floor`) and the catalog-offset model (:mod:`.midir_offset`); without
        them the floor is zero and the catalog is taken to report the spectrum's W1-W4. With
        ``config.aux_targets`` they also hold those truth columns (:func:`.midir_eval.midir_targets`).
    """
    aux = None
    if config.aux_targets:
        aux, x_train, x_valid, feature_names = _fit_aux(x_train, x_valid, phot_train, phot_valid, config,
                                                        feature_names, progress)  # fmt: skip
    a = y_train.mean(axis=1, keepdims=True)
    shape_mean = (y_train - a).mean(axis=0)
    shapes = y_train - a - shape_mean
    basis, codes = PCABasis.fit(shapes, config.n_latent)
    meta = {"config": config.to_dict(), "member_hidden": list(config.member_hidden)}
    if config.design == "glo":
        dec, codes = _train_glo(shapes, codes, config, progress)
        meta["pca_init"] = basis.components.numpy().tolist()
    elif config.design == "pca":
        dec = basis
    else:
        raise ValueError(f"unknown design {config.design!r}")
    c = np.concatenate([a, codes], axis=1)
    coef_mean, coef_sd = c.mean(0), c.std(0) + 1e-12
    model = MidIRModel(config.design, feature_kind, Scaler.fit(x_train, feature_names), [], dec, wave_um,
                       shape_mean, coef_mean, coef_sd, np.zeros(len(wave_um)), np.zeros(4), meta, aux=aux)  # fmt: skip
    ct = (c - coef_mean) / coef_sd
    model.resid_dex = np.sqrt(np.mean((model.decode(ct) - y_train) ** 2, axis=0))
    if phot_train is not None:
        sub = slice(0, min(len(ct), 3000))
        model.floor_mag = photometry_floor(model, ct[sub], phot_train["z"][sub], phot_train["truth_mag"][sub])
        model.offset = _fit_offsets(model.x_scaler, x_train, phot_train, x_valid, phot_valid, config.seed)
    cv = encode_spectra(model, y_valid)
    model.members, meta["valid_nll_history"] = _fit_members(model, x_train, ct, x_valid, cv, config, progress)
    meta.update(n_train=len(x_train), n_valid=len(x_valid))
    return model


def _fit_aux(x_train, x_valid, phot_train, phot_valid, config, feature_names, progress):
    """Auxiliary heads (:mod:`.midir_aux`) and the features with their columns appended: out of fold
    on the training rows, the mean of the fold heads on the validation rows."""
    from ..errors import ModelError
    from .midir_aux import AUX_TARGETS, fit_aux_heads

    targets = list(config.aux_targets)
    unknown = [t for t in targets if t not in AUX_TARGETS]
    if unknown:
        raise ModelError(f"unknown auxiliary target(s) {unknown}: choose from {', '.join(AUX_TARGETS)}")
    missing = [t for t in targets if phot_train is None or phot_valid is None or t not in phot_train]
    if missing:
        raise ModelError(
            f"auxiliary heads need the truth columns {missing} of the training rows (a simulated catalog)"
        )
    y = {k: np.stack([np.asarray(p[t], float) for t in targets], 1) for k, p in (("train", phot_train), ("valid", phot_valid))}  # fmt: skip
    aux, oof = fit_aux_heads(x_train, y["train"], x_valid, y["valid"], targets, n_folds=config.aux_folds,
                             seed=config.seed, feature_names=feature_names, progress=progress)  # fmt: skip
    names = list(feature_names or [f"x{k}" for k in range(x_train.shape[1])]) + aux.names
    return aux, np.concatenate([x_train, oof], 1), np.concatenate([x_valid, aux.predict(x_valid)], 1), names


def _offsets(p: dict):
    d = np.where(p["wise_is_ul"], np.nan, p["wise_mag"] - p["truth_mag"])
    return d, np.where(p["wise_is_ul"], np.nan, p["wise_sigma"])


def _fit_offsets(scaler, x_train, phot_train, x_valid, phot_valid, seed):
    from .midir_offset import WiseOffsetModel

    dt, st = _offsets(phot_train)
    dv, sv = _offsets(phot_valid) if phot_valid is not None else (np.zeros((0, 4)), np.zeros((0, 4)))
    xv = x_valid if phot_valid is not None else x_train[:0]
    return WiseOffsetModel.fit(x_train, dt, st, xv, dv, sv, scaler, seed=seed)


def _fit_members(model, x_train, c_train, x_valid, c_valid, config, progress):
    xt = torch.from_numpy(model.x_scaler.transform(x_train))
    xv = torch.from_numpy(model.x_scaler.transform(x_valid))
    ct = torch.as_tensor(c_train, dtype=torch.float32)
    cv = torch.as_tensor(c_valid, dtype=torch.float32)

    def batch_loss(net, b):
        mu, chol = net(xt[b])
        return gaussian_nll(mu, chol, ct[b]).mean()

    def valid_loss(net):
        mu, chol = net(xv)
        return float(gaussian_nll(mu, chol, cv).mean())

    settings = EarlyStopping(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr,
                             weight_decay=config.weight_decay, patience=config.patience)  # fmt: skip
    members, hist = fit_ensemble(
        lambda: CoefNet(xt.shape[1], ct.shape[1], config.member_hidden),
        [config.seed * 1000 + k for k in range(config.n_members)],
        batch_loss,
        len(xt),
        settings,
        valid_loss=valid_loss if len(xv) else None,
        desc=f"train mid-IR prior ({config.design})",
        progress=progress,
    )
    return members, hist
