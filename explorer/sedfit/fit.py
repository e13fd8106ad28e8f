"""Fit one galaxy with the separable SED model and predict its WISE photometry.

The likelihood is Gaussian in the binned spectrum (times the best least-squares second-order
calibration polynomial, :mod:`explorer.sedfit.data`) and in the total ugriz flux densities. The
posterior is sampled with nautilus (Lange 2023, MNRAS 525 3181), the sampler bagpipes 1.3.6 uses
when MultiNest is absent, with far fewer live points than its default (``n_live`` = 2000): that
is what makes a fit take about a minute on one core (:class:`FitSettings`). W1-W4 are then
computed for ``n_draws`` equal-weight posterior draws through the speclite WISE filter curves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from ..constants import WAVE_OBS_VAC_AA, WISE_BANDS, vega_mag_to_mjy
from .data import FitData, SedFitError

POLY_ORDER = 2  # multiplicative calibration polynomial of the spectrum (aperture, colour gradient)


class FitCancelled(SedFitError):
    """The fit was cancelled by its caller."""


@dataclass(frozen=True)
class FitSettings:
    """Sampler settings. The defaults are the reduced ones of the comparison: nautilus with 200
    live points (its default is 2000) stopped at 1,000 effective posterior samples (default
    10,000), and a cap on likelihood calls; the WISE posterior is computed from 200 draws."""

    n_live: int = 200
    n_eff: int = 1000
    n_like_max: int = 60_000
    n_draws: int = 200
    n_networks: int = 4  # nautilus' default
    seed: int = 0
    bin_pixels: int = 20
    spec_floor: float = 0.02
    phot_floor: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


#: settings of the quick test fit (seconds, not a result)
QUICK = FitSettings(n_live=40, n_eff=40, n_like_max=1500, n_draws=30, n_networks=1)


@dataclass
class FitResult:
    """One galaxy's SED-fit posterior.

    Attributes
    ----------
    wise_mag_draws : (n_draws, 4) predicted W1-W4, Vega mag
    log_sfr_draws, log_mstar_draws, qpah_draws : (n_draws,) log10 SFR [M_sun/yr], log10 M* [M_sun]
        (bagpipes' cosmology, H0 = 70, Omega_m = 0.3) and q_PAH [per cent]
    params : dict name -> (n_draws,) draws of every free parameter
    """

    id: str
    z: float
    wise_mag_draws: np.ndarray
    log_sfr_draws: np.ndarray
    log_mstar_draws: np.ndarray
    qpah_draws: np.ndarray
    params: dict
    wall_s: float
    n_like: int
    log_z: float
    best_chi2: float
    n_data: int
    settings: dict = field(default_factory=dict)
    cpu_s: float = float("nan")  # CPU time of this process (the fit is single-threaded)

    @property
    def wise_mjy_draws(self) -> np.ndarray:
        return vega_mag_to_mjy(self.wise_mag_draws, np.arange(4))

    def summary(self) -> dict:
        """Median and 16/84 percentiles of the WISE magnitudes, SFR and q_PAH (plain floats)."""
        out = {"id": self.id, "z": self.z, "wall_s": self.wall_s, "cpu_s": self.cpu_s, "n_like": self.n_like}
        for k, b in enumerate(WISE_BANDS):
            p16, p50, p84 = np.percentile(self.wise_mag_draws[:, k], [16, 50, 84])
            out.update({f"{b.lower()}_p16": p16, f"{b.lower()}_p50": p50, f"{b.lower()}_p84": p84})
        for name, d in (("log_sfr", self.log_sfr_draws), ("qpah", self.qpah_draws)):
            p16, p50, p84 = np.percentile(d, [16, 50, 84])
            out.update({f"{name}_p16": p16, f"{name}_p50": p50, f"{name}_p84": p84})
        return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def _interp_matrix(x_model: np.ndarray, x_out: np.ndarray) -> np.ndarray:
    """Dense (len(x_out), len(x_model)) linear-interpolation matrix (zero outside the model)."""
    m = np.zeros((x_out.size, x_model.size))
    k = np.clip(np.searchsorted(x_model, x_out) - 1, 0, x_model.size - 2)
    t = (x_out - x_model[k]) / (x_model[k + 1] - x_model[k])
    inside = (t >= 0) & (t <= 1)
    rows = np.flatnonzero(inside)
    m[rows, k[inside]] = 1 - t[inside]
    m[rows, k[inside] + 1] = t[inside]
    return m


class Likelihood:
    """Gaussian log-likelihood of one galaxy under the separable model (counts its calls)."""

    def __init__(self, data: FitData, model, priors, cancel: threading.Event | None = None):
        self.data, self.model, self.priors = data, model, priors
        self.names = [p.name for p in priors]
        wave_obs = model.wave_vac_aa * (1 + data.z)
        # model (rest grid) -> spender grid -> the same weighted bins as the data, in 1e-17 units
        self.to_bins = data.bin_matrix @ _interp_matrix(wave_obs, WAVE_OBS_VAC_AA) * 1e17
        x = np.log(data.wave_obs_vac_aa)
        x = 2 * (x - x.min()) / max(x.max() - x.min(), 1e-12) - 1
        self.poly = np.vander(x, POLY_ORDER + 1, increasing=True)  # (n_bin, order + 1)
        self.ok_phot = np.isfinite(data.ugriz_fnu)
        self.cancel = cancel
        self.n_calls = 0
        self.on_call: Callable[[int], None] | None = None

    def theta(self, u: np.ndarray) -> dict:
        return {p.name: float(p.transform(v)) for p, v in zip(self.priors, u, strict=True)}

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        return np.array([p.transform(v) for p, v in zip(self.priors, u, strict=True)])

    def chi2(self, x: np.ndarray) -> float:
        """chi^2 of the spectrum (calibrated shape) plus the photometry at parameters ``x``."""
        theta = dict(zip(self.names, map(float, x), strict=True))
        spec, _, _ = self.model.spectrum(theta)
        d = self.data
        m = self.to_bins @ spec
        a = self.poly * (m / d.sigma_1e17)[:, None]
        coef, *_ = np.linalg.lstsq(a, d.flux_1e17 / d.sigma_1e17, rcond=None)
        r_spec = d.flux_1e17 / d.sigma_1e17 - a @ coef
        fnu = self.model.ugriz @ spec
        r_phot = ((d.ugriz_fnu - fnu) / d.ugriz_sigma_fnu)[self.ok_phot]
        return float(r_spec @ r_spec + r_phot @ r_phot)

    def __call__(self, x: np.ndarray) -> float:
        if self.cancel is not None and self.cancel.is_set():
            raise FitCancelled(f"{self.data.id}: fit cancelled")
        self.n_calls += 1
        if self.on_call is not None and self.n_calls % 200 == 0:
            self.on_call(self.n_calls)
        c = self.chi2(x)
        return -0.5 * c if np.isfinite(c) else -1e300


def fit_galaxy(
    data: FitData,
    settings: FitSettings | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> FitResult:
    """Sample the posterior of one galaxy and predict W1-W4 from it.

    Parameters
    ----------
    data : :class:`~explorer.sedfit.data.FitData`
    progress : called with the number of likelihood calls so far (every 200 calls)
    cancel : set it from another thread to stop the fit (:class:`FitCancelled` is raised)
    """
    from nautilus import Sampler

    from .model import SedModel, default_priors, wise_vega_mag

    settings = FitSettings() if settings is None else settings
    t0, c0 = time.perf_counter(), time.process_time()
    model = SedModel(data.z)
    priors = default_priors(model.age_universe_gyr)
    like = Likelihood(data, model, priors, cancel)
    like.on_call = progress
    sampler = Sampler(
        like.prior_transform,
        like,
        n_dim=len(priors),
        n_live=settings.n_live,
        n_networks=settings.n_networks,
        seed=settings.seed,
        pool=None,
    )
    sampler.run(n_eff=settings.n_eff, n_like_max=settings.n_like_max, discard_exploration=True, verbose=False)
    points, log_w, log_l = sampler.posterior()
    w = np.exp(log_w - log_w.max())
    rng = np.random.default_rng(settings.seed)
    pick = rng.choice(points.shape[0], size=settings.n_draws, p=w / w.sum())
    draws = points[pick]
    wise, sfr, mstar = [], [], []
    for x in draws:
        spec, s, ms = model.spectrum(dict(zip(like.names, map(float, x), strict=True)))
        wise.append(wise_vega_mag(model.wise @ spec))
        sfr.append(s)
        mstar.append(ms)
    wise = np.array(wise)
    if not np.isfinite(wise).all():
        raise SedFitError(f"{data.id}: the SED fit predicted a non-finite WISE flux")
    params = {n: draws[:, k].copy() for k, n in enumerate(like.names)}
    return FitResult(
        id=data.id,
        z=data.z,
        wise_mag_draws=wise,
        log_sfr_draws=np.log10(np.maximum(np.array(sfr), 1e-30)),
        log_mstar_draws=np.array(mstar),
        qpah_draws=params["qpah"].copy(),
        params=params,
        wall_s=time.perf_counter() - t0,
        cpu_s=time.process_time() - c0,
        n_like=like.n_calls,
        log_z=float(sampler.log_z),
        best_chi2=float(-2 * log_l.max()),
        n_data=int(data.n_bins + like.ok_phot.sum()),
        settings=settings.to_dict(),
    )
