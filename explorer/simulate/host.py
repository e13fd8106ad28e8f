"""Host-galaxy relations of simulation v2: bulge + disk, bursts, dust mass, dust heating and PAHs.

Every relation cites its source; numbers that are our own assumptions say so. None of them was
chosen to make a metric or an attribution come out a certain way (issue 14's honesty rules).

* **Bulge and disk.** Each galaxy is an old, metal-rich bulge (Sersic n = 4) plus a disk (n = 1)
  that holds the star formation. The bulge-to-total mass ratio rises with stellar mass and is
  higher in quenched galaxies (bulge + disk decompositions of SDSS galaxies: Simard et al. 2011;
  Mendel et al. 2014). Bulges are older and more metal-rich than their disks (MacArthur et al.
  2009), and stellar metallicity falls by ~0.1 dex per effective radius (Gonzalez Delgado et al.
  2015, CALIFA). The bulge is more concentrated (r_e,bulge / r_50 ~ 0.4: Gadotti 2009 finds
  r_e / h ~ 0.2-0.5 with h = r_50,disk / 1.68), so the 3" fiber sees a redder, older population
  than WISE's whole galaxy.
* **Bursts.** The disk's smooth delayed-tau history gets a burst with a mass-dependent
  probability: Kauffmann et al. (2003b) find from D4000-Hdelta_A that bursts in the last ~2 Gyr
  are common in low-mass galaxies and rare (a few per cent) in massive ones. Halpha (< 10 Myr),
  D4000/Hdelta_A (~1 Gyr) and dust heating (~100 Myr) then trace different time scales.
* **Dust mass.** Interstellar dust of the disk from its gas: M_H2 = SFR * t_dep with t_dep = 1 Gyr
  and 0.23 dex scatter (Saintonge et al. 2011, COLD GASS), M_HI / M_H2 ~ 3 (Saintonge & Catinella
  2022, z ~ 0 main-sequence galaxies; 0.3 dex scatter, assumed), and the dust-to-gas ratio
  1/162 * Z/Zsun above ~1/5 solar (Remy-Ruyer et al. 2014). Dust in old populations (returned by
  AGB stars, or acquired) is added for the bulge and for quenched disks and sets their attenuation
  instead of a random A_V. Its amount per stellar mass is Smith et al. (2012, Herschel Reference
  Survey)'s mean *including the non-detections*: log M_d / M_* = -5.8 for ellipticals (used for
  bulges) and -4.4 for S0s (used for quenched disks), with 0.6 dex scatter (adopted from the range
  of their detections). (Until 2026-12-02 one value, -4.7, was used for both: that overstated the
  dust of bulges by 1.1 dex against the source; found while looking for the W3/W4 detection excess
  of docs/simulation_v2.md, corrected to the source, not to a metric.)
* **Attenuation from a dust column.** A_V per dust surface density from the Milky Way dust model
  (A_V / N_H = 5.3e-22 mag cm^2 and M_dust / M_H = 0.010: Draine 2003), for dust mixed with the
  stars inside r_50 (half the dust, half the central column: a mixed slab, Disney et al. 1989).
* **Dust heating.** The mean starlight intensity follows from energy balance,
  <U> = L_dust / (P0 M_dust) with P0 = 125 Lsun/Msun (Draine & Li 2007; as used by Magdis et al.
  2012), and U_min from <U> through the Draine & Li (2007) two-component distribution
  (U_max = 10^6). Old stars heat the dust where there is little gas, so quenched galaxies get warm,
  low-mass dust without a term added for it.
* **PAHs.** q_PAH falls steeply below ~1/3 solar metallicity and is 3-4.6 % near solar (Draine et
  al. 2007; Remy-Ruyer et al. 2015). PAHs are injected by carbon-rich AGB stars with a delay of
  a few hundred Myr (Galliano et al. 2008), so q_PAH scales with the fraction of the disk's stars
  older than 0.5 Gyr (our reading of their model as one number). The observed spread at fixed
  metallicity is large (Aniano et al. 2020 find q_PAH of 1-5 % among near-solar KINGFISH
  galaxies; Galliano et al. 2021 for DustPedia): 0.15 dex lognormal, hidden from the optical.
"""

from __future__ import annotations

import numpy as np

#: Hidden scatter of host quantities (the optical data cannot see these deviates).
HOST_HIDDEN: dict[str, float] = {
    # dex, molecular depletion time at fixed SFR (Saintonge et al. 2011)
    "tdep_dex": 0.23,
    # dex, HI / H2 mass ratio (assumed, Saintonge & Catinella 2022 show ~0.3-0.5 dex spread)
    "hi_h2_dex": 0.3,
    # dex, AGB (old-star) dust mass per stellar mass (range of Smith et al. 2012)
    "agb_dust_dex": 0.6,
    # dex, q_PAH at fixed metallicity and stellar age (Aniano et al. 2020; Galliano et al. 2021)
    "qpah_dex": 0.15,
    # dex, PDR dust fraction gamma at fixed sSFR (Draine et al. 2007 find gamma 0-10 % in SINGS)
    "gamma_dex": 0.2,
}

T_DEP_GYR = 1.0  # Saintonge et al. (2011)
HI_OVER_H2 = 3.0  # Saintonge & Catinella (2022), typical z ~ 0 main-sequence galaxy
GAS_TO_DUST_SOLAR = 162.0  # Remy-Ruyer et al. (2014), slope -1 above ~1/5 solar
OH_SOLAR_PT05 = 8.69  # Asplund et al. (2009)
T04_MINUS_DIRECT_DEX = 0.45  # T04 (CL01 models) minus direct-method scale (Kewley & Ellison 2008)
# Smith et al. (2012), mean log M_dust / M_* including non-detections: ellipticals, S0s
LOG_OLD_DUST_PER_MSTAR = {"bulge": -5.8, "quenched_disk": -4.4}
AV_PER_DUST_COLUMN = 5.3e-22 / (0.010 * 1.674e-24)  # mag cm^2 / g (Draine 2003)
P0_LSUN_PER_MSUN = 125.0  # Draine & Li (2007); Magdis et al. (2012)
U_MAX = 1.0e6  # Draine & Li (2007)
MSUN_G = 1.989e33
KPC_CM = 3.0857e21
PAH_AGE_GYR = 0.5  # delay of PAH injection by C-rich AGB stars (Galliano et al. 2008), one number


def bulge_to_total(log_mstar: float, quenched: bool) -> float:
    """Median bulge-to-total stellar-mass ratio (approximate trend of Mendel et al. 2014, not a fit)."""
    x = float(np.clip((log_mstar - 9.5) / 2.0, 0.0, 1.0))
    return (0.45 + 0.35 * x) if quenched else (0.08 + 0.30 * x)


def draw_bulge_to_total(rng: np.random.Generator, log_mstar: float, quenched: bool) -> float:
    """B/T with 0.12 absolute scatter about the median (assumed), kept in [0.02, 0.95]."""
    return float(np.clip(bulge_to_total(log_mstar, quenched) + 0.12 * rng.standard_normal(), 0.02, 0.95))


def burst_probability(log_mstar: float) -> float:
    """Probability of a burst in the last 2 Gyr (Kauffmann et al. 2003b trend: common at low mass,
    a few per cent in massive galaxies; linear in log M* between 0.3 at 9.5 and 0.03 at 11.0)."""
    return float(np.clip(0.3 - 0.18 * (log_mstar - 9.5), 0.03, 0.3))


def draw_burst(rng: np.random.Generator, log_mstar: float) -> tuple[float, float]:
    """(age Gyr, mass fraction of the disk's formed mass); (nan, 0) without a burst.

    Ages log-uniform in 5 Myr - 2 Gyr and mass fractions log-uniform in 0.5-10 % (the range of
    burst strengths in Kauffmann et al. 2003b). Always consumes three draws.
    """
    u = rng.random(3)
    if u[0] >= burst_probability(log_mstar):
        return float("nan"), 0.0
    age = 10 ** (np.log10(0.005) + u[1] * np.log10(2.0 / 0.005))
    frac = 10 ** (np.log10(0.005) + u[2] * np.log10(0.1 / 0.005))
    return float(age), float(frac)


def dust_to_gas(oh12_t04: float) -> float:
    """Dust-to-gas mass ratio (Remy-Ruyer et al. 2014, slope -1), T04 abundances moved to the
    direct-method scale of that paper first (Kewley & Ellison 2008)."""
    oh = oh12_t04 - T04_MINUS_DIRECT_DEX
    return float(10 ** (oh - OH_SOLAR_PT05) / GAS_TO_DUST_SOLAR)


def ism_dust_mass(sfr: float, oh12_t04: float, g_tdep: float, g_hi: float) -> float:
    """Interstellar dust mass (Msun) of a disk forming stars at ``sfr`` (Msun/yr); ``g_*`` are the
    standard-normal hidden deviates of depletion time and HI/H2."""
    m_h2 = max(sfr, 0.0) * T_DEP_GYR * 1e9 * 10 ** (HOST_HIDDEN["tdep_dex"] * g_tdep)
    m_gas = 1.36 * m_h2 * (1.0 + HI_OVER_H2 * 10 ** (HOST_HIDDEN["hi_h2_dex"] * g_hi))  # 1.36: helium
    return m_gas * dust_to_gas(oh12_t04)


def agb_dust_mass(mstar: float, g_agb: float, kind: str) -> float:
    """Dust of an old population (Msun): Smith et al. (2012) ellipticals for ``kind="bulge"``,
    S0s for ``kind="quenched_disk"``."""
    return mstar * 10 ** (LOG_OLD_DUST_PER_MSTAR[kind] + HOST_HIDDEN["agb_dust_dex"] * g_agb)


def av_of_dust(m_dust_msun: float, r50_kpc: float) -> float:
    """Stellar A_V of dust mixed with the stars: half the dust inside r_50, half its central column."""
    sigma = 0.5 * m_dust_msun * MSUN_G / (np.pi * (r50_kpc * KPC_CM) ** 2)
    return float(0.5 * AV_PER_DUST_COLUMN * sigma)


def umin_of_mean_u(mean_u: float, gamma: float) -> float:
    """Invert the Draine & Li (2007) mean intensity <U> = U_min [(1-g) + g ln(Umax/Umin)/(1-Umin/Umax)]."""
    from scipy.optimize import brentq

    def f(log_umin):
        u = 10**log_umin
        return u * ((1 - gamma) + gamma * np.log(U_MAX / u) / (1 - u / U_MAX)) - mean_u

    if f(-4.0) > 0:
        return 1e-4
    if f(5.9) < 0:
        return 10**5.9
    return float(10 ** brentq(f, -4.0, 5.9, xtol=1e-5))


def mean_u(l_dust_lsun: float, m_dust_msun: float) -> float:
    """Mean starlight intensity from energy balance, <U> = L_dust / (P0 M_dust)."""
    return float(l_dust_lsun / (P0_LSUN_PER_MSUN * max(m_dust_msun, 1e-3)))


def qpah_of_metallicity(oh12_t04) -> np.ndarray:
    """q_PAH (per cent) versus gas metallicity: a steep fall below ~1/3 solar (12+log(O/H) ~ 8.2
    on the direct scale, 8.65 on T04's), 4.0 % near solar (Draine et al. 2007; Remy-Ruyer et al. 2015)."""
    return 0.47 + (4.0 - 0.47) / (1.0 + np.exp(-(np.asarray(oh12_t04, float) - 8.65) / 0.1))


def old_fraction(age_gyr: float, tau_gyr: float, burst_age_gyr: float, burst_frac: float) -> float:
    """Fraction of the disk's formed mass older than :data:`PAH_AGE_GYR` (delayed tau + burst)."""

    def formed(t):  # mass formed in the first t Gyr of a delayed-tau SFH, normalized
        return 1.0 - np.exp(-t / tau_gyr) * (1.0 + t / tau_gyr)

    total = formed(age_gyr)
    young = total - formed(max(age_gyr - PAH_AGE_GYR, 0.0))
    f_old = (total - young) / total if total > 0 else 0.0
    old_burst = burst_frac if (burst_frac > 0 and burst_age_gyr > PAH_AGE_GYR) else 0.0
    return float((f_old + old_burst) / (1.0 + burst_frac))


def qpah_visible(oh12_t04: float, f_old: float) -> float:
    """q_PAH from metallicity and the AGB-age population (Galliano et al. 2008), no hidden scatter."""
    return float(qpah_of_metallicity(oh12_t04) * np.clip(f_old, 0.0, 1.0))


def gamma_visible(log_ssfr: float) -> float:
    """PDR dust fraction gamma: ~1 % typical in SINGS (Draine et al. 2007), larger at high sSFR
    (more dust next to young stars; the slope is our assumption)."""
    x = float(np.clip((log_ssfr + 11.5) / 2.0, 0.0, 1.0))
    return 0.003 + 0.03 * x
