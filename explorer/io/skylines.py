"""Strong night-sky emission lines to mask in SDSS spectra (observed frame, VACUUM Angstrom).

SDSS sky subtraction leaves residuals at the brightest airglow lines. The list below is short on
purpose: only the lines whose residuals are routinely visible in SDSS/BOSS spectra.

Sources (air wavelengths, converted here to vacuum):

- [OI] 5577.34, 6300.30, 6363.78 and the OH Meinel-band lines: Osterbrock et al. (1996),
  PASP 108, 277, "Night-sky high-resolution spectral atlas of OH and O2 emission lines";
  Osterbrock et al. (1997), PASP 109, 614.
- NaI D 5889.95, 5895.92 (airglow plus low-pressure sodium street lamps) and HgI 4358.33,
  5460.74 (mercury street lamps): Osterbrock & Martel (1992), PASP 104, 76.

Air -> vacuum uses the IAU standard refractive index of air (Edlen 1953 as given by
Morton 1991, ApJS 77, 119), the same convention as ``explorer.constants.LINES``.
"""

from __future__ import annotations

import numpy as np


def air_to_vac_aa(wave_air_aa):
    """Convert air wavelengths to vacuum (IAU standard, Morton 1991).

    Parameters
    ----------
    wave_air_aa : array_like
        Air wavelengths in Angstrom (valid above 2000 A).

    Returns
    -------
    ndarray
        Vacuum wavelengths in Angstrom.
    """
    wave_air = np.asarray(wave_air_aa, dtype=float)
    wave_vac = wave_air.copy()
    # The index depends on the vacuum wavenumber; three fixed-point steps converge to < 1e-6 A.
    for _ in range(3):
        sigma2 = (1e4 / wave_vac) ** 2  # micron^-2
        n_air = 1.0 + 6.4328e-5 + 2.94981e-2 / (146.0 - sigma2) + 2.5540e-4 / (41.0 - sigma2)
        wave_vac = wave_air * n_air
    return wave_vac


#: (name, air wavelengths [A], half-width of the mask [A], observed frame).
#: Half-widths cover the SDSS line spread (FWHM ~ 2.5-3.5 A) plus sky-subtraction wings.
_SKY_LINES_AIR: tuple[tuple[str, tuple[float, ...], float], ...] = (
    ("HgI 4358", (4358.33,), 3.0),
    ("HgI 5461", (5460.74,), 3.0),
    ("[OI] 5577", (5577.34,), 5.0),
    ("NaI D sky", (5889.95, 5895.92), 4.0),
    ("[OI] 6300", (6300.30,), 4.0),
    ("[OI] 6364", (6363.78,), 4.0),
    ("OH 6864", (6863.96,), 3.0),
    ("OH 7316", (7316.28,), 3.0),
    ("OH 7341", (7340.89,), 3.0),
    ("OH 7751", (7750.64,), 3.0),
    ("OH 7914", (7913.71,), 3.0),
    ("OH 7993", (7993.33,), 3.0),
    ("OH 8345", (8344.60,), 3.0),
    ("OH 8399", (8399.17,), 3.0),
    ("OH 8430", (8430.17,), 3.0),
    ("OH 8827", (8827.10,), 3.0),
    ("OH 8886", (8885.85,), 3.0),
    ("OH 8943", (8943.40,), 3.0),
)

#: Masked intervals in the observed frame, vacuum Angstrom: array of shape (n, 2) [lo, hi].
SKY_MASK_INTERVALS_VAC_AA: np.ndarray = np.array(
    [(air_to_vac_aa(min(waves)) - hw, air_to_vac_aa(max(waves)) + hw) for _, waves, hw in _SKY_LINES_AIR]
)
#: Names matching the rows of :data:`SKY_MASK_INTERVALS_VAC_AA`.
SKY_LINE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in _SKY_LINES_AIR)


def sky_line_mask(wave_obs_vac_aa) -> np.ndarray:
    """True where an observed vacuum wavelength falls on a strong night-sky line.

    Parameters
    ----------
    wave_obs_vac_aa : array_like
        Observed-frame vacuum wavelengths in Angstrom.

    Returns
    -------
    ndarray of bool
        Same shape as the input.
    """
    wave = np.asarray(wave_obs_vac_aa, dtype=float)
    lo = SKY_MASK_INTERVALS_VAC_AA[:, 0]
    hi = SKY_MASK_INTERVALS_VAC_AA[:, 1]
    return np.any((wave[..., None] >= lo) & (wave[..., None] <= hi), axis=-1)
