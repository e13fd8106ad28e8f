"""Survey constants: the spender SDSS wavelength grid, WISE zero points, optical line list.

Every number here is taken from ``../shared/reference/science.md``; the original source is
cited beside each constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- SDSS spectra on spender's fixed observed-frame grid (Melchior et al. 2023, spender.SDSS) ---
LOGLAM_START = 3.578
LOGLAM_STOP = 3.97
LOGLAM_STEP = 1e-4
#: log10 of the VACUUM wavelength in Angstrom, 3921 pixels, 3784.4-9332.5 A (observed frame).
LOGLAM_GRID = np.arange(LOGLAM_START, LOGLAM_STOP, LOGLAM_STEP)
N_PIX = LOGLAM_GRID.size
WAVE_OBS_VAC_AA = 10.0**LOGLAM_GRID
assert N_PIX == 3921, N_PIX

#: spender's normalization window, rest frame vacuum Angstrom (median flux in this window).
NORM_WINDOW_REST_AA = (5300.0, 5850.0)

#: SDSS spectra flux unit.
SDSS_FLUX_UNIT = "1e-17 erg / (s cm2 Angstrom)"

#: redshift range the project accepts (the SDSS main galaxy sample lies well inside it).
Z_MIN, Z_MAX = 0.0, 0.5

# --- WISE (Wright et al. 2010; Jarrett et al. 2011) ---
WISE_BANDS = ("W1", "W2", "W3", "W4")
#: isophotal wavelengths in micron (Wright et al. 2010).
WISE_WAVE_UM = np.array([3.3526, 4.6028, 11.5608, 22.0883])
#: Vega zero points for flux density in Jy (Jarrett et al. 2011): F = F0 * 10**(-0.4 m).
WISE_F0_JY = np.array([309.540, 171.787, 31.674, 8.363])
#: AB - Vega magnitude offsets (Jarrett et al. 2011).
WISE_AB_MINUS_VEGA = np.array([2.699, 3.339, 5.174, 6.620])
#: Typical AllWISE 5-sigma point-source depth in mJy (AllWISE explanatory supplement).
WISE_DEPTH_5SIGMA_MJY = np.array([0.054, 0.071, 0.73, 5.0])
#: WISE absolute calibration uncertainty per band (Jarrett et al. 2011, sect. 3.2): 2.4, 2.8, 4.5,
#: 5.7 %. An error floor added in quadrature to the photometric noise.
WISE_CALIB_FRAC = np.array([0.024, 0.028, 0.045, 0.057])
#: AllWISE reports a measured magnitude where the profile-fit S/N >= 2 and a 95 % upper limit
#: below (AllWISE Explanatory Supplement, sect. IV.4.c).
WISE_DETECTION_SNR = 2.0

SDSS_BANDS = ("u", "g", "r", "i", "z")


def vega_mag_to_mjy(mag_vega, band_index):
    """Convert WISE Vega magnitudes to flux density in mJy.

    Parameters
    ----------
    mag_vega : array_like
        Vega magnitudes.
    band_index : int or array_like of int
        0..3 for W1..W4 (broadcast against ``mag_vega``).
    """
    f0_mjy = WISE_F0_JY[np.asarray(band_index)] * 1e3
    return f0_mjy * 10.0 ** (-0.4 * np.asarray(mag_vega, dtype=float))


def wise_measurement(flux_true_mjy, g_calib, g_noise):
    """AllWISE-like measurement of W1-W4 flux densities (the simulator's and the predictor's model).

    Noise: the 5-sigma point-source depth ``WISE_DEPTH_5SIGMA_MJY`` and the calibration floor
    ``WISE_CALIB_FRAC`` (Jarrett et al. 2011) in quadrature; detected where S/N >=
    ``WISE_DETECTION_SNR`` (AllWISE Explanatory Supplement, sect. IV.4.c).

    Parameters
    ----------
    flux_true_mjy : array (..., 4)
        Noiseless flux densities in mJy.
    g_calib, g_noise : arrays broadcastable to ``flux_true_mjy``
        Standard-normal deviates of the calibration and the background noise.

    Returns
    -------
    f_obs_mjy, sigma_mjy, detected : arrays (..., 4)
    """
    sig_noise = WISE_DEPTH_5SIGMA_MJY / 5.0
    f_obs = np.asarray(flux_true_mjy, float) * (1.0 + WISE_CALIB_FRAC * g_calib) + sig_noise * g_noise
    sig = np.sqrt(sig_noise**2 + (WISE_CALIB_FRAC * f_obs) ** 2)
    return f_obs, sig, f_obs >= WISE_DETECTION_SNR * sig


def mjy_to_vega_mag(flux_mjy, band_index):
    """Inverse of :func:`vega_mag_to_mjy` (NaN for non-positive flux)."""
    f0_mjy = WISE_F0_JY[np.asarray(band_index)] * 1e3
    flux = np.asarray(flux_mjy, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(flux / f0_mjy), np.nan)


# --- Optical features, rest-frame VACUUM wavelengths in Angstrom (Morton 1991 air->vacuum) ---
@dataclass(frozen=True)
class Line:
    """A spectral feature: name, group and rest-frame vacuum wavelengths (Angstrom)."""

    name: str
    group: str  # "absorption", "emission", "balmer"
    wave_vac_aa: tuple[float, ...]
    half_width_aa: float = 10.0  # attribution/highlight window half-width, rest frame

    @property
    def center_aa(self) -> float:
        return float(np.mean(self.wave_vac_aa))

    def window_rest_aa(self) -> tuple[float, float]:
        return (min(self.wave_vac_aa) - self.half_width_aa, max(self.wave_vac_aa) + self.half_width_aa)


LINES: tuple[Line, ...] = (
    Line("[OII]", "emission", (3727.09, 3729.88)),
    Line("CaII K", "absorption", (3934.78,), 8.0),
    Line("CaII H", "absorption", (3969.59,), 8.0),
    Line("FeI 4046", "absorption", (4046.96,), 6.0),
    Line("SrII 4078", "absorption", (4078.86,), 6.0),
    Line("Hdelta", "balmer", (4102.90,), 10.0),
    Line("SrII 4216", "absorption", (4216.71,), 6.0),
    Line("G band", "absorption", (4305.61,), 10.0),
    Line("Hgamma", "balmer", (4341.69,), 10.0),
    Line("FeI 4384", "absorption", (4384.78,), 6.0),
    Line("Hbeta", "balmer", (4862.69,), 10.0),
    Line("[OIII] 4959", "emission", (4960.29,), 8.0),
    Line("[OIII] 5007", "emission", (5008.24,), 8.0),
    Line("MgI b", "absorption", (5168.76, 5174.12, 5185.05), 8.0),
    Line("FeI 5270", "absorption", (5271.00,), 8.0),
    Line("FeI 5328", "absorption", (5329.52,), 8.0),
    Line("NaI D", "absorption", (5891.58, 5897.56), 8.0),
    Line("[OI] 6300", "emission", (6302.05,), 8.0),
    Line("[NII] 6548", "emission", (6549.86,), 6.0),
    Line("Halpha", "balmer", (6564.61,), 8.0),
    Line("[NII] 6583", "emission", (6585.27,), 6.0),
    Line("[SII]", "emission", (6718.29, 6732.68), 8.0),
    Line("CaII triplet", "absorption", (8500.35, 8544.44, 8664.52), 8.0),
)
LINES_BY_NAME = {line.name: line for line in LINES}


# --- What the models predict: the outputs of the attribution target function -------------------
@dataclass(frozen=True)
class TargetSpec:
    """One model output: its name, what it is, and its unit.

    ``name`` is the output's key in the target function (``explorer.ml.target``), in JSON and on
    the command line (``--target W3``); ``label`` says what it is (``"ln q_PAH"``); ``unit`` is
    its unit, empty for a dimensionless quantity; ``menu`` is the short text of the app's target
    selector.
    """

    name: str
    label: str
    unit: str
    menu: str

    @property
    def axis_label(self) -> str:
        """``"W3 (mag)"``, ``"log L_bol,AGN (erg/s)"``, ``"ln q_PAH"``: for axes and figure titles."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


#: The IR outputs (ensemble mean, Vega): the four WISE magnitudes, then the three colours.
IR_TARGET_SPECS: tuple[TargetSpec, ...] = (
    *(TargetSpec(b, b, "mag", f"{b} magnitude") for b in WISE_BANDS),
    *(
        TargetSpec(f"{a}-{b}", f"{a}-{b}", "mag", f"{a}−{b} colour")
        for a, b in zip(WISE_BANDS[:-1], WISE_BANDS[1:], strict=True)
    ),
)
#: The physical properties of the property heads (as the target function returns them).
PROPERTY_TARGET_SPECS: tuple[TargetSpec, ...] = (
    TargetSpec("qpah", "ln q_PAH", "", "q_PAH"),  # natural log of the PAH mass fraction
    TargetSpec("lbol_agn", "log L_bol,AGN", "erg/s", "AGN L_bol"),  # meaningful for AGN only
    TargetSpec("log_sfr", "log SFR", "M☉/yr", "SFR"),
)
#: Every output, in the target function's column order.
TARGETS: tuple[TargetSpec, ...] = IR_TARGET_SPECS + PROPERTY_TARGET_SPECS
TARGETS_BY_NAME = {t.name: t for t in TARGETS}
IR_TARGETS = tuple(t.name for t in IR_TARGET_SPECS)
PROPERTY_TARGETS = tuple(t.name for t in PROPERTY_TARGET_SPECS)


def target_spec(name: str) -> TargetSpec:
    """The :class:`TargetSpec` of an output name; an unknown name (e.g. a test model's output)
    gets a spec with the name as its label and no unit."""
    spec = TARGETS_BY_NAME.get(name)
    return spec if spec is not None else TargetSpec(name, name, "", name)
