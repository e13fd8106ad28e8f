"""The noiseless rest-frame 1-40 micron spectrum kept for every simulated galaxy (issue 14, item 4).

Three components on one log-spaced rest-frame grid (:data:`IR_WAVE_UM`, 256 points, R ~ 70,
enough for the PAH bands at 3.3-12.7 micron and the 9.7/18 micron silicate features of the Draine
& Li 2007 dust model), as the observed flux density f_nu in mJy that the galaxy has at the observed
wavelength (1 + z) * lambda_rest:

* ``stars``: stars and nebular emission after attenuation (bulge + disk), without dust emission;
* ``dust``: the energy-balance dust emission (Draine & Li 2007);
* ``agn``: the torus plus the type 1 accretion-disk continuum.

The catalog stores them as ``ir_rest/stars``, ``ir_rest/dust``, ``ir_rest/agn`` (n_galaxies x 256,
float32) with ``ir_rest/wave_um``; they are truth, never an input of a model of the observed data.
"""

from __future__ import annotations

import numpy as np

from .observe import C_AA_S

IR_WAVE_UM = np.geomspace(1.0, 40.0, 256)
IR_COMPONENTS = ("stars", "dust", "agn")


def _edges(centres: np.ndarray) -> np.ndarray:
    lc = np.log(centres)
    mid = 0.5 * (lc[1:] + lc[:-1])
    return np.exp(np.concatenate([[2 * lc[0] - mid[0]], mid, [2 * lc[-1] - mid[-1]]]))


def rest_ir_spectrum(wave_rest_aa, z: float, *components) -> np.ndarray:
    """(len(components), 256) float32 f_nu in mJy at rest wavelengths :data:`IR_WAVE_UM`.

    ``components`` are observed-frame f_lambda (erg/s/cm^2/A per observed A) on ``wave_rest_aa``.
    Each output point is the flux-conserving mean of f_lambda over its log-spaced bin, so band
    integrals (WISE photometry, PAH band fluxes) and narrow lines are kept.
    """
    w = np.asarray(wave_rest_aa, float)
    edges = _edges(IR_WAVE_UM) * 1e4
    lam_obs = IR_WAVE_UM * 1e4 * (1.0 + z)
    out = np.empty((len(components), IR_WAVE_UM.size), np.float32)
    for i, f_lam in enumerate(components):
        f = np.asarray(f_lam, float)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(w))])
        mean = np.diff(np.interp(edges, w, cum)) / np.diff(edges)
        out[i] = mean * lam_obs**2 / C_AA_S / 1e-26
    return out
