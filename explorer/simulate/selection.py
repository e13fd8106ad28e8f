"""Which galaxies the SDSS main sample contains: redshift and luminosity from the r-band
luminosity function under the main-sample flux limit (simulation v2).

Why: the real galaxies we take colours from (``kcorrect``'s test file, :func:`.population.load_real_pool`)
are matched to 2MASS extended sources, so resampling them as they are gives a sample brighter,
more massive and redder than the main sample (median Petrosian r 16.7 instead of ~17.3), which
shows up as too many WISE W3/W4 detections (``docs/simulation_v2.md``). Here the *number* of
galaxies at each (z, luminosity) comes from the measured luminosity function, and the pool only
supplies the spectral energy distribution (colours, K corrections) of a real galaxy of that
luminosity.

Relations (each with its source):

* r-band luminosity function: Schechter fit of Blanton et al. (2003, ApJ 592, 819), Table 2,
  ^{0.1}r band: M* - 5 log10 h = -20.44, alpha = -1.05, with luminosity evolution
  M*(z) = M*(0.1) - Q (z - 0.1), Q = 1.62, and density evolution 10^(0.4 P (z - 0.1)), P = 0.18.
* selection: Petrosian r <= 17.77 (Strauss et al. 2002, AJ 124, 1810), 0.01 < z < 0.4.
* volume: Planck 2018 comoving volume (h = 0.6766), K corrections from each pool galaxy's
  kcorrect template fit (Blanton & Roweis 2007).

Sampling is exact rejection sampling: (z, M) are proposed from the luminosity function truncated
at the faintest M any pool SED could show at z (so the proposal covers the selected region), a
pool galaxy of that luminosity (one of the ``N_NEIGHBOURS`` nearest in ^{0.1}M_r) lends its SED,
and the draw is kept if that SED at z is brighter than the flux limit. At fixed luminosity, redder
galaxies (larger K corrections) are therefore selected less often at high z, as in the real survey.

Known limitation: the pool is thin below M_r ~ -19.5 (its 95th percentile is -20.2), so faint
galaxies borrow the SEDs of the faintest pool galaxies; and at fixed luminosity its colours still
carry the 2MASS selection (redder galaxies are brighter in K).
"""

from __future__ import annotations

import functools

import numpy as np

# Blanton et al. (2003), Table 2, ^{0.1}r: Schechter parameters and evolution.
BLANTON03_MSTAR_5LOGH = -20.44
BLANTON03_ALPHA = -1.05
BLANTON03_Q = 1.62
BLANTON03_P = 0.18
BLANTON03_Z0 = 0.1
# Planck 2018 (the cosmology of the rest of the simulator): h = H0 / 100.
PLANCK18_H = 0.6766
MSTAR_01 = BLANTON03_MSTAR_5LOGH + 5.0 * np.log10(PLANCK18_H)

# Main galaxy sample (Strauss et al. 2002): Petrosian r limit, redshift range of the simulation.
R_PETRO_LIMIT = 17.77
Z_MIN, Z_MAX = 0.012, 0.4
# the LF is sampled over this absolute-magnitude range (^{0.1}M_r, Planck18 h); brighter than
# -24.5 the Schechter density is < 1e-5 of L* and fainter than -15 no galaxy beyond z = 0.012 is
# brighter than 17.77
M_BRIGHT, M_FAINT = -24.5, -15.0
N_NEIGHBOURS = 30

#: redshift grid on which each pool galaxy's K correction is tabulated
K_Z_GRID = np.linspace(0.0, 0.42, 85)


def schechter_mag(m, mstar, alpha):
    """Schechter function per unit magnitude (arbitrary normalisation)."""
    x = 10.0 ** (0.4 * (mstar - np.asarray(m, float)))
    return x ** (alpha + 1.0) * np.exp(-x)


@functools.lru_cache(maxsize=1)
def _tables(offset_min: float):
    """Proposal tables: z grid, the proposal CDF in z, and the LF's magnitude grid.

    The proposal in z is dV/dz x density evolution x the LF integrated down to the faintest
    magnitude any pool SED could show at that z (the smallest K correction + Petrosian offset).
    """
    from astropy.cosmology import Planck18

    z = np.linspace(Z_MIN, Z_MAX, 800)
    dvdz = Planck18.differential_comoving_volume(z).value  # Mpc^3 / sr
    dm = Planck18.distmod(z).value
    m_lim = np.minimum(R_PETRO_LIMIT - dm - offset_min, M_FAINT)
    mgrid = np.linspace(M_BRIGHT, M_FAINT, 2001)
    cdf_m = np.empty((z.size, mgrid.size))
    for i, zi in enumerate(z):
        phi = schechter_mag(mgrid, MSTAR_01 - BLANTON03_Q * (zi - BLANTON03_Z0), BLANTON03_ALPHA)
        c = np.concatenate([[0.0], np.cumsum(0.5 * (phi[1:] + phi[:-1]) * np.diff(mgrid))])
        cdf_m[i] = c
    frac = np.array([np.interp(m_lim[i], mgrid, cdf_m[i]) for i in range(z.size)])
    dens = dvdz * 10.0 ** (0.4 * BLANTON03_P * (z - BLANTON03_Z0)) * frac
    cdf_z = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(z))])
    return z, cdf_z / cdf_z[-1], dm, m_lim, mgrid, cdf_m


def draw_main_sample(rng: np.random.Generator, pool) -> dict:
    """One galaxy of the main sample: redshift, luminosity and the pool galaxy lending its SED.

    Returns ``pool_index``, ``z``, ``abs_r01`` (^{0.1}M_r, Planck18), ``abs_r`` (z = 0 band, as
    used for the stellar mass), ``r_mag_total`` (model r, AB) and ``r_petro`` (AB).
    """
    # the brightest apparent offset any pool SED can have bounds the proposal
    offset_min = float(pool.k01_grid.min() + min(pool.petro_minus_model.min(), 0.0))
    z_tab, cdf_z, dm_tab, mlim_tab, mgrid, cdf_m = _tables(round(offset_min, 4))
    order = pool.abs_r01_order
    sorted_m = pool.abs_r01[order]
    for _ in range(100_000):
        z = float(np.interp(rng.random(), cdf_z, z_tab))
        iz = min(int(np.searchsorted(z_tab, z)), z_tab.size - 1)
        cm = cdf_m[iz]
        top = np.interp(mlim_tab[iz], mgrid, cm)
        m01 = float(np.interp(rng.random() * top, cm, mgrid))
        # one of the N_NEIGHBOURS pool galaxies nearest in luminosity lends its SED
        k = int(np.searchsorted(sorted_m, m01))
        lo = int(np.clip(k - N_NEIGHBOURS // 2, 0, sorted_m.size - N_NEIGHBOURS))
        j = int(order[lo + int(rng.integers(N_NEIGHBOURS))])
        kcorr = float(np.interp(z, K_Z_GRID, pool.k01_grid[j]))
        dm = float(np.interp(z, z_tab, dm_tab))
        r_model = m01 + dm + kcorr
        r_petro = r_model + float(pool.petro_minus_model[j])
        if r_petro <= R_PETRO_LIMIT:
            return dict(
                pool_index=j,
                z=z,
                abs_r01=m01,
                abs_r=m01 - float(pool.band01_minus_band0[j]),
                r_mag_total=r_model,
                r_petro=r_petro,
            )
    raise RuntimeError("main-sample selection: no galaxy accepted in 100,000 proposals (pool K corrections?)")
