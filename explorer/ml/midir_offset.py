"""How a catalog's W1-W4 magnitudes differ from the W1-W4 of a galaxy's total spectrum.

A catalog magnitude is not the spectrum seen through the filter: AllWISE profile-fit photometry
misses part of the flux of a resolved galaxy (a loss that grows with its size), W4 is calibrated
with a shifted bandpass, and the catalog has zero-point offsets. On a simulated catalog the
offset Delta = m_catalog - m_spectrum is known for every detected band, so it is learned: a
small network (:class:`~explorer.ml.predictor.IRNet`) gives a full-covariance Gaussian
N(Delta; delta(x), T(x)) over the four offsets from the same features as the spectrum model, with
the predictor's likelihood (:func:`~explorer.ml.predictor.censored_gaussian_nll`; catalog errors
as noise, bands that are upper limits marginalised out). The conditioning adds Delta to the state
(:mod:`explorer.ml.midir_condition`), and the spectrum model's draws plus Delta are predictions of
catalog magnitudes, comparable with the shipped predictor's.

The offsets are not Gaussian (a resolved galaxy's aperture loss is one-sided), so the fitted
Gaussian's variance, the mean square of the residuals, is wider than their core: on the validation
split more than 68% of them fell inside +-1 sigma (0.77 in W1 of the ugriz model of
``models/default``). Each band's sigma is therefore scaled by the factor that puts 68.27% of the
validation offsets inside +-1 sigma of catalog error and offset together (:func:`band_scales`,
as the property heads' :func:`~explorer.ml.properties.fit_sigma_scale`).
"""

from __future__ import annotations

import numpy as np
import torch

from .data import Scaler
from .fit import EarlyStopping, fit_ensemble
from .predictor import IRNet, censored_gaussian_nll


class WiseOffsetModel:
    """features -> N(Delta; mean (N, 4), cov (N, 4, 4)) in magnitudes."""

    def __init__(self, net: IRNet, x_scaler: Scaler, hidden=(64, 64), scale=None):
        self.net = net.eval()
        self.x_scaler = x_scaler
        self.hidden = tuple(hidden)
        #: per-band factor on the offsets' sigma (:func:`band_scales`; 1 = as fitted)
        self.scale = np.ones(4) if scale is None else np.asarray(scale, float)

    @torch.no_grad()
    def predict(self, features: np.ndarray, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        mu, chol = self.net(torch.from_numpy(self.x_scaler.transform(features)))
        cov = (chol @ chol.transpose(-1, -2)).double().numpy()
        if calibrated:
            cov = cov * np.outer(self.scale, self.scale)
        return mu.double().numpy(), cov

    def state(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "x_scaler": self.x_scaler.to_dict(),
            "hidden": list(self.hidden),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_state(cls, st: dict) -> WiseOffsetModel:
        sc = Scaler.from_dict(st["x_scaler"])
        net = IRNet(len(sc.mean), tuple(st["hidden"]))
        net.load_state_dict(st["net"])
        return cls(net, sc, st["hidden"], st.get("scale"))

    @classmethod
    def fit(cls, x_train, d_train, s_train, x_valid, d_valid, s_valid, x_scaler: Scaler, seed: int = 0,
            epochs: int = 100, hidden=(64, 64)) -> WiseOffsetModel:  # fmt: skip
        """Train on offsets d (N, 4) with catalog errors s (N, 4); NaN offsets are not used."""

        def tensors(x, d, s):
            det = np.isfinite(d) & np.isfinite(s) & (s > 0)
            f = lambda a: torch.as_tensor(np.where(det, a, 0.0), dtype=torch.float32)  # noqa: E731
            return (
                torch.from_numpy(x_scaler.transform(x)),
                f(d),
                f(s),
                torch.as_tensor(det),
                torch.zeros(det.shape, dtype=torch.bool),
            )

        xt, dt, st, mt, ct = tensors(x_train, d_train, s_train)
        xv, dv, sv, mv, cv = tensors(x_valid, d_valid, s_valid)

        def loss(net, b):
            mu, chol = net(xt[b])
            return censored_gaussian_nll(mu, chol, dt[b], st[b], mt[b], ct[b]).mean()

        def vloss(net):
            mu, chol = net(xv)
            return float(censored_gaussian_nll(mu, chol, dv, sv, mv, cv).mean())

        settings = EarlyStopping(epochs=epochs, batch_size=512, lr=2e-3, patience=15)
        (net,), _ = fit_ensemble(lambda: IRNet(xt.shape[1], hidden), [seed + 7], loss, len(xt), settings,
                                 valid_loss=vloss if len(xv) else None, desc="train WISE offsets", progress=False)  # fmt: skip
        model = cls(net, x_scaler, hidden)
        if len(x_valid):
            mu, cov = model.predict(x_valid, calibrated=False)
            model.scale = band_scales(d_valid - mu, np.diagonal(cov, axis1=1, axis2=2), s_valid)
        return model


def band_scales(resid: np.ndarray, t_var: np.ndarray, s: np.ndarray, level: float = 0.6827) -> np.ndarray:
    """(B,) per band, the factor k on the model's sigma for which a fraction ``level`` of the finite
    residuals r fall inside +-sqrt(k^2 t + s^2) (bisection; 1 where a band has fewer than 20).

    Parameters
    ----------
    resid : (N, B) offset minus predicted offset (NaN where the band is not detected)
    t_var : (N, B) the model's variance of the offset
    s : (N, B) catalog errors
    """
    out = np.ones(resid.shape[1])
    for b in range(resid.shape[1]):
        ok = np.isfinite(resid[:, b]) & np.isfinite(s[:, b]) & (t_var[:, b] > 0)
        if ok.sum() < 20:
            continue
        r2, t, s2 = resid[ok, b] ** 2, t_var[ok, b], s[ok, b] ** 2
        lo, hi = 1e-3, 1e3
        for _ in range(60):  # the fraction inside grows with k: bisect in log k
            k = np.sqrt(lo * hi)
            lo, hi = (k, hi) if np.mean(r2 <= k**2 * t + s2) < level else (lo, k)
        out[b] = np.sqrt(lo * hi)
    return out
