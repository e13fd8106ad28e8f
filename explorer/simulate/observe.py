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
    WISE_CALIB_FRAC,
    WISE_DEPTH_5SIGMA_MJY,
    WISE_DETECTION_SNR,
    WISE_F0_JY,
    WISE_WAVE_UM,
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


#: SDSS spectrophotometric calibration error, mag rms: magnitudes synthesised from SDSS spectra
#: agree with the broad-band photometry with "errors no more than 0.04 mag and little tilt along
#: the wide range of colours" (Fukugita et al. 2011, arXiv:1008.0510, abstract); we take 0.04 mag
#: as the rms. The source does not split it into a grey and a wavelength-dependent part: we give
#: each half of the variance.
SPECTRO_CALIB_MAG = 0.04


def spectrophotometric_calibration(rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative flux-calibration error of one spectrum on the spender grid.

    ``10**(-0.4 (a0 + a1 x))`` with x running linearly in log wavelength from -1 to 1 over the
    grid; a0 (grey) and a1 (tilt) normal with variances that add up to ``SPECTRO_CALIB_MAG``^2
    averaged over the grid (<x^2> = 1/3).
    """
    x = np.linspace(-1.0, 1.0, N_PIX)
    a0 = SPECTRO_CALIB_MAG / np.sqrt(2.0) * rng.standard_normal()
    a1 = SPECTRO_CALIB_MAG * np.sqrt(1.5) * rng.standard_normal()
    return 10 ** (-0.4 * (a0 + a1 * x))


def observe_spectrum(flux_1e17: np.ndarray, rng: np.random.Generator, noise_scale: float = 1.0):
    """Add SDSS-like noise, sky residuals and masks to a noiseless fiber spectrum.

    Parameters
    ----------
    flux_1e17 : (3921,) noiseless observed-frame fiber spectrum, 1e-17 erg/s/cm^2/A
    rng : random generator
    noise_scale : multiplies the noise (observing conditions)

    Returns
    -------
    flux, ivar : (3921,) noisy flux and inverse variance (0 = masked pixel), both including a
        smooth flux-calibration error (:func:`spectrophotometric_calibration`)
    """
    sigma_sky, gain, skyvar = _noise_shapes()
    var = noise_scale**2 * (sigma_sky**2 + gain * np.clip(flux_1e17, 0, None)) + skyvar
    sigma = np.sqrt(var)
    # the flux calibration multiplies the calibrated flux and its error alike
    calib = spectrophotometric_calibration(rng)
    flux = (flux_1e17 + sigma * rng.standard_normal(N_PIX)) * calib
    ivar = 1.0 / (var * calib**2)
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


# ----------------------------------------------------------------------------------------------
# AllWISE-like photometry: zero point, colour term, coverage, extended sources, w?sigmpro
# ----------------------------------------------------------------------------------------------
#: Depth of coverage of the 4-band cryogenic survey on the ecliptic: 12-13 exposures (WISE All-Sky
#: Explanatory Supplement, sect. VI.2); we take the lower value.
WISE_COVERAGE_ECLIPTIC = 12.0
#: AllWISE coadds twice as many independent W1 and W2 observations over most of the sky; its W3 and
#: W4 depth is comparable to the All-Sky release (AllWISE Explanatory Supplement, sect. IV.1).
ALLWISE_COVERAGE_FACTOR = np.array([2.0, 2.0, 1.0, 1.0])
#: Median coverage over the sky with coverage ~ 1 / cos(ecliptic latitude) (half the sky has
#: |sin b| < 1/2): 12 / cos 30 deg = 13.9 in W3/W4, 27.7 in W1/W2. The typical AllWISE 5-sigma depths
#: ``WISE_DEPTH_5SIGMA_MJY`` (0.054, 0.071, 0.73, 5 mJy) are taken to hold there. Check: scaled to
#: the All-Sky survey on the ecliptic (12 exposures in every band) they give 0.082, 0.108, 0.79 and
#: 5.4 mJy, against its "better than 0.08, 0.11, 1 and 6 mJy" (Wright et al. 2010, abstract).
WISE_COVERAGE_SKY_MEDIAN = WISE_COVERAGE_ECLIPTIC * ALLWISE_COVERAGE_FACTOR / np.cos(np.radians(30.0))
#: Two strips in ecliptic longitude were covered a second time during the cryogenic survey, with on
#: average twice the coverage (All-Sky Explanatory Supplement, sect. V.2), degrees.
WISE_DOUBLE_STRIPS_ELON_DEG = ((26.0, 40.0), (199.0, 226.0))
#: Obliquity of the ecliptic (J2000, IAU 1976), degrees.
OBLIQUITY_DEG = 23.4393
#: Angular resolution (PSF FWHM) of the WISE bands, arcsec (Wright et al. 2010, abstract).
WISE_PSF_FWHM_ARCSEC = np.array([6.1, 6.4, 6.5, 12.0])
#: The WPRO (profile-fit) uncertainty includes a PSF-model term that floors the S/N at about 60
#: (All-Sky Explanatory Supplement, sect. VI.3.b): a fractional error of 1/60 in quadrature.
WPRO_SNR_MAX = 60.0
#: The in-flight W4 response is the laboratory curve shifted 3.3 % to the red, effective wavelength
#: 22.8 instead of 22.1 micron (Brown, Jarrett & Cluver 2014, PASA; arXiv:1411.5444, abstract).
W4_WAVELENGTH_SHIFT = 22.8 / 22.1
_ZERO_POINT_STREAM = 0x2E80  # SeedSequence key of the catalog zero points


def catalog_zero_points(seed: int) -> np.ndarray:
    """The four WISE zero-point offsets (mag) of one catalog, common to all its sources.

    Drawn once per catalog from its seed: a normal deviate per band with the absolute calibration
    uncertainty of Jarrett et al. (2011, sect. 3.2; ``WISE_CALIB_FRAC``: 2.4, 2.8, 4.5, 5.7 %)
    converted to magnitudes. A catalog magnitude is the measured one plus this offset.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _ZERO_POINT_STREAM]))
    return 1.0857 * WISE_CALIB_FRAC * rng.standard_normal(4)


def ecliptic_coordinates(ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray]:
    """Ecliptic longitude and latitude (degrees, J2000) of equatorial coordinates."""
    a, d, e = np.radians(ra_deg), np.radians(dec_deg), np.radians(OBLIQUITY_DEG)
    sin_b = np.sin(d) * np.cos(e) - np.cos(d) * np.sin(e) * np.sin(a)
    lon = np.arctan2(np.sin(a) * np.cos(e) + np.tan(d) * np.sin(e), np.cos(a))
    return np.degrees(lon) % 360.0, np.degrees(np.arcsin(np.clip(sin_b, -1.0, 1.0)))


def wise_coverage(ra_deg: float, dec_deg: float) -> np.ndarray:
    """AllWISE depth of coverage (number of exposures, W1..W4) at a sky position.

    WISE scanned great circles through the ecliptic poles, so the number of exposures grows as
    1 / cos(ecliptic latitude) from 12 on the ecliptic (Wright et al. 2010, sect. 2; All-Sky
    Supplement sect. VI.2), doubled in W1/W2 by AllWISE and in the two twice-covered longitude strips.
    The result is deterministic (the moon-avoidance and SAA gaps are not modelled).
    """
    lon, lat = ecliptic_coordinates(ra_deg, dec_deg)
    cos_b = max(float(np.cos(np.radians(lat))), 0.02)  # capped 50x near the poles
    strip = any(lo <= lon <= hi for lo, hi in WISE_DOUBLE_STRIPS_ELON_DEG)
    return np.round(WISE_COVERAGE_ECLIPTIC * ALLWISE_COVERAGE_FACTOR * (2.0 if strip else 1.0) / cos_b)


def wise_background_sigma_mjy(coverage) -> np.ndarray:
    """1-sigma background noise of profile-fit photometry (mJy) for a depth of coverage (W1..W4).

    The typical AllWISE 5-sigma depth at the sky-median coverage, scaled by 1/sqrt(coverage)
    (independent exposures).
    """
    cov = np.maximum(np.asarray(coverage, float), 1.0)
    return WISE_DEPTH_5SIGMA_MJY / 5.0 * np.sqrt(WISE_COVERAGE_SKY_MEDIAN / cov)


def w4_colour_factor(flux_true_mjy: np.ndarray) -> np.ndarray:
    """Catalog / true W4 flux ratio from the in-flight W4 bandpass (Brown et al. 2014).

    For F_nu ~ lambda^alpha the catalog, calibrated on stars (alpha = -2) with the laboratory
    curve, reports (22.8 / 22.1)^(alpha + 2) times the flux through that curve. alpha is the
    W3-W4 slope of the true fluxes. Red (rising) spectra come out brighter, stars unchanged.
    Returns a (..., 4) factor that is 1 in W1-W3.
    """
    f = np.asarray(flux_true_mjy, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.log(f[..., 3] / f[..., 2]) / np.log(WISE_WAVE_UM[3] / WISE_WAVE_UM[2])
    alpha = np.where(np.isfinite(alpha), alpha, -2.0)
    out = np.ones(f.shape)
    out[..., 3] = W4_WAVELENGTH_SHIFT ** (alpha + 2.0)
    return out


def wpro_flux_fraction(r50_arcsec) -> np.ndarray:
    """Fraction of a resolved galaxy's flux that PSF-profile fitting recovers (W1..W4).

    A PSF-shaped template fitted to a source convolved with the PSF: with Gaussian PSF (sigma_p)
    and source (sigma_s) the least-squares amplitude is 1 / (1 + sigma_s^2 / (2 sigma_p^2)).
    Profile-fit magnitudes underestimate resolved galaxies (All-Sky Supplement sect. IV.4.c.vi;
    Jarrett et al. 2013, AJ 145 6). sigma_s = r50 / 1.1774 (Gaussian half-light radius).
    """
    sig_p = WISE_PSF_FWHM_ARCSEC / 2.3548
    sig_s = np.asarray(r50_arcsec, float)[..., None] / 1.1774
    return 1.0 / (1.0 + sig_s**2 / (2.0 * sig_p**2))


def observe_wise(
    flux_true_mjy: np.ndarray,
    rng: np.random.Generator,
    *,
    zero_point_mag=0.0,
    coverage=None,
    r50_arcsec: float = 0.0,
) -> dict:
    """AllWISE-like profile-fit photometry (w?mpro, w?sigmpro, ph_qual) of one galaxy.

    Parameters
    ----------
    flux_true_mjy : (4,) noiseless total flux densities through the laboratory bandpasses (mJy)
    rng : random generator (the galaxy's own)
    zero_point_mag : (4,) or scalar, the catalog's zero-point offsets (:func:`catalog_zero_points`)
    coverage : (4,) depth of coverage (:func:`wise_coverage`); default the sky median
    r50_arcsec : half-light radius; resolved galaxies lose flux to the PSF fit

    The measured flux is the true one times the W4 colour term and the profile-fit fraction, plus
    background noise (depth / sqrt(coverage)) and the PSF-model error. ``w?sigmpro`` is built like
    the pipeline's: background and PSF-model terms in quadrature, evaluated at the measured flux;
    the zero-point error is NOT in it (it shifts every source alike). ph_qual from the S/N: A >= 10,
    B 3-10, C 2-3, U < 2; for U the magnitude is the 95 % upper limit (measured flux, floored at 0,
    plus 2 sigma) and sigma is null (NaN) (AllWISE Explanatory Supplement, sect. II.1.a).
    """
    f_true = np.asarray(flux_true_mjy, float)
    cov = WISE_COVERAGE_SKY_MEDIAN if coverage is None else np.asarray(coverage, float)
    sig_bkg = wise_background_sigma_mjy(cov)
    f_meas = f_true * w4_colour_factor(f_true) * wpro_flux_fraction(r50_arcsec)
    g = rng.standard_normal((2, 4))
    f_obs = f_meas + sig_bkg * g[0] + f_meas / WPRO_SNR_MAX * g[1]
    sig = np.sqrt(sig_bkg**2 + (np.maximum(f_obs, 0.0) / WPRO_SNR_MAX) ** 2)
    zp_factor = 10 ** (-0.4 * np.asarray(zero_point_mag, float))
    f_obs, sig = f_obs * zp_factor, sig * zp_factor
    snr = f_obs / sig
    ul = snr < WISE_DETECTION_SNR
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
        "coverage": np.asarray(cov, float),
    }
