"""A posterior over the whole rest-frame mid-infrared spectrum of a galaxy (issue 15).

What is modelled: y = log10 f_nu (mJy, as observed at (1 + z) * lambda_rest) of the total
noiseless spectrum (stars + dust + AGN) that a simulated catalog stores on its rest-frame 1-40
micron grid (``Catalog.ir_rest``; the whole grid is modelled because the WISE filters reach
rest-frame 2.2 micron at z = 0.5; the outputs and metrics use 3-35 and 5-35 micron).

Coefficients: y = a + s_mean + D(u), with a the mean of y over the grid (the amplitude) and D a
decoder of the shape:

* design ``pca``: D(u) = u @ V, the first K principal components of the training shapes;
* design ``glo``: D is an MLP trained jointly with one free latent u per training galaxy
  (generative latent optimisation, Bojanowski et al. 2018, as in Rissaki et al.).

c = (a, u) is standardized per dimension; an ensemble of :class:`CoefNet` maps the predictor's
features to a full-covariance Gaussian over c, so the posterior is an equal-weight Gaussian
mixture (:class:`SpectrumPosterior`). The out-of-basis residual of the training spectra (rms per
wavelength, in dex) is added to every draw as independent Gaussian scatter.

The WISE photometry of a spectrum is linear in f_nu (:func:`wise_matrix`, speclite's
wise2010-W1..4 curves, photon-counting, the catalog's AB -> Vega -> mJy convention), so a draw's
W1-W4 are exact; conditioning on observed photometry is in :mod:`explorer.ml.midir_condition`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..constants import WISE_AB_MINUS_VEGA, WISE_F0_JY
from ..errors import ModelError
from .data import Scaler
from .nets import silu_trunk

C_AA_S = 2.99792458e18
WISE_FILTER_NAMES = tuple(f"wise2010-W{i}" for i in range(1, 5))
#: rest-frame range of the written spectra and of the calibration metrics (micron)
OUTPUT_RANGE_UM = (3.0, 35.0)
#: Rissaki et al. (their Eq. 6): chi^2 is averaged over 5-35 micron
RISSAKI_RANGE_UM = (5.0, 35.0)
#: mid-IR features (micron): PAH bands and the silicate features (science.md, Rissaki et al.)
PAH_UM = (3.3, 6.2, 7.7, 8.6, 11.3, 12.7)
SILICATE_UM = (9.7, 18.0)
#: PAH band windows (micron) for band fluxes above a straight continuum between the window edges
PAH_WINDOWS_UM = {"PAH 7.7": (7.1, 8.3), "PAH 11.3": (10.9, 11.8)}
#: floor of a stored f_nu before the log (mJy); the simulated spectra are positive
FLOOR_MJY = 1e-12


# --- WISE photometry of a spectrum --------------------------------------------------------------
@functools.cache
def _filter_curve(name: str):
    import speclite.filters

    f = speclite.filters.load_filter(name)
    w = np.asarray(f.wavelength, float)
    r = np.asarray(f.response, float)
    return w, r, float(np.trapezoid(r * C_AA_S / w, w))


def _trapezoid_dw(wave: np.ndarray) -> np.ndarray:
    dw = np.zeros_like(wave)
    dw[1:-1] = 0.5 * (wave[2:] - wave[:-2])
    dw[0] = 0.5 * (wave[1] - wave[0])
    dw[-1] = 0.5 * (wave[-1] - wave[-2])
    return dw


def wise_matrix(wave_rest_um: np.ndarray, z) -> np.ndarray:
    """(N, 4, W) matrices A with W1-W4 flux density (mJy, catalog convention) = A @ f_nu (mJy).

    The same synthetic photometry as the simulator's (photon-counting response, trapezoid
    weights on the rest grid shifted by 1 + z), then the AB -> Vega offsets and Vega zero points
    of Jarrett et al. (2011), which make the catalog's mJy a constant multiple of the AB f_nu.

    Parameters
    ----------
    wave_rest_um : (W,) rest-frame wavelengths of the spectrum (micron)
    z : float or (N,) redshifts
    """
    wave = np.asarray(wave_rest_um, float) * 1e4
    zs = np.atleast_1d(np.asarray(z, float))
    dw = _trapezoid_dw(wave)
    # catalog mJy per AB mJy: F0 10^(-0.4 (AB - offset)) with AB = -2.5 log10(f_nu / 3631 Jy)
    k = WISE_F0_JY * 10 ** (0.4 * WISE_AB_MINUS_VEGA) / 3631.0
    out = np.zeros((zs.size, 4, wave.size))
    for i, zz in enumerate(zs):
        wo = wave * (1 + zz)
        for b, name in enumerate(WISE_FILTER_NAMES):
            w, r, norm = _filter_curve(name)
            t = np.interp(wo, w, r, left=0.0, right=0.0)
            out[i, b] = k[b] * t * C_AA_S / wo * dw * (1 + zz) / norm
    return out


def wise_mjy_to_mag(flux_mjy):
    """Vega magnitudes of W1-W4 flux densities (..., 4) in mJy (NaN where not positive)."""
    f = np.asarray(flux_mjy, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, -2.5 * np.log10(f / (WISE_F0_JY * 1e3)), np.nan)


# --- decoders of the shape ----------------------------------------------------------------------
class PCABasis(nn.Module):
    """D(u) = u @ V: the first K principal components of the training shapes (design ``pca``)."""

    def __init__(self, components: np.ndarray):
        super().__init__()
        self.register_buffer("components", torch.as_tensor(np.asarray(components), dtype=torch.float32))

    @property
    def n_latent(self) -> int:
        return self.components.shape[0]

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return u @ self.components

    @classmethod
    def fit(cls, shapes: np.ndarray, k: int) -> tuple[PCABasis, np.ndarray]:
        """Basis of ``k`` components from centred shapes (N, W); returns it and the codes (N, k)."""
        _, _, vt = np.linalg.svd(np.asarray(shapes, np.float64), full_matrices=False)
        comps = vt[:k]
        return cls(comps), shapes @ comps.T


class GLODecoder(nn.Module):
    """D(u): an MLP from a K-dimensional latent to the shape (design ``glo``)."""

    def __init__(self, n_latent: int, n_wave: int, hidden=(128, 256)):
        super().__init__()
        layers, prev = [], n_latent
        for h in hidden:
            layers += [nn.Linear(prev, h), nn.SiLU()]
            prev = h
        layers.append(nn.Linear(prev, n_wave))
        self.net = nn.Sequential(*layers)
        self.n_latent = n_latent
        self.hidden = tuple(hidden)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.net(u)


# --- the conditional prior over coefficients ----------------------------------------------------
class CoefNet(nn.Module):
    """MLP: standardized features -> (mean, Cholesky factor) of the standardized coefficients."""

    def __init__(self, n_in: int, n_coef: int, hidden=(128, 128)):
        super().__init__()
        self.trunk, prev = silu_trunk(n_in, hidden)
        self.n_coef = n_coef
        self.tril = torch.tril_indices(n_coef, n_coef, offset=-1)
        self.head = nn.Linear(prev, 2 * n_coef + self.tril.shape[1])

    def forward(self, x: torch.Tensor):
        out = self.head(self.trunk(x))
        k = self.n_coef
        mu = out[:, :k]
        chol = torch.diag_embed(nn.functional.softplus(out[:, k : 2 * k]) + 1e-3)
        off = torch.zeros_like(chol)
        off[:, self.tril[0], self.tril[1]] = out[:, 2 * k :]
        return mu, chol + off


def gaussian_nll(mu: torch.Tensor, chol: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B,) -log N(x; mu, L L^T) without the constant."""
    r = torch.linalg.solve_triangular(chol, (x - mu).unsqueeze(-1), upper=False).squeeze(-1)
    return 0.5 * (r**2).sum(-1) + torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


# --- the posterior ------------------------------------------------------------------------------
@dataclass
class SpectrumPosterior:
    """Per-galaxy Gaussian mixture over the standardized coefficients, and how to decode them.

    Attributes
    ----------
    means : (N, M, K + 5) component means of the state (a, u, Delta): the standardized spectrum
        coefficients and the four catalog-minus-spectrum W1-W4 offsets in mag
    covs : (N, M, K + 5, K + 5); weights : (N, M), rows sum to 1
    model : MidIRModel (the decoder and the coefficient scaling)
    z : (N,) redshifts (for WISE photometry of the draws)
    notes : list of str, per galaxy: what conditioning did (empty for a prior)
    """

    means: np.ndarray
    covs: np.ndarray
    weights: np.ndarray
    model: MidIRModel
    z: np.ndarray
    notes: list

    def __len__(self) -> int:
        return self.means.shape[0]

    def part(self, rows) -> SpectrumPosterior:
        """The posterior of the galaxies ``rows`` (a slice or an index array)."""
        notes = np.asarray(self.notes, dtype=object)[rows].tolist()
        return SpectrumPosterior(
            self.means[rows], self.covs[rows], self.weights[rows], self.model, self.z[rows], notes
        )

    def level_probs(self, q) -> np.ndarray:
        """(N, len(q)) the draws' quantile probabilities that give the nominal quantiles ``q`` once
        the bands are recalibrated (:mod:`explorer.ml.midir_calibrate`; the conditioned map for a
        galaxy conditioned on WISE, the prior's otherwise; ``q`` itself for a model without maps)."""
        from .midir_calibrate import map_probs

        levels = self.model.band_levels
        q = np.asarray(q, float)
        out = np.empty((len(self), q.size))
        cond = np.array([str(n).startswith("conditioned") for n in self.notes], bool)
        for kind, rows in (("prior", ~cond), ("conditioned", cond)):
            out[rows] = map_probs(q, levels.get(kind))
        return out

    @property
    def wave_um(self) -> np.ndarray:
        return self.model.wave_um

    def sample_coef(self, n: int, rng=None) -> np.ndarray:
        """(N, n, K) standardized coefficient draws."""
        rng = np.random.default_rng(rng)
        nn_, m, k = self.means.shape
        out = np.empty((nn_, n, k))
        chol = _safe_cholesky(self.covs)
        for i in range(nn_):
            comp = rng.choice(m, size=n, p=self.weights[i])
            eps = rng.standard_normal((n, k))
            out[i] = self.means[i, comp] + np.einsum("nij,nj->ni", chol[i, comp], eps)
        return out

    def sample_log(self, n: int, rng=None) -> np.ndarray:
        """(N, n, W) draws of log10 f_nu (mJy), out-of-basis scatter included."""
        rng = np.random.default_rng(rng)
        c = self.sample_coef(n, rng)[..., : self.model.n_coef]
        y = self.model.decode(c.reshape(-1, c.shape[-1])).reshape(c.shape[0], n, -1)
        return y + rng.standard_normal(y.shape, dtype=np.float32) * self.model.resid_dex

    def sample(self, n: int, rng=None) -> np.ndarray:
        """(N, n, W) draws of f_nu in mJy."""
        return 10.0 ** self.sample_log(n, rng)

    def quantiles(self, q, n: int = 1000, rng=0) -> np.ndarray:
        """(N, len(q), W) per-wavelength quantiles of f_nu (mJy) from ``n`` draws (recalibrated levels,
        :meth:`level_probs`)."""
        return 10.0 ** draw_quantiles(self.sample_log(n, rng), self.level_probs(q)).transpose(1, 0, 2)

    def wise_mag_draws(self, n: int = 1000, rng=0, catalog: bool = False) -> np.ndarray:
        """(N, n, 4) W1-W4 Vega magnitudes of ``n`` draws: of the total spectrum, or (``catalog``)
        as the catalog would report them (plus the offsets of :mod:`explorer.ml.midir_offset`)."""
        rng = np.random.default_rng(rng)
        c = self.sample_coef(n, rng)
        k = self.model.n_coef
        y = self.model.decode(c[..., :k].reshape(-1, k)).reshape(c.shape[0], n, -1)
        y = y + rng.standard_normal(y.shape) * self.model.resid_dex
        a = wise_matrix(self.wave_um, self.z)
        mag = wise_mjy_to_mag(np.einsum("nsw,nbw->nsb", 10.0**y, a))
        return mag + c[..., k:] if catalog else mag


class MidIRModel:
    """Feature scaler, coefficient ensemble and decoder: features -> :class:`SpectrumPosterior`.

    Parameters
    ----------
    design : {"pca", "glo"}
    feature_kind : str
        :func:`explorer.ml.data.build_features` kind of the inputs.
    x_scaler : Scaler
    members : list of CoefNet
    decoder : PCABasis or GLODecoder
    wave_um : (W,) rest-frame grid
    shape_mean : (W,) mean shape (log10 f_nu minus its mean over the grid)
    coef_mean, coef_sd : (K + 1,) standardization of c = (a, u)
    resid_dex : (W,) rms out-of-basis residual of the training spectra
    floor_mag : (4,) rms of the W1-W4 magnitudes of the reconstructed training spectra against
        the catalog's truth (model error of the photometry; added to the noise when conditioning)
    meta : dict
    offset : WiseOffsetModel, optional (:mod:`.midir_offset`)
    aux : AuxHeads, optional (:mod:`.midir_aux`): columns appended to the features before
        ``x_scaler`` (the prior and the offset model see them; callers pass the plain features)
    """

    def __init__(self, design, feature_kind, x_scaler, members, decoder, wave_um, shape_mean, coef_mean,
                 coef_sd, resid_dex, floor_mag, meta=None, offset=None, aux=None):  # fmt: skip
        self.design = design
        self.feature_kind = feature_kind
        self.x_scaler = x_scaler
        self.members = [m.eval() for m in members]
        self.decoder = decoder.eval()
        self.wave_um = np.asarray(wave_um, float)
        self.shape_mean = np.asarray(shape_mean, float)
        self.coef_mean = np.asarray(coef_mean, float)
        self.coef_sd = np.asarray(coef_sd, float)
        self.resid_dex = np.asarray(resid_dex, float)
        self.floor_mag = np.asarray(floor_mag, float)
        self.meta = meta or {}
        self.offset = offset
        self.aux = aux
        #: recalibrated central levels of the bands, {"prior": [...], "conditioned": [...]} at
        #: :data:`.midir_calibrate.NOMINAL` (:func:`.midir_calibrate.fit_band_levels`); {} = as drawn
        self.band_levels = {}
        self._torch_shape_mean = torch.as_tensor(self.shape_mean, dtype=torch.float32)

    @property
    def n_coef(self) -> int:
        return self.coef_mean.size

    def decode_torch(self, c_std: torch.Tensor) -> torch.Tensor:
        """log10 f_nu (B, W) of standardized coefficients (B, K + 1), differentiable."""
        c = c_std * torch.as_tensor(self.coef_sd, dtype=c_std.dtype) + torch.as_tensor(
            self.coef_mean, dtype=c_std.dtype
        )
        shape = self.decoder(c[:, 1:].float()).to(c_std.dtype)
        return c[:, :1] + self._torch_shape_mean.to(c_std.dtype) + shape

    def _pca_components(self) -> np.ndarray:
        if getattr(self, "_v", None) is None:
            self._v = self.decoder.components.numpy().astype(float)
        return self._v

    @torch.no_grad()
    def decode(self, c_std: np.ndarray) -> np.ndarray:
        """log10 f_nu (B, W) of standardized coefficients (B, K + 1)."""
        c = np.asarray(c_std, float) * self.coef_sd + self.coef_mean
        if isinstance(self.decoder, PCABasis):
            return c[:, :1] + self.shape_mean + c[:, 1:] @ self._pca_components()
        shape = self.decoder(torch.as_tensor(c[:, 1:], dtype=torch.float32)).numpy().astype(float)
        return c[:, :1] + self.shape_mean + shape

    def jacobian(self, c_std: np.ndarray) -> np.ndarray:
        """d log10 f_nu / d c_std: (B, W, K + 1)."""
        c_std = np.atleast_2d(c_std)
        if isinstance(self.decoder, PCABasis):
            v = self._pca_components().T  # (W, K)
            j = np.concatenate([np.ones((v.shape[0], 1)), v], axis=1) * self.coef_sd
            return np.broadcast_to(j, (len(c_std),) + j.shape).copy()
        # GLO: central differences in one batched forward pass (2 K + 2 rows per galaxy); exact to
        # O(eps^2) and an order of magnitude faster than autograd's Jacobian for one galaxy
        eps, k = 1e-2, c_std.shape[1]
        steps = np.concatenate([np.eye(k), -np.eye(k)]) * eps  # (2k, k)
        rows = (c_std[:, None, :] + steps[None]).reshape(-1, k)
        y = self.decode(rows).reshape(len(c_std), 2, k, -1)  # (B, 2, k, W)
        return np.swapaxes((y[:, 0] - y[:, 1]) / (2 * eps), 1, 2)

    @property
    def n_features(self) -> int:
        """Number of features a caller passes (the auxiliary heads' columns are added inside)."""
        return int(self.x_scaler.mean.size) - (len(self.aux.names) if self.aux is not None else 0)

    def inputs(self, features: np.ndarray) -> np.ndarray:
        """What the prior and the offset model see: the features, with the auxiliary heads'
        columns appended where the model has them."""
        if self.aux is None:
            return features
        return np.concatenate([features, self.aux.predict(features)], axis=1)

    @torch.no_grad()
    def predict(self, features: np.ndarray, z) -> SpectrumPosterior:
        """Posterior over the spectra of galaxies with raw features (N, D) at redshifts z (N,)."""
        features = self.inputs(np.asarray(features, dtype=float))
        x = torch.from_numpy(self.x_scaler.transform(features))
        means, covs = [], []
        for m in self.members:
            mu, chol = m(x)
            means.append(mu.double().numpy())
            covs.append((chol @ chol.transpose(-1, -2)).double().numpy())
        means, covs = _with_offsets(np.stack(means, 1), np.stack(covs, 1), self.offset, features)
        w = np.full(means.shape[:2], 1.0 / means.shape[1])
        z = np.broadcast_to(np.asarray(z, float), (len(means),)).copy()
        return SpectrumPosterior(means, covs, w, self, z, [""] * len(means))

    def encode_truth(self, log_fnu: np.ndarray) -> np.ndarray:
        """Standardized coefficients (N, K + 1) of true spectra (projection; GLO: latent fit)."""
        from .midir_fit import encode_spectra

        return encode_spectra(self, log_fnu)

    def state(self) -> dict:
        dec = self.decoder
        return {
            "design": self.design,
            "feature_kind": self.feature_kind,
            "x_scaler": self.x_scaler.to_dict(),
            "members": [m.state_dict() for m in self.members],
            "member_hidden": list(self.meta.get("member_hidden", (128, 128))),
            "decoder": dec.state_dict(),
            "decoder_hidden": list(getattr(dec, "hidden", ())),
            "n_latent": int(dec.n_latent),
            **{k: getattr(self, k).tolist() for k in ("wave_um", "shape_mean", "coef_mean", "coef_sd", "resid_dex", "floor_mag")},
            "meta": self.meta,
            "offset": self.offset.state() if self.offset is not None else {},
            "aux": self.aux.state() if self.aux is not None else {},
            "band_levels": self.band_levels,
        }  # fmt: skip

    @classmethod
    def from_state(cls, st: dict) -> MidIRModel:
        scaler = Scaler.from_dict(st["x_scaler"])
        n_w, k = len(st["wave_um"]), int(st["n_latent"])
        if st["design"] == "pca":
            dec = PCABasis(np.zeros((k, n_w)))
        elif st["design"] == "glo":
            dec = GLODecoder(k, n_w, tuple(st["decoder_hidden"]))
        else:
            raise ModelError(f"unknown mid-IR design {st['design']!r}")
        dec.load_state_dict(st["decoder"])
        members = []
        for sd in st["members"]:
            m = CoefNet(len(scaler.mean), k + 1, tuple(st["member_hidden"]))
            m.load_state_dict(sd)
            members.append(m)
        keys = ("wave_um", "shape_mean", "coef_mean", "coef_sd", "resid_dex", "floor_mag")
        from .midir_aux import AuxHeads
        from .midir_offset import WiseOffsetModel

        off = WiseOffsetModel.from_state(st["offset"]) if st.get("offset") else None
        aux = AuxHeads.from_state(st["aux"]) if st.get("aux") else None
        model = cls(
            st["design"],
            st["feature_kind"],
            scaler,
            members,
            dec,
            *(st[k] for k in keys),
            meta=st["meta"],
            offset=off,
            aux=aux,
        )
        model.band_levels = dict(st.get("band_levels") or {})
        return model


def draw_quantiles(draws: np.ndarray, q) -> np.ndarray:
    """Quantiles (len(q), N, W) over the draws axis of (N, n, W), as ``np.quantile`` (linear);
    ``q`` (K,) for every galaxy or (N, K) per galaxy (:meth:`SpectrumPosterior.level_probs`).

    Sorting a contiguous copy with the draws last is several times faster than ``np.quantile``
    along the middle axis (the 50 ms budget of one galaxy's posterior).
    """
    s = np.sort(np.ascontiguousarray(np.swapaxes(draws, 1, 2)), axis=2)  # (N, W, n)
    q = np.asarray(q, float)
    pos = (q if q.ndim == 2 else np.broadcast_to(np.atleast_1d(q), (s.shape[0], q.size))) * (s.shape[2] - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, s.shape[2] - 1)
    f = (pos - lo)[:, None, :]

    def take(idx):
        return np.take_along_axis(s, np.broadcast_to(idx[:, None, :], s.shape[:2] + idx.shape[1:]), axis=2)

    out = take(lo) * (1 - f) + take(hi) * f  # (N, W, len(q))
    return np.moveaxis(out, 2, 0)


def _safe_cholesky(covs: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.cholesky(covs + 1e-10 * np.eye(covs.shape[-1]))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(0.5 * (covs + np.swapaxes(covs, -1, -2)))
        return v * np.sqrt(np.clip(w, 0, None))[..., None, :]


def _with_offsets(means, covs, offset, features):
    """Append the four W1-W4 offsets (prior independent of the spectrum) to every component."""
    n, m, k = means.shape
    if offset is None:  # no measurement model: the catalog reports the spectrum's W1-W4
        d_mu, d_cov = np.zeros((n, 4)), np.broadcast_to(1e-8 * np.eye(4), (n, 4, 4))
    else:
        d_mu, d_cov = offset.predict(features)
    mu = np.concatenate([means, np.broadcast_to(d_mu[:, None], (n, m, 4))], axis=2)
    cov = np.zeros((n, m, k + 4, k + 4))
    cov[:, :, :k, :k] = covs
    cov[:, :, k:, k:] = d_cov[:, None]
    return mu, cov


def log_total(ir: dict) -> np.ndarray:
    """log10 of the total (stars + dust + AGN) f_nu in mJy, (N, W), from ``Catalog.ir_rest``."""
    tot = sum(np.asarray(ir[c], float) for c in ("stars", "dust", "agn") if c in ir)
    return np.log10(np.maximum(tot, FLOOR_MJY))


def in_range(wave_um: np.ndarray, rng_um) -> np.ndarray:
    return (wave_um >= rng_um[0]) & (wave_um <= rng_um[1])


LN10 = math.log(10.0)
