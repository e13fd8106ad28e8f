"""Baselines: the paper's demo MLP, and optical photometry only.

(a) ``paper_mlp`` reproduces the regressor of Jespersen et al. (2025)'s public demo notebook:
an MLP 8 -> 20 -> 50 -> 50 -> 20 -> 4 with ReLU activations, trained with Adam (lr 4e-3,
batch 512) on a Gaussian negative log-likelihood whose variance is the catalog error
(not learned), i.e. 0.5 * sum ((pred - obs) / sigma_obs)^2 over detected bands. It outputs a
point estimate only. Its parameter count fixes the input size: with n inputs the count is
(n*20 + 20) + (20*50 + 50) + (50*50 + 50) + (50*20 + 20) + (20*4 + 4) = 20 n + 4,724, so
4,884 parameters <=> n = 8 inputs: the 6 spender latents, z, and one more. The latents
describe the *normalized* spectrum and carry no amplitude, and the only amplitude spender's
data pipeline keeps beside z is the normalization ``norm``, so we take log10(spec_norm) as
the eighth input (our reading; the notebook is the authority). Inputs and targets are
standardized with fixed (non-learned) training means and standard deviations, which adds no
parameters. Upper limits are dropped (masked out of the loss), as a point-estimate chi^2 fit
cannot use them. For intervals it is treated as a delta function: the predictive
distribution of an observation is N(pred, sigma_obs^2). This minibatch training is ours; the
demo's own full-batch recipe is in :mod:`explorer.ml.paper_recipe`, and ``train-predictor``
trains both and ships the one with the lower validation ``chi2_n_paper``.

(b) ``photometry_only`` maps the five SDSS total magnitudes (ugriz) and z to W1-W4 with the
*same* probabilistic machinery as our model (:mod:`explorer.ml.predictor`: full-covariance
deep ensemble, censored likelihood, validation calibration). Only the inputs differ, so the
comparison measures the information the spectrum adds over broad-band photometry.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .data import Scaler, WiseTargets
from .predictor import N_BANDS, IRPosterior

PAPER_MLP_LAYERS = (8, 20, 50, 50, 20, 4)
PAPER_MLP_N_PARAMETERS = 4884


class PaperMLP(nn.Sequential):
    """8 -> 20 -> 50 -> 50 -> 20 -> 4, ReLU between layers (4,884 parameters)."""

    def __init__(self, layers=PAPER_MLP_LAYERS):
        mods = []
        for i in range(len(layers) - 1):
            mods.append(nn.Linear(layers[i], layers[i + 1]))
            if i < len(layers) - 2:
                mods.append(nn.ReLU())
        super().__init__(*mods)

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def paper_mlp_n_parameters(n_in: int) -> int:
    """Parameter count of the demo MLP with ``n_in`` inputs: 20 n_in + 4,724."""
    sizes = (n_in,) + PAPER_MLP_LAYERS[1:]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def fixed_variance_nll(pred, y, sigma, detected) -> torch.Tensor:
    """Gaussian NLL with the catalog variance (constant terms dropped): 0.5 chi^2 per galaxy."""
    chi = torch.where(detected, (pred - torch.nan_to_num(y)) / torch.nan_to_num(sigma, nan=1.0), 0.0)
    return 0.5 * (chi**2).sum(-1)


class PaperMLPModel:
    """Trained demo MLP with its fixed input/target standardization."""

    def __init__(self, net: PaperMLP, x_scaler: Scaler, y_mean, y_std, meta=None):
        self.net = net.eval()
        self.x_scaler = x_scaler
        self.y_mean = np.asarray(y_mean, dtype=np.float64)
        self.y_std = np.asarray(y_std, dtype=np.float64)
        self.meta = meta or {}

    @torch.no_grad()
    def predict_mag(self, features: np.ndarray) -> np.ndarray:
        """Point estimate (N, 4) Vega mag."""
        x = torch.from_numpy(self.x_scaler.transform(features))
        return self.net(x).double().numpy() * self.y_std + self.y_mean

    def predict(self, features: np.ndarray) -> IRPosterior:
        """The point estimate as a (zero-width) posterior of the true magnitudes.

        ``.observed(sigma_mag)`` then gives N(pred, sigma_obs^2), the paper's implicit
        predictive distribution.
        """
        mu = self.predict_mag(features)[:, None, :]
        covs = np.zeros(mu.shape + (N_BANDS,))
        return IRPosterior(mu, covs, "true")

    def state(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "x_scaler": self.x_scaler.to_dict(),
            "y_mean": self.y_mean.tolist(),
            "y_std": self.y_std.tolist(),
            "meta": self.meta,
        }

    @classmethod
    def from_state(cls, st: dict) -> PaperMLPModel:
        net = PaperMLP()
        net.load_state_dict(st["net"])
        return cls(net, Scaler.from_dict(st["x_scaler"]), st["y_mean"], st["y_std"], st.get("meta", {}))


def train_paper_mlp(
    x_train: np.ndarray,
    t_train: WiseTargets,
    x_valid: np.ndarray,
    t_valid: WiseTargets,
    epochs: int = 1000,
    batch_size: int = 512,
    lr: float = 4e-3,
    patience: int = 50,
    seed: int = 0,
    feature_names=None,
    progress: bool = True,
) -> PaperMLPModel:
    """Train the demo MLP (Adam lr 4e-3, batch 512, fixed-variance Gaussian NLL).

    The number of epochs is not given by the paper; we stop at the best validation chi^2
    (``patience`` epochs without improvement).
    """
    from tqdm.auto import tqdm

    if x_train.shape[1] != PAPER_MLP_LAYERS[0]:
        raise ValueError(f"the paper MLP takes {PAPER_MLP_LAYERS[0]} inputs, got {x_train.shape[1]}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    det = t_train.detected
    y_mean = np.array([t_train.mag[det[:, b], b].mean() if det[:, b].any() else 0.0 for b in range(N_BANDS)])
    y_std = np.array(
        [t_train.mag[det[:, b], b].std() if det[:, b].sum() > 1 else 1.0 for b in range(N_BANDS)]
    )
    y_std = np.where(y_std > 0, y_std, 1.0)
    scaler = Scaler.fit(x_train, feature_names)

    def tensors(x, t):
        d = t.detected
        f = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        y = np.where(d, (t.mag - y_mean) / y_std, 0.0)
        s = np.where(d, t.sigma / y_std, 1.0)
        return f(scaler.transform(x)), f(y), f(s), torch.as_tensor(d)

    xt, yt, st, dt = tensors(x_train, t_train)
    xv, yv, sv, dv = tensors(x_valid, t_valid)
    net = PaperMLP()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    best, best_state, bad, hist = np.inf, None, 0, []
    n = len(xt)
    for _epoch in tqdm(range(epochs), desc="train paper MLP", disable=not progress, unit="ep"):
        net.train()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, batch_size):
            b = perm[s : s + batch_size]
            loss = fixed_variance_nll(net(xt[b]), yt[b], st[b], dt[b]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            v = float(fixed_variance_nll(net(xv), yv, sv, dv).mean()) if len(xv) else float(loss)
        hist.append(v)
        if v < best - 1e-5:
            best, best_state, bad = v, copy.deepcopy(net.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    return PaperMLPModel(net, scaler, y_mean, y_std, meta={"valid_loss_history": hist, "n_train": int(n)})
