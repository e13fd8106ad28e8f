"""What the SED fit sees of one galaxy: the fiber spectrum binned heavily, and the total ugriz.

How the data are prepared (a standard user's choices, fixed before any fit was run):

- **spectrum**: the observed spectrum on spender's grid (vacuum, 1e-17 erg/s/cm^2/A) is averaged,
  inverse-variance weighted, over bins of ``bin_pixels`` = 20 SDSS pixels (2e-3 dex, ~1,380 km/s):
  the continuum shape, the 4000 A break, the Balmer lines and the strong absorption and emission
  features survive, the velocity structure does not. Bins with fewer than half their pixels
  unmasked are dropped. A fractional error floor (``spec_floor`` = 2 %) is added in quadrature for
  the model-template mismatch, so that a few hundred binned points of S/N ~100 do not turn
  template systematics into a posterior of zero width.
- **aperture**: the 3" fiber sees only part of a nearby galaxy. The spectrum is fitted *for its
  shape only*: the model is multiplied by a second-order polynomial in wavelength fitted by least
  squares at each likelihood call (bagpipes' ``polynomial_max_like`` calibration, Carnall et al.
  2019, MNRAS 490 417), which absorbs the fiber fraction and colour gradients across the fiber.
  The total (model) ugriz magnitudes carry the amplitude: the fitted mass, SFR and WISE fluxes are
  those of the whole galaxy, as WISE sees it.
- **photometry**: total ugriz AB magnitudes to flux density, with a 5 % error floor in quadrature
  (``phot_floor``; SED-fitting practice for calibration and template errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import WAVE_OBS_VAC_AA
from ..errors import ExplorerError

UGRIZ = "ugriz"


class SedFitError(ExplorerError):
    """An input the SED fit cannot use (no spectrum pixels, no photometry, bad redshift)."""


@dataclass
class FitData:
    """One galaxy's fit inputs.

    Attributes
    ----------
    id : str
    z : float
    wave_obs_vac_aa : (n_bin,) bin centres, observed frame, vacuum
    flux_1e17 : (n_bin,) binned flux, 1e-17 erg/s/cm^2/A
    sigma_1e17 : (n_bin,) its error (floor included)
    bin_matrix : (n_bin, 3921) averaging weights from the spender grid to the bins
    ugriz_fnu, ugriz_sigma_fnu : (5,) total ugriz flux density and error, erg/s/cm^2/Hz
    """

    id: str
    z: float
    wave_obs_vac_aa: np.ndarray
    flux_1e17: np.ndarray
    sigma_1e17: np.ndarray
    bin_matrix: np.ndarray
    ugriz_fnu: np.ndarray
    ugriz_sigma_fnu: np.ndarray

    @property
    def n_bins(self) -> int:
        return int(self.flux_1e17.size)


def bin_spectrum(flux_1e17, ivar, bin_pixels: int = 20, min_fraction: float = 0.5):
    """Inverse-variance weighted bins of a spectrum on spender's grid.

    Returns
    -------
    wave (n_bin,), flux (n_bin,), sigma (n_bin,), matrix (n_bin, 3921): ``matrix @ f`` bins any
    spectrum ``f`` on the same grid with the same weights.
    """
    flux = np.asarray(flux_1e17, float)
    w = np.where(np.isfinite(flux) & np.isfinite(ivar) & (np.asarray(ivar) > 0), ivar, 0.0)
    n = flux.size
    rows, waves, fl, sig = [], [], [], []
    for start in range(0, n - bin_pixels + 1, bin_pixels):
        s = slice(start, start + bin_pixels)
        wb = w[s]
        if np.count_nonzero(wb) < min_fraction * bin_pixels:
            continue
        row = np.zeros(n)
        row[s] = wb / wb.sum()
        rows.append(row)
        waves.append(np.exp(np.mean(np.log(WAVE_OBS_VAC_AA[s]))))
        fl.append(float(row[s] @ np.where(wb > 0, flux[s], 0.0)))
        sig.append(1.0 / np.sqrt(wb.sum()))
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, n))
    return np.array(waves), np.array(fl), np.array(sig), np.array(rows)


def make_fit_data(
    galaxy_id: str,
    z: float,
    flux_1e17,
    ivar,
    mag_ugriz,
    magerr_ugriz,
    *,
    bin_pixels: int = 20,
    spec_floor: float = 0.02,
    phot_floor: float = 0.05,
) -> FitData:
    """Build :class:`FitData`; raise :class:`SedFitError` with a clear message on bad input.

    Parameters
    ----------
    flux_1e17, ivar : (3921,) spectrum on spender's grid (1e-17 erg/s/cm^2/A) and inverse variance
    mag_ugriz, magerr_ugriz : (5,) total AB magnitudes and errors (NaN = missing band)
    """
    name = str(galaxy_id)
    if not (np.isfinite(z) and 0.0 < z < 1.0):
        raise SedFitError(f"{name}: redshift {z!r} is not a usable spectroscopic redshift (0 < z < 1)")
    flux = np.asarray(flux_1e17, float)
    if flux.shape != WAVE_OBS_VAC_AA.shape:
        raise SedFitError(
            f"{name}: spectrum has {flux.size} pixels, expected spender's {WAVE_OBS_VAC_AA.size}"
        )
    wave, fb, sb, mat = bin_spectrum(flux, np.asarray(ivar, float), bin_pixels)
    if fb.size < 10:
        raise SedFitError(
            f"{name}: the spectrum has {fb.size} usable bins of {bin_pixels} pixels (all or nearly all "
            "pixels masked); the SED fit needs at least 10"
        )
    mag = np.asarray(mag_ugriz, float).reshape(-1)
    err = np.asarray(magerr_ugriz, float).reshape(-1)
    if mag.size != 5 or err.size != 5:
        raise SedFitError(
            f"{name}: ugriz photometry needs 5 magnitudes and 5 errors, got {mag.size} and {err.size}"
        )
    ok = np.isfinite(mag) & np.isfinite(err) & (err > 0) & (mag > 0) & (mag < 40)
    if not ok.any():
        raise SedFitError(
            f"{name}: no usable ugriz photometry (the fit needs the total magnitudes for the amplitude: "
            "the spectrum is fitted for its shape only)"
        )
    fnu = np.where(ok, 10 ** (-0.4 * (np.where(ok, mag, 0.0) + 48.6)), np.nan)
    sig = np.hypot(fnu * 0.4 * np.log(10) * np.where(ok, err, 0.0), phot_floor * fnu)
    return FitData(
        id=name,
        z=float(z),
        wave_obs_vac_aa=wave,
        flux_1e17=fb,
        sigma_1e17=np.hypot(sb, spec_floor * np.abs(fb)),
        bin_matrix=mat,
        ugriz_fnu=fnu,
        ugriz_sigma_fnu=sig,
    )


def fit_data_from_catalog(cat, i: int, **kw) -> FitData:
    """:class:`FitData` of catalog row ``i`` (the fiber spectrum and the total ugriz)."""
    spec = cat.spectrum(int(i))
    row = cat.row(int(i))
    mag = [row.get(f"mag_{b}_total", np.nan) for b in UGRIZ]
    err = [row.get(f"magerr_{b}_total", np.nan) for b in UGRIZ]
    with np.errstate(divide="ignore", invalid="ignore"):
        ivar = np.asarray(spec.weight, float) / float(spec.norm) ** 2
    return make_fit_data(spec.id, spec.z, np.asarray(spec.flux, float) * spec.norm, ivar, mag, err, **kw)
