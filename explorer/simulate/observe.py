"""Observing the simulated galaxies: filters, fiber aperture, SDSS spectra noise, WISE photometry.

Nothing here imports bagpipes: the functions work on plain arrays (wavelengths in Angstrom,
flux densities f_lambda in erg/s/cm^2/A unless a name says otherwise).
"""

from __future__ import annotations

import functools

import numpy as np

from ..constants import (
    LOGLAM_GRID,
    LOGLAM_STEP,
    N_PIX,
    WAVE_OBS_VAC_AA,
    WISE_AB_MINUS_VEGA,
    WISE_F0_JY,
    wise_measurement,
)

C_AA_S = 2.99792458e18  # speed of light in Angstrom/s
C_KMS = 299792.458

SDSS_FILTERS = tuple(f"sdss2010-{b}" for b in "ugriz")
WISE_FILTERS = tuple(f"wise2010-W{i}" for i in range(1, 5))


#: SDSS imaging depth (r=22.2 etc., 95 % point-source completeness, York et al. 2000), used as the
#: 5-sigma flux limit of the model magnitudes, and a zero-point floor (Padmanabhan et al. 2008:
#: ~1 % in griz, 2 % in u).
SDSS_DEPTH_AB = np.array([22.0, 22.2, 22.2, 21.3, 20.5])
SDSS_CALIB_MAG = np.array([0.02, 0.01, 0.01, 0.01, 0.01])

#: SDSS fiber radius (arcsec).
FIBER_RADIUS_ARCSEC = 1.5


# ----------------------------------------------------------------------------------------------
# wavelengths and extinction
# ----------------------------------------------------------------------------------------------
def air_to_vac(wave_air_aa):
    """Air to vacuum wavelength (Angstrom), IAU standard (Morton 1991); unchanged below 2000 A."""
    w = np.asarray(wave_air_aa, dtype=float)
    sigma2 = (1e4 / w) ** 2
    n = 1.0 + 6.4328e-5 + 2.94981e-2 / (146.0 - sigma2) + 2.5540e-4 / (41.0 - sigma2)
    return np.where(w >= 2000.0, w * n, w)


def cardelli89_a_over_av(wave_aa, r_v: float = 3.1):
    """A_lambda / A_V of Cardelli, Clayton & Mathis (1989) with O'Donnell (1994) optical terms."""
    x = 1e4 / np.atleast_1d(np.asarray(wave_aa, dtype=float))
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    ir = x < 1.1
    a[ir] = 0.574 * x[ir] ** 1.61
    b[ir] = -0.527 * x[ir] ** 1.61
    opt = (x >= 1.1) & (x < 3.3)
    y = x[opt] - 1.82
    a[opt] = (
        1
        + 0.104 * y
        - 0.609 * y**2
        + 0.701 * y**3
        + 1.137 * y**4
        - 1.718 * y**5
        - 0.827 * y**6
        + 1.647 * y**7
        - 0.505 * y**8
    )
    b[opt] = (
        1.952 * y
        + 2.908 * y**2
        - 3.989 * y**3
        - 7.985 * y**4
        + 11.102 * y**5
        + 5.491 * y**6
        - 10.805 * y**7
        + 3.347 * y**8
    )
    uv = x >= 3.3
    xu = np.minimum(x[uv], 8.0)
    a[uv] = 1.752 - 0.316 * xu - 0.104 / ((xu - 4.67) ** 2 + 0.341)
    b[uv] = -3.090 + 1.825 * xu + 1.206 / ((xu - 4.62) ** 2 + 0.263)
    return a + b / r_v


# ----------------------------------------------------------------------------------------------
# filters and synthetic photometry
# ----------------------------------------------------------------------------------------------
@functools.cache
def load_filter_curve(name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(wavelength_aa, response, integral of response * c / lambda d lambda) for a speclite filter."""
    import speclite.filters

    f = speclite.filters.load_filter(name)
    w = np.asarray(f.wavelength, dtype=float)
    r = np.asarray(f.response, dtype=float)
    norm = np.trapezoid(r * C_AA_S / w, w)
    return w, r, float(norm)


class Photometer:
    """Synthetic AB photometry of spectra sampled on one fixed rest-frame grid.

    Parameters
    ----------
    wave_rest_aa : ndarray
        The rest-frame wavelength grid of the spectra (Angstrom).
    filters : sequence of str
        speclite filter names.
    """

    def __init__(self, wave_rest_aa: np.ndarray, filters):
        self.wave = np.asarray(wave_rest_aa, dtype=float)
        # trapezoid weights (d lambda) on the rest grid
        dw = np.zeros_like(self.wave)
        dw[1:-1] = 0.5 * (self.wave[2:] - self.wave[:-2])
        dw[0] = 0.5 * (self.wave[1] - self.wave[0])
        dw[-1] = 0.5 * (self.wave[-1] - self.wave[-2])
        self.dw = dw
        self.filters = tuple(filters)
        self.curves = [load_filter_curve(f) for f in self.filters]

    def weights(self, z: float) -> list[tuple[slice, np.ndarray]]:
        """Per filter: (slice of the rest grid, weight) so that f_nu = sum(f_lambda[slice] * weight).

        ``f_lambda`` is the observed-frame flux density per observed Angstrom, sampled at rest
        wavelengths (bagpipes' ``spectrum_full`` convention); the result is f_nu in erg/s/cm^2/Hz.
        """
        out = []
        zp1 = 1.0 + z
        for w, r, norm in self.curves:
            i0 = max(int(np.searchsorted(self.wave * zp1, w[0])) - 1, 0)
            i1 = min(int(np.searchsorted(self.wave * zp1, w[-1])) + 1, self.wave.size)
            wo = self.wave[i0:i1] * zp1
            t = np.interp(wo, w, r, left=0.0, right=0.0)
            out.append((slice(i0, i1), t * wo * self.dw[i0:i1] * zp1 / norm))
        return out

    def line_weights(self, z: float, line_wave_rest_aa: np.ndarray) -> np.ndarray:
        """(n_filter, n_line) weights so that f_nu += weights @ line_flux (erg/s/cm^2)."""
        wo = np.asarray(line_wave_rest_aa, dtype=float) * (1.0 + z)
        return np.array([np.interp(wo, w, r, left=0.0, right=0.0) * wo / norm for w, r, norm in self.curves])

    @staticmethod
    def fnu(weights, f_lambda: np.ndarray) -> np.ndarray:
        """f_nu (erg/s/cm^2/Hz) in every filter of a spectrum (see :meth:`weights`)."""
        return np.array([np.dot(f_lambda[s], wt) for s, wt in weights])


def fnu_to_ab(fnu_cgs):
    """AB magnitude of f_nu in erg/s/cm^2/Hz (NaN if not positive)."""
    f = np.asarray(fnu_cgs, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(f > 0, -2.5 * np.log10(f) - 48.6, np.nan)


def wise_fnu_to_vega_mjy(fnu_cgs):
    """WISE f_nu (AB convention, erg/s/cm^2/Hz) -> (Vega mag, flux in mJy from the Vega mag).

    The AB magnitude is converted with the AB-Vega offsets of Jarrett et al. (2011), and the flux
    density in mJy follows from the Vega zero points (F0), as in the catalog convention.
    """
    ab = fnu_to_ab(fnu_cgs)
    vega = ab - WISE_AB_MINUS_VEGA
    return vega, WISE_F0_JY * 1e3 * 10 ** (-0.4 * vega)


# ----------------------------------------------------------------------------------------------
# fiber aperture
# ----------------------------------------------------------------------------------------------
def _sersic_b(n: float) -> float:
    from scipy.special import gammaincinv

    return float(gammaincinv(2 * n, 0.5))


@functools.cache
def _fiber_table(n: float):
    """Table of the fraction of a Sersic profile inside the fiber after Gaussian seeing.

    The probability that light from radius r lands inside the aperture of radius a after a
    circular Gaussian blur of width s is the CDF of a Rice distribution, P(a/s; r/s).
    """
    from scipy.special import gamma as gamma_fn
    from scipy.stats import rice

    b = _sersic_b(n)
    log_re = np.linspace(-1.7, 2.0, 75)  # arcsec, 0.02" .. 100"
    seeing = np.linspace(0.8, 2.4, 9)  # FWHM arcsec
    frac = np.zeros((log_re.size, seeing.size))
    x = np.geomspace(1e-4, 40.0 if n < 2 else 400.0, 1500)  # r / Re
    prof = np.exp(-b * (x ** (1.0 / n) - 1.0))
    # total flux of a Sersic profile (units Re = 1, I_e = 1)
    total = 2 * np.pi * n * np.exp(b) * b ** (-2 * n) * gamma_fn(2 * n)
    for j, fwhm in enumerate(seeing):
        s = fwhm / 2.3548
        for i, lr in enumerate(log_re):
            r = x * 10**lr
            p_in = rice.cdf(FIBER_RADIUS_ARCSEC / s, r / s)
            frac[i, j] = np.trapezoid(2 * np.pi * x * prof * p_in, x) / total
    return log_re, seeing, np.clip(frac, 0.0, 1.0)


def fiber_fraction(r50_arcsec: float, sersic_n: float, seeing_fwhm_arcsec: float) -> float:
    """Fraction of a galaxy's light inside the 3" SDSS fiber (Sersic n = 1 or 4, Gaussian seeing)."""
    from scipy.interpolate import RegularGridInterpolator

    log_re, seeing, frac = _fiber_table(float(sersic_n))
    interp = RegularGridInterpolator((log_re, seeing), frac, bounds_error=False, fill_value=None)
    lr = np.clip(np.log10(max(r50_arcsec, 1e-3)), log_re[0], log_re[-1])
    s = np.clip(seeing_fwhm_arcsec, seeing[0], seeing[-1])
    return float(np.clip(interp([[lr, s]])[0], 1e-3, 1.0))


# ----------------------------------------------------------------------------------------------
# SDSS spectrum: emission lines, noise, masks
# ----------------------------------------------------------------------------------------------
_EDGES_AA = 10 ** np.concatenate([LOGLAM_GRID - 0.5 * LOGLAM_STEP, [LOGLAM_GRID[-1] + 0.5 * LOGLAM_STEP]])
_DPIX_AA = np.diff(_EDGES_AA)


def render_lines(
    center_obs_aa: np.ndarray, flux_cgs: np.ndarray, sigma_kms: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Add Gaussian lines to a spectrum on the spender grid, flux-conserving per pixel.

    Parameters
    ----------
    center_obs_aa : (L,) observed vacuum wavelengths of the lines (Angstrom)
    flux_cgs : (L,) integrated line fluxes (erg/s/cm^2)
    sigma_kms : (L,) or scalar Gaussian sigma (km/s, intrinsic + instrumental)
    out : (3921,) array to add to (f_lambda in erg/s/cm^2/A); a new one if None
    """
    from scipy.special import erf

    if out is None:
        out = np.zeros(N_PIX)
    c = np.atleast_1d(np.asarray(center_obs_aa, float))
    f = np.atleast_1d(np.asarray(flux_cgs, float))
    s = np.broadcast_to(np.asarray(sigma_kms, float), c.shape)
    lo_edge, hi_edge = _EDGES_AA[0], _EDGES_AA[-1]
    for ci, fi, si in zip(c, f, s, strict=True):
        sig_aa = ci * si / C_KMS
        if fi == 0 or ci + 6 * sig_aa < lo_edge or ci - 6 * sig_aa > hi_edge:
            continue
        i0 = max(int(np.searchsorted(_EDGES_AA, ci - 6 * sig_aa)) - 1, 0)
        i1 = min(int(np.searchsorted(_EDGES_AA, ci + 6 * sig_aa)) + 1, N_PIX + 1)
        e = _EDGES_AA[i0:i1]
        cdf = 0.5 * (1 + erf((e - ci) / (np.sqrt(2) * sig_aa)))
        out[i0 : i1 - 1] += fi * np.diff(cdf) / _DPIX_AA[i0 : i1 - 1]
    return out


# Strong night-sky emission lines (vacuum Angstrom): [OI] 5578.9, 6302.0, 6365.5, NaD 5891.6/5897.6,
# Hg 4359.6/5462.3 (street lamps), and the brightest OH Meinel-band lines (approximate positions,
# Osterbrock et al. 1996). SDSS flags many of them; residuals stay in the spectra.
SKY_LINES_VAC_AA = np.array(
    [4359.6, 5462.3, 5578.9, 5891.6, 5897.6, 6302.0, 6365.5, 6865.0, 7278.4, 7318.9, 7342.9, 7371.3,
     7571.8, 7716.0, 7752.9, 7796.4, 7823.1, 7855.3, 7915.1, 7966.0, 8001.9, 8027.4, 8290.3, 8346.8,
     8401.5, 8432.3, 8467.6, 8507.3, 8776.8, 8829.6, 8887.9, 8922.5, 8960.8, 9000.2, 9040.4, 9315.9]
)  # fmt: skip
SKY_LINES_STRENGTH = np.where(SKY_LINES_VAC_AA == 5578.9, 12.0, np.where(SKY_LINES_VAC_AA > 7000, 5.0, 3.0))


@functools.lru_cache(maxsize=1)
def _noise_shapes():
    """Per-pixel sky noise and Poisson gain shapes versus observed wavelength (spender grid).

    Calibrated so that the per-pixel S/N at r_fiber ~ 18-19 is ~ 8-20 near 6000 A
    (SDSS main galaxy sample; Strauss et al. 2002), lower at the blue end where the
    throughput falls and in the red where the sky is bright.
    """
    w = WAVE_OBS_VAC_AA
    # relative throughput: low in the blue, peak 5000-7500 A, dropping to the red end
    thru = 0.3 + 0.7 * np.exp(-0.5 * ((w - 6300.0) / 2200.0) ** 2)
    thru = thru * np.where(w < 4200, np.exp(-0.5 * ((4200 - w) / 450.0) ** 2), 1.0)
    sky_cont = 1.0 + 1.2 * np.clip((w - 6500.0) / 2800.0, 0, None) ** 1.5
    sigma_sky = 0.6 * np.sqrt(sky_cont) / thru  # 1e-17 erg/s/cm^2/A
    gain = 0.05 / thru  # variance per unit flux (1e-17 units)
    # sky-line residual variance (Gaussian profiles with sigma ~ 1.3 px)
    skyvar = np.zeros(N_PIX)
    for wl, a in zip(SKY_LINES_VAC_AA, SKY_LINES_STRENGTH, strict=True):
        skyvar += (a * sigma_sky * np.exp(-0.5 * ((w - wl) / (wl * 1.3e-4 * 2.3026 * 1.3)) ** 2)) ** 2
    return sigma_sky, gain, skyvar


def observe_spectrum(flux_1e17: np.ndarray, rng: np.random.Generator, noise_scale: float = 1.0):
    """Add SDSS-like noise, sky residuals and masks to a noiseless fiber spectrum.

    Parameters
    ----------
    flux_1e17 : (3921,) noiseless observed-frame fiber spectrum, 1e-17 erg/s/cm^2/A
    rng : random generator
    noise_scale : multiplies the noise (observing conditions)

    Returns
    -------
    flux, ivar : (3921,) noisy flux and inverse variance (0 = masked pixel)
    """
    sigma_sky, gain, skyvar = _noise_shapes()
    var = noise_scale**2 * (sigma_sky**2 + gain * np.clip(flux_1e17, 0, None)) + skyvar
    sigma = np.sqrt(var)
    flux = flux_1e17 + sigma * rng.standard_normal(N_PIX)
    ivar = 1.0 / var
    # wavelength coverage of the SDSS spectrographs (~3800-9200 A), varying a little per plate
    lo = 3800.0 + rng.uniform(0, 25)
    hi = 9200.0 - rng.uniform(0, 40)
    ivar[(WAVE_OBS_VAC_AA < lo) | (WAVE_OBS_VAC_AA > hi)] = 0.0
    # the core of the brightest sky line is flagged (BRIGHTSKY)
    ivar[np.abs(WAVE_OBS_VAC_AA - 5578.9) < 2.5] = 0.0
    # a few bad columns / cosmic rays (and_mask)
    for _ in range(rng.poisson(1.5)):
        i0 = int(rng.integers(0, N_PIX))
        ivar[i0 : i0 + int(rng.integers(1, 7))] = 0.0
    return flux, ivar


def spender_norm(flux: np.ndarray, ivar: np.ndarray, z: float, window=(5300.0, 5850.0)) -> float:
    """Median flux in the rest-frame window over unmasked pixels (spender's normalization)."""
    wr = WAVE_OBS_VAC_AA / (1.0 + z)
    sel = (wr >= window[0]) & (wr <= window[1]) & (ivar > 0)
    if sel.sum() < 10:
        return float("nan")
    return float(np.median(flux[sel]))


# ----------------------------------------------------------------------------------------------
# photometric noise
# ----------------------------------------------------------------------------------------------
def observe_sdss_mags(mag_true: np.ndarray, rng: np.random.Generator):
    """Noisy ugriz AB magnitudes and errors (depth-limited noise plus a zero-point floor)."""
    mag_true = np.asarray(mag_true, float)
    f = 10 ** (-0.4 * mag_true)
    sig_f = 10 ** (-0.4 * SDSS_DEPTH_AB) / 5.0
    f_obs = f + sig_f * rng.standard_normal(f.shape)
    f_obs = np.maximum(f_obs, 0.2 * sig_f)
    err = np.sqrt((1.0857 * sig_f / f_obs) ** 2 + SDSS_CALIB_MAG**2)
    mag = -2.5 * np.log10(f_obs) + SDSS_CALIB_MAG * rng.standard_normal(f.shape)
    return mag, err


def observe_wise(flux_true_mjy: np.ndarray, rng: np.random.Generator) -> dict:
    """AllWISE-like photometry of the four bands from noiseless flux densities (mJy).

    Noise: the 5-sigma point-source depth (0.054, 0.071, 0.73, 5 mJy) and a calibration floor of
    2.4, 2.8, 4.5, 5.7 % (Jarrett et al. 2011) in quadrature. ph_qual by S/N: A >= 10, B 3-10,
    C 2-3, U < 2; for U the magnitude is the 95 % upper limit from (measured flux + 2 sigma) and the
    error is NaN (AllWISE Explanatory Supplement, sect. IV.4.c).
    """
    g = rng.standard_normal((2, 4))
    f_obs, sig, detected = wise_measurement(flux_true_mjy, g[0], g[1])
    snr = f_obs / sig
    ul = ~detected
    qual = np.where(snr >= 10, "A", np.where(snr >= 3, "B", np.where(snr >= 2, "C", "U")))
    f_rep = np.where(ul, np.maximum(f_obs, 0.0) + 2.0 * sig, f_obs)
    mag = -2.5 * np.log10(f_rep / (WISE_F0_JY * 1e3))
    sig_mag = np.where(ul, np.nan, 1.0857 * sig / np.where(ul, 1.0, f_obs))
    return {
        "mag_vega": mag,
        "sigma_mag": sig_mag,
        "flux_mjy": f_rep,
        "flux_err_mjy": np.where(ul, np.nan, sig),
        "is_ul": ul,
        "ph_qual": "".join(qual),
        "snr": snr,
    }
