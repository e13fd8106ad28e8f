"""Auxiliary heads of the mid-IR model: a quantity the spectrum hinges on, predicted from the same
features and handed to the prior network as two more inputs (issue 15).

The information ladder (:mod:`.midir_ladder`) finds that the dust luminosity decides most of the
5-35 micron spectrum: the shipped optical features hold log L_dust to about 0.2 dex (a probe), yet
the prior network on them alone does worse than on the same features plus a 0.3 dex noisy L_dust.
The prior sees the same features, so a head adds no information; it adds a *target*: one network
trained on the quantity alone, instead of its being one direction in a 13-coefficient
full-covariance likelihood. Whether that helps is measured, not assumed (``train-midir --aux``).

Stacking without leakage (Wolpert 1992, *Neural Networks* 5, 241): the training rows get
out-of-fold predictions (K folds; each fold's head is trained on the other K - 1 and early-stopped
on the validation split); every other row, at training and at prediction time, gets the mean of the
K heads' means and of their log-sigmas. Each head is a heteroscedastic Gaussian MLP (mean and
log-variance; Nix & Weigend 1994, as :mod:`.properties`), so the prior also sees how sure the head is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from .data import Scaler
from .fit import EarlyStopping, fit_ensemble, standardization
from .nets import silu_trunk

#: truth columns a head may predict (already in log units in the catalog)
AUX_TARGETS = ("truth_log_ldust", "truth_log_sfr")


class _HeadNet(nn.Module):
    def __init__(self, n_in: int, n_out: int, hidden=(128, 128)):
        super().__init__()
        self.trunk, width = silu_trunk(n_in, hidden)
        self.head = nn.Linear(width, 2 * n_out)
        self.n_out = n_out

    def forward(self, x):
        out = self.head(self.trunk(x))
        return out[:, : self.n_out], out[:, self.n_out :].clamp(-12, 6)


def _nll(mu, logvar, y, has):
    nll = 0.5 * (logvar + (y - mu) ** 2 * torch.exp(-logvar))
    return ((nll * has).sum(0) / has.sum(0).clamp_min(1.0)).sum()


class AuxHeads:
    """K fold heads: raw features (N, D) -> (N, 2 T) columns (mean, ln sigma) per target."""

    def __init__(self, nets, x_scaler: Scaler, targets, t_mean, t_std, hidden=(128, 128)):
        self.nets = [n.eval() for n in nets]
        self.x_scaler = x_scaler
        self.targets = list(targets)
        self.t_mean = np.asarray(t_mean, float)
        self.t_std = np.asarray(t_std, float)
        self.hidden = tuple(hidden)

    @property
    def names(self) -> list[str]:
        """Names of the columns :meth:`predict` returns."""
        return [f"aux_{t}_{s}" for s in ("mean", "lnsd") for t in self.targets]

    @torch.no_grad()
    def _one(self, net, x: torch.Tensor) -> np.ndarray:
        mu, logvar = net(x)
        mean = mu.double().numpy() * self.t_std + self.t_mean
        lnsd = 0.5 * logvar.double().numpy() + np.log(self.t_std)
        return np.concatenate([mean, lnsd], axis=1)

    def predict(self, features: np.ndarray, nets=None) -> np.ndarray:
        """(N, 2 T): the mean over ``nets`` (default: all K) of each head's mean and ln sigma."""
        x = torch.from_numpy(self.x_scaler.transform(features))
        return np.mean([self._one(n, x) for n in (self.nets if nets is None else nets)], axis=0)

    def state(self) -> dict:
        return {"nets": [n.state_dict() for n in self.nets], "x_scaler": self.x_scaler.to_dict(),
                "targets": self.targets, "t_mean": self.t_mean.tolist(), "t_std": self.t_std.tolist(),
                "hidden": list(self.hidden)}  # fmt: skip

    @classmethod
    def from_state(cls, st: dict) -> AuxHeads:
        sc = Scaler.from_dict(st["x_scaler"])
        nets = []
        for sd in st["nets"]:
            n = _HeadNet(len(sc.mean), len(st["targets"]), tuple(st["hidden"]))
            n.load_state_dict(sd)
            nets.append(n)
        return cls(nets, sc, st["targets"], st["t_mean"], st["t_std"], st["hidden"])


def fit_aux_heads(x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray,
                  targets, n_folds: int = 4, hidden=(128, 128), epochs: int = 100, batch_size: int = 512,
                  seed: int = 0, feature_names=None, progress: bool = False) -> tuple[AuxHeads, np.ndarray]:  # fmt: skip
    """Train K fold heads (see the module docstring).

    Parameters
    ----------
    x_train, x_valid : (N, D) raw features
    y_train, y_valid : (N, T) truths of ``targets`` (NaN where a quantity does not exist)

    Returns
    -------
    heads : AuxHeads
    out_of_fold : (N_train, 2 T) the training rows' predictions by the head that did not see them
    """
    y_train, y_valid = np.atleast_2d(np.asarray(y_train, float)), np.atleast_2d(np.asarray(y_valid, float))
    if n_folds < 2:
        raise ModelError(f"auxiliary heads need at least 2 folds for out-of-fold inputs, got {n_folds}")
    if not np.isfinite(y_train).any(axis=0).all():
        raise ModelError(f"auxiliary head targets {list(targets)}: a column has no finite training value")
    t_mean, t_std = standardization(y_train, np.isfinite(y_train))
    scaler = Scaler.fit(x_train, feature_names)
    f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731

    def tensors(x, y):
        has = np.isfinite(y)
        return f32(scaler.transform(x)), f32(np.where(has, (y - t_mean) / t_std, 0.0)), f32(has)

    xt, yt, ht = tensors(x_train, y_train)
    va = tensors(x_valid, y_valid)
    fold = np.random.default_rng([seed, 31]).permutation(len(xt)) % n_folds
    nets, oof = [], np.zeros((len(xt), 2 * y_train.shape[1]))
    heads = AuxHeads([], scaler, targets, t_mean, t_std, hidden)
    settings = EarlyStopping(epochs=epochs, batch_size=batch_size, lr=2e-3, weight_decay=1e-5, patience=15)
    for k in range(n_folds):
        net = _fit_fold((xt, yt, ht), torch.from_numpy(np.flatnonzero(fold != k)), va, hidden, settings,
                        seed * 1000 + 900 + k, f"auxiliary head, fold {k + 1}/{n_folds}", progress)  # fmt: skip
        nets.append(net)
        held = torch.from_numpy(np.flatnonzero(fold == k))
        oof[held.numpy()] = heads._one(net, xt[held])
    heads.nets = nets
    return heads, oof


def _fit_fold(train, rows, valid, hidden, settings, seed, desc, progress) -> _HeadNet:
    """One head on the training ``rows`` of ``train`` = (x, y, has), early-stopped on ``valid``."""
    x, y, has = train
    (net,), _ = fit_ensemble(
        lambda: _HeadNet(x.shape[1], y.shape[1], hidden),
        [seed],
        lambda n, b: _nll(*n(x[rows[b]]), y[rows[b]], has[rows[b]]),
        len(rows),
        settings,
        valid_loss=(lambda n: float(_nll(*n(valid[0]), valid[1], valid[2]))) if len(valid[0]) else None,
        desc=desc,
        progress=progress,
    )
    return net.eval()
