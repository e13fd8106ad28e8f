"""Physical-property heads: q_PAH, AGN probability and bolometric luminosity, star-formation rate.

Same inputs as the IR predictor (``spectrum`` feature set). One small multi-task MLP per
ensemble member with heteroscedastic Gaussian heads (mean and log-variance; Nix & Weigend 1994)
and a logistic head:

* ln q_PAH (``truth_qpah``, q_PAH in percent of dust mass; predicted in log so the error is
  fractional), all galaxies with a finite positive truth;
* log10 L_bol,AGN / (erg/s) (``truth_log_lbol_agn``), trained and evaluated on AGN only
  (``class_label == 'agn'``);
* P(AGN) (``class_label == 'agn'``);
* log10 SFR / (M_sun/yr) (``truth_log_sfr``).

The ensemble's regression output is the mixture's moments (mean of the means; variance =
mean variance + variance of the means), and P(AGN) the mean probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ModelError
from .data import Scaler
from .fit import EarlyStopping, fit_ensemble, standardization
from .nets import silu_trunk

#: regression targets: name -> (catalog column, transform applied to the truth)
REGRESSION_TARGETS = {
    "ln_qpah": "truth_qpah",
    "log_lbol_agn": "truth_log_lbol_agn",
    "log_sfr": "truth_log_sfr",
}
TRUTH_COLUMNS = tuple(REGRESSION_TARGETS.values()) + ("class_label",)


def property_targets(table: dict, idx) -> dict[str, np.ndarray]:
    """Training targets (NaN where unavailable) for rows ``idx``.

    Raises
    ------
    ModelError
        None of the truth columns is in the table (an observed catalog).
    """
    idx = np.asarray(idx, dtype=int)
    n = len(idx)
    present = [c for c in TRUTH_COLUMNS if c in table]
    if not [c for c in present if c != "class_label"]:
        raise ModelError(
            "the catalog has no truth columns (truth_qpah, truth_log_lbol_agn, truth_log_sfr): "
            "property heads need a simulated catalog"
        )
    out = {}
    q = np.asarray(table["truth_qpah"], float)[idx] if "truth_qpah" in table else np.full(n, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ln_qpah"] = np.where(q > 0, np.log(q), np.nan)
    labels = np.asarray(table["class_label"]).astype(str)[idx] if "class_label" in table else np.full(n, "")
    is_agn = labels == "agn"
    known = labels != ""
    out["agn"] = np.where(known, is_agn.astype(float), np.nan)
    lb = (
        np.asarray(table["truth_log_lbol_agn"], float)[idx]
        if "truth_log_lbol_agn" in table
        else np.full(n, np.nan)
    )
    out["log_lbol_agn"] = np.where(is_agn, lb, np.nan)
    out["log_sfr"] = (
        np.asarray(table["truth_log_sfr"], float)[idx] if "truth_log_sfr" in table else np.full(n, np.nan)
    )
    return out


class PropertyNet(nn.Module):
    """Shared MLP trunk -> 3 x (mean, log-variance) + 1 logit (standardized units)."""

    def __init__(self, n_in: int, hidden=(128, 128)):
        super().__init__()
        self.trunk, prev = silu_trunk(n_in, hidden)
        self.head = nn.Linear(prev, 2 * len(REGRESSION_TARGETS) + 1)

    def forward(self, x):
        out = self.head(self.trunk(x))
        k = len(REGRESSION_TARGETS)
        mean = out[:, :k]
        logvar = out[:, k : 2 * k].clamp(-12, 6)
        return mean, logvar, out[:, -1]


@dataclass
class PropertyPosterior:
    """Predicted properties with 1-sigma uncertainties (arrays of length N).

    Attributes
    ----------
    qpah : median q_PAH (percent), exp(mean of ln q_PAH)
    qpah_frac_sigma : sigma of ln q_PAH (fractional uncertainty)
    log_lbol_agn, log_lbol_agn_sigma : log10 L_bol,AGN [erg/s] if the galaxy is an AGN, and its sigma (dex)
    p_agn : probability of being an AGN
    log_sfr, log_sfr_sigma : log10 SFR [M_sun/yr] and sigma (dex)
    """

    qpah: np.ndarray
    qpah_frac_sigma: np.ndarray
    log_lbol_agn: np.ndarray
    log_lbol_agn_sigma: np.ndarray
    p_agn: np.ndarray
    log_sfr: np.ndarray
    log_sfr_sigma: np.ndarray


class PropertyEnsemble:
    """Ensemble of :class:`PropertyNet` with input scaler and target standardization."""

    def __init__(self, members, x_scaler: Scaler, t_mean, t_std, hidden, meta=None, feature_kind="spectrum"):
        self.members = [m.eval() for m in members]
        self.x_scaler = x_scaler
        self.t_mean = np.asarray(t_mean, dtype=np.float64)
        self.t_std = np.asarray(t_std, dtype=np.float64)
        self.hidden = tuple(hidden)
        self.meta = meta or {}
        self.feature_kind = feature_kind
        #: per-target scale of the predicted sigma (ln q_PAH, log L_bol,AGN, log SFR), fitted on
        #: the validation split by :func:`fit_sigma_scale`; 1 = uncalibrated
        self.sigma_scale = np.ones(len(REGRESSION_TARGETS))

    @torch.no_grad()
    def predict(self, features: np.ndarray, calibrated: bool = True) -> PropertyPosterior:
        x = torch.from_numpy(self.x_scaler.transform(features))
        means, vars_, probs = [], [], []
        for m in self.members:
            mu, logvar, logit = m(x)
            means.append(mu.double().numpy() * self.t_std + self.t_mean)
            vars_.append(np.exp(logvar.double().numpy()) * self.t_std**2)
            probs.append(torch.sigmoid(logit).double().numpy())
        means, vars_ = np.stack(means), np.stack(vars_)
        mean = means.mean(0)
        sd = np.sqrt(vars_.mean(0) + means.var(0)) * (self.sigma_scale if calibrated else 1.0)
        return PropertyPosterior(
            qpah=np.exp(mean[:, 0]),
            qpah_frac_sigma=sd[:, 0],
            log_lbol_agn=mean[:, 1],
            log_lbol_agn_sigma=sd[:, 1],
            p_agn=np.stack(probs).mean(0),
            log_sfr=mean[:, 2],
            log_sfr_sigma=sd[:, 2],
        )

    def state(self) -> dict:
        return {
            "members": [m.state_dict() for m in self.members],
            "x_scaler": self.x_scaler.to_dict(),
            "t_mean": self.t_mean.tolist(),
            "t_std": self.t_std.tolist(),
            "hidden": list(self.hidden),
            "meta": self.meta,
            "feature_kind": self.feature_kind,
            "sigma_scale": self.sigma_scale.tolist(),
        }

    @classmethod
    def from_state(cls, st: dict) -> PropertyEnsemble:
        scaler = Scaler.from_dict(st["x_scaler"])
        members = []
        for sd in st["members"]:
            m = PropertyNet(len(scaler.mean), tuple(st["hidden"]))
            m.load_state_dict(sd)
            members.append(m)
        obj = cls(
            members,
            scaler,
            st["t_mean"],
            st["t_std"],
            st["hidden"],
            st.get("meta", {}),
            st.get("feature_kind", "spectrum"),
        )
        obj.sigma_scale = np.asarray(st.get("sigma_scale", obj.sigma_scale), dtype=np.float64)
        return obj


def _loss(mu, logvar, logit, y, has, agn, has_agn):
    nll = 0.5 * (logvar + (y - mu) ** 2 * torch.exp(-logvar))
    per_target = (nll * has).sum(0) / has.sum(0).clamp_min(1.0)
    bce = nn.functional.binary_cross_entropy_with_logits(logit, agn, reduction="none")
    return per_target.sum() + (bce * has_agn).sum() / has_agn.sum().clamp_min(1.0)


def train_property_ensemble(
    x_train: np.ndarray,
    targets_train: dict,
    x_valid: np.ndarray,
    targets_valid: dict,
    n_members: int = 5,
    hidden=(128, 128),
    epochs: int = 150,
    batch_size: int = 512,
    lr: float = 2e-3,
    patience: int = 20,
    seed: int = 0,
    feature_names=None,
    feature_kind: str = "spectrum",
    progress: bool = True,
) -> PropertyEnsemble:
    """Train the multi-task property ensemble (early stopping on the validation loss)."""
    names = list(REGRESSION_TARGETS)
    yt = np.stack([targets_train[k] for k in names], 1)
    yv = np.stack([targets_valid[k] for k in names], 1)
    t_mean, t_std = standardization(yt, np.isfinite(yt))
    scaler = Scaler.fit(x_train, feature_names)

    def tensors(x, y, agn):
        f = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        has = np.isfinite(y)
        return (
            f(scaler.transform(x)),
            f(np.where(has, (y - t_mean) / t_std, 0.0)),
            f(has),
            f(np.nan_to_num(agn)),
            f(np.isfinite(agn)),
        )

    tr = tensors(x_train, yt, targets_train["agn"])
    va = tensors(x_valid, yv, targets_valid["agn"])
    members, history = fit_ensemble(
        lambda: PropertyNet(tr[0].shape[1], hidden),
        [seed * 1000 + 500 + k for k in range(n_members)],
        lambda net, b: _loss(*net(tr[0][b]), tr[1][b], tr[2][b], tr[3][b], tr[4][b]),
        len(tr[0]),
        EarlyStopping(epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=1e-5, patience=patience),
        valid_loss=(lambda net: float(_loss(*net(va[0]), *va[1:]))) if len(va[0]) else None,
        desc="train property heads",
        progress=progress,
    )
    return PropertyEnsemble(
        members,
        scaler,
        t_mean,
        t_std,
        hidden,
        meta={"valid_loss_history": history},
        feature_kind=feature_kind,
    )


def fit_sigma_scale(ensemble: PropertyEnsemble, features: np.ndarray, targets: dict) -> np.ndarray:
    """Per-target sigma scale that makes 68.27% of validation truths fall inside +-1 sigma.

    The scale is the 68.27th percentile of |truth - mean| / sigma (the exact solution for a
    Gaussian whose width is off by a constant factor).
    """
    pp = ensemble.predict(features, calibrated=False)
    pairs = [
        (np.log(pp.qpah), pp.qpah_frac_sigma, targets["ln_qpah"]),
        (
            pp.log_lbol_agn,
            pp.log_lbol_agn_sigma,
            np.where(targets["agn"] == 1, targets["log_lbol_agn"], np.nan),
        ),
        (pp.log_sfr, pp.log_sfr_sigma, targets["log_sfr"]),
    ]
    scale = np.ones(len(pairs))
    for k, (mu, sd, y) in enumerate(pairs):
        ok = np.isfinite(y) & (sd > 0)
        if ok.sum() >= 20:
            scale[k] = float(np.percentile(np.abs(y[ok] - mu[ok]) / sd[ok], 68.27))
    return scale
