"""The SED-fitting model: a bagpipes galaxy on a coarse wavelength grid, its priors and its
synthetic photometry (the only module of :mod:`explorer.sedfit` that imports bagpipes).

The model is the conventional, *separable* one of SED-fitting codes (CIGALE, prospector,
bagpipes): every component has its own prior, independent of the others.

- star-formation history: delayed-tau, SFR(t) ~ t exp(-t / tau) (e.g. Carnall et al. 2019, ApJ
  873 44, their "delayed" model), BC03 stellar populations on MILES (bagpipes 1.3.6);
- dust attenuation: Calzetti et al. (2000), birth clouds (age < 10 Myr) attenuated twice
  (``eta = 2``, as in Carnall et al. 2018, MNRAS 480 4379), one free A_V;
- nebular emission: bagpipes' Cloudy grid, logU free, gas metallicity = stellar;
- dust emission: Draine & Li (2007) with q_PAH, U_min and gamma free with flat priors over the
  model grid, independent of the stars; energy balance (what the dust absorbs it re-emits);
- no AGN, no torus.

bagpipes' optical wavelengths are in air (MILES, Cloudy); SDSS spectra are in vacuum, so the
model's rest wavelengths are converted to vacuum (IAU standard, Morton 1991) before they are
compared with a spectrum. Synthetic photometry uses the speclite filter curves (``sdss2010-*``,
``wise2010-W*``); WISE magnitudes are AB converted to Vega with the offsets of Jarrett et al.
(2011) in :mod:`explorer.constants`.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np

from ..constants import WISE_AB_MINUS_VEGA

C_AA_S = 2.99792458e18  # speed of light in Angstrom/s
SDSS_FILTERS = tuple(f"sdss2010-{b}" for b in "ugriz")
WISE_FILTERS = tuple(f"wise2010-W{i}" for i in range(1, 5))

#: log10 step of the model's optical part (rest 2500-11000 A): 1e-3 dex (R ~ 430), ten SDSS pixels
OPT_LOG_STEP = 1e-3
OPT_LO_AA, OPT_HI_AA = 2500.0, 11000.0

# bagpipes' Draine & Li (2007) grid limits (bagpipes.config.qpah_vals, umin_vals)
QPAH_RANGE = (0.1, 4.58)  # per cent
UMIN_RANGE = (0.1, 25.0)


@dataclass(frozen=True)
class Prior:
    """One free parameter: name, bounds and whether its prior is flat in log10."""

    name: str
    lo: float
    hi: float
    log: bool = False

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Unit cube -> parameter value."""
        if self.log:
            return 10 ** (np.log10(self.lo) + u * (np.log10(self.hi) - np.log10(self.lo)))
        return self.lo + u * (self.hi - self.lo)


def default_priors(age_universe_gyr: float) -> tuple[Prior, ...]:
    """The separable priors (Carnall et al. 2018, 2019 ranges for the stellar part; the whole
    Draine & Li 2007 grid for the dust emission). ``age`` is bounded by the age of the universe
    at the galaxy's redshift."""
    return (
        Prior("log_massformed", 6.0, 13.0),
        Prior("age_gyr", 0.1, float(age_universe_gyr)),
        Prior("tau_gyr", 0.3, 10.0, log=True),
        Prior("metallicity", 0.2, 2.5, log=True),  # Z / Z_sun, stars and gas
        Prior("av", 0.0, 3.0),
        Prior("logu", -4.0, -2.0),
        Prior("qpah", *QPAH_RANGE),
        Prior("umin", *UMIN_RANGE),
        Prior("gamma", 0.0, 0.99),
    )


def components(theta: dict, z: float) -> dict:
    """bagpipes model components of one parameter vector (``qpah``, ``umin``, ``gamma`` must sit
    inside the ``dust`` dict: bagpipes silently ignores them anywhere else)."""
    return {
        "redshift": z,
        "t_bc": 0.01,
        "delayed": {
            "age": theta["age_gyr"],
            "tau": theta["tau_gyr"],
            "massformed": theta["log_massformed"],
            "metallicity": theta["metallicity"],
        },
        "dust": {
            "type": "Calzetti",
            "Av": theta["av"],
            "eta": 2.0,
            "qpah": theta["qpah"],
            "umin": theta["umin"],
            "gamma": theta["gamma"],
        },
        "nebular": {"logU": theta["logu"]},
    }


def model_wavelengths() -> np.ndarray:
    """Rest-frame (air) grid of the fitting model: coarse in the UV and IR (R = 100-200), 1e-3 dex
    (R ~ 430) over the optical range the spectrum and ugriz see."""

    def geom(lo, hi, r):
        n = int(np.ceil(np.log(hi / lo) / np.log1p(0.5 / r)))
        return lo * (1 + 0.5 / r) ** np.arange(n)

    return np.concatenate(
        [
            geom(1.0, 912.0, 20),
            geom(912.0, OPT_LO_AA, 100),
            10 ** np.arange(np.log10(OPT_LO_AA), np.log10(OPT_HI_AA), OPT_LOG_STEP),
            geom(OPT_HI_AA, 3.0e5, 100),  # W4 ends near 28 micron observed
            geom(3.0e5, 1.0e8, 10),
        ]
    )


def air_to_vac(wave_air_aa):
    """Air to vacuum wavelength (Angstrom), IAU standard (Morton 1991); unchanged below 2000 A."""
    w = np.asarray(wave_air_aa, dtype=float)
    sigma2 = (1e4 / w) ** 2
    n = 1.0 + 6.4328e-5 + 2.94981e-2 / (146.0 - sigma2) + 2.5540e-4 / (41.0 - sigma2)
    return np.where(w >= 2000.0, w * n, w)


@functools.cache
def _filter_curve(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    import speclite.filters

    f = speclite.filters.load_filter(name)
    w = np.asarray(f.wavelength, dtype=float)
    r = np.asarray(f.response, dtype=float)
    return w, r, float(np.trapezoid(r * C_AA_S / w, w))


def band_matrix(wave_rest_aa: np.ndarray, z: float, filters) -> np.ndarray:
    """(n_filter, n_wave) matrix M so that f_nu [erg/s/cm^2/Hz] = M @ f_lambda, for f_lambda per
    observed Angstrom sampled at the rest wavelengths (bagpipes' ``spectrum_full``)."""
    wave = np.asarray(wave_rest_aa, float)
    dw = np.gradient(wave)
    wo = wave * (1.0 + z)
    out = np.zeros((len(filters), wave.size))
    for k, name in enumerate(filters):
        w, r, norm = _filter_curve(name)
        t = np.interp(wo, w, r, left=0.0, right=0.0)
        out[k] = t * wo * dw * (1.0 + z) / norm
    return out


def fnu_to_ab(fnu_cgs):
    """AB magnitude of f_nu in erg/s/cm^2/Hz (NaN if not positive)."""
    f = np.asarray(fnu_cgs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, -2.5 * np.log10(f) - 48.6, np.nan)


def wise_vega_mag(fnu_cgs):
    """WISE Vega magnitudes of f_nu (erg/s/cm^2/Hz): AB minus the Jarrett et al. (2011) offsets."""
    return fnu_to_ab(fnu_cgs) - WISE_AB_MINUS_VEGA


class SedModel:
    """A bagpipes model galaxy at redshift ``z`` on :func:`model_wavelengths`, built once and then
    updated per parameter vector.

    Attributes
    ----------
    wave_vac_aa : ndarray
        Rest-frame vacuum wavelengths of the model grid.
    ugriz, wise : ndarray (5 | 4, n_wave)
        :func:`band_matrix` of the SDSS and WISE filters at ``z``.
    """

    def __init__(self, z: float):
        import bagpipes

        wave = model_wavelengths()

        class _Model(bagpipes.models.model_galaxy):
            def _get_wavelength_sampling(self_inner):  # noqa: N805
                return wave

        self.z = float(z)
        start = {
            "log_massformed": 10.0,
            "age_gyr": 1.0,
            "tau_gyr": 1.0,
            "metallicity": 1.0,
            "av": 0.3,
            "logu": -3.0,
            "qpah": 2.0,
            "umin": 1.0,
            "gamma": 0.01,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model = _Model(components(start, self.z))
        self.wave = wave
        self.wave_vac_aa = air_to_vac(wave)
        self.ugriz = band_matrix(wave, self.z, SDSS_FILTERS)
        self.wise = band_matrix(wave, self.z, WISE_FILTERS)
        self.age_universe_gyr = float(bagpipes.utils.cosmo.age(self.z).value)

    def spectrum(self, theta: dict) -> tuple[np.ndarray, float, float]:
        """(f_lambda [erg/s/cm^2/A] on the rest grid, SFR [M_sun/yr], log stellar mass) of one
        parameter vector (bagpipes' cosmology: H0 = 70, Omega_m = 0.3)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.update(components(theta, self.z))
        sfh = self.model.sfh
        return self.model.spectrum_full, float(sfh.sfr), float(sfh.stellar_mass)
