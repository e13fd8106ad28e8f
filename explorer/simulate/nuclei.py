"""AGN demographics of simulation v2: who hosts an accreting black hole, how bright, what it shows.

* **Occupation and duty cycle.** The fraction of galaxies with an emission-line AGN (Seyferts,
  LINERs and composites) rises steeply with stellar mass (Kauffmann et al. 2003):
  :func:`explorer.simulate.population.agn_fraction`.
* **Eddington ratios depend on the host's central stellar age** (Kauffmann & Heckman 2009): in
  galaxies with significant central star formation a broad lognormal peaked at a few per cent of
  Eddington, independent of black-hole mass; in galaxies with old central populations a power law
  that rises to low Eddington ratios. Here "young" = the disk forms stars (not quenched). The peak
  (log lambda = -1.5), width (0.5 dex) and the power-law slope (dN/dlog lambda ~ lambda^-0.7
  between 10^-5 and 10^-1.5) are our reading of their Figs. 2-4, not fits.
* **Low-luminosity nuclei** (lambda < 10^-3) are radiatively inefficient and have no luminous
  torus: the torus fades below L_bol ~ 10^42 erg/s (Elitzur & Shlosman 2006; Gonzalez-Martin et
  al. 2017 see it disappear in LINERs); their narrow lines have LINER ratios (Kewley et al. 2006).
* **Narrow-line-region dust** is half the host's gas-phase A_V plus an independent part (the
  issue's "partly tied"; the split is our assumption).
* **Torus** luminosity = covering factor x L_bol. The covering factor falls with L_bol (receding
  torus; Lusso et al. 2013) with a hidden 0.2 dex scatter at fixed L_bol, and the mid-IR slope
  scatters by 0.3 (hidden); Asmus et al. (2015) find ~0.3 dex intrinsic scatter of L_12um about
  L_X, part of which is the X-ray side.
* **Broad-line AGN** (type 1 = line of sight through the torus opening, probability 1 - covering
  factor) whose nucleus would outshine the host in the fiber fail the main galaxy sample's
  star/galaxy separation (Strauss et al. 2002) and are targeted as quasars instead; such draws are
  repeated (the sample is conditioned on being a main-sample galaxy).
"""

from __future__ import annotations

import numpy as np

#: Hidden AGN scatter (dex unless noted).
AGN_HIDDEN: dict[str, float] = {
    "covering_factor_dex": 0.2,  # Lusso et al. (2013); Asmus et al. (2015)
    "torus_alpha": 0.3,  # absolute, mid-IR slope at fixed type and NLR extinction
    "ldisk_dex": 0.1,  # disk luminosity at fixed narrow-line luminosity, beyond the visible part
    "lbol_bolcorr_dex": 0.25,  # X-ray bolometric corrections (Lusso et al. 2012; Duras et al. 2020)
}

LOG_EDD_YOUNG_PEAK, LOG_EDD_YOUNG_SIGMA = -1.5, 0.5  # Kauffmann & Heckman (2009), see module doc
LOG_EDD_OLD_SLOPE, LOG_EDD_OLD_RANGE = -0.7, (-5.0, -1.5)
LOG_EDD_LINER = -3.0  # below: radiatively inefficient, LINER-like, no luminous torus
LOG_LBOL_TORUS_FADE = 42.0  # Elitzur & Shlosman (2006)
BOL_CORR_5100 = 9.26  # Shen et al. (2011)
NU_R_HZ = 2.998e18 / 6200.0


def draw_log_edd(u: float, g: float, young: bool) -> float:
    """log10 Eddington ratio from the host's regime; ``u`` uniform, ``g`` standard normal."""
    if young:
        return float(np.clip(LOG_EDD_YOUNG_PEAK + LOG_EDD_YOUNG_SIGMA * g, -5.0, 0.0))
    lo, hi = LOG_EDD_OLD_RANGE
    a = LOG_EDD_OLD_SLOPE * np.log(10)
    return float(np.log(np.exp(a * lo) + u * (np.exp(a * hi) - np.exp(a * lo))) / a)


def torus_fade(log_lbol: float, log_edd: float) -> float:
    """Fraction of the covering-factor torus luminosity that a nucleus keeps (1 for Seyferts)."""
    f_l = 1.0 / (1.0 + 10 ** (2.0 * (LOG_LBOL_TORUS_FADE - log_lbol)))
    f_e = 1.0 / (1.0 + 10 ** (2.0 * (LOG_EDD_LINER - log_edd)))
    return float(f_l * f_e)


def covering_factor_visible(log_lbol, agn_type):
    """Torus covering factor (visible part): receding torus (Lusso et al. 2013), higher in type 2."""
    cf = 0.66 - 0.10 * (np.asarray(log_lbol) - 44.0)
    cf = np.where(np.asarray(agn_type) == 2, cf + 0.08, cf - 0.08)
    return np.clip(cf, 0.15, 0.9)


def host_nu_l_r(abs_r: float) -> float:
    """nu L_nu (erg/s) of the whole host in r from its absolute AB magnitude."""
    l_nu = 3631e-23 * 10 ** (-0.4 * abs_r) * 4 * np.pi * (3.0857e19) ** 2
    return float(NU_R_HZ * l_nu)


def passes_galaxy_selection(log_lbol_vis: float, agn_type: int, host_fiber_nu_l_r: float) -> bool:
    """False for a type 1 nucleus brighter than the host inside the fiber (a quasar target)."""
    if agn_type != 1:
        return True
    return 10**log_lbol_vis / BOL_CORR_5100 < host_fiber_nu_l_r


def liner_line_ratios(u: float, g: tuple[float, float]) -> tuple[float, float]:
    """log [OIII]/Hbeta and log [NII]/Halpha of a LINER (Kewley et al. 2006 LINER locus)."""
    return float(np.clip(0.1 + 0.15 * g[0], -0.3, 0.45)), float(np.clip(0.1 + 0.12 * g[1], -0.2, 0.4))


def seyfert_line_ratios(log_edd: float, g: tuple[float, float]) -> tuple[float, float]:
    """log [OIII]/Hbeta rising with Eddington ratio (LINER -> Seyfert) and log [NII]/Halpha."""
    o3 = float(np.clip(0.65 + 0.3 * (log_edd + 2.0) + 0.12 * g[0], 0.0, 1.15))
    return o3, float(np.clip(0.02 + 0.12 * g[1], -0.3, 0.35))


_NO_AGN = dict(
    log_lbol_agn=np.nan,
    log_edd=np.nan,
    agn_type=0,
    agn_liner=False,
    covering_factor=np.nan,
    torus_fade=np.nan,
    torus_alpha=np.nan,
    log_loiii=np.nan,
    nlr_av=np.nan,
    log_o3hb=np.nan,
    log_n2ha=np.nan,
    broad_fwhm_kms=np.nan,
    nlr_sigma_kms=np.nan,
    lbol_hid=0.0,
    bolcorr_hid=0.0,
    cf_hid=0.0,
    alpha_hid=0.0,
)


def _black_hole_mass(p: dict, log_m: float, g: float) -> float:
    """Bulge-dominated (quenched) hosts follow Kormendy & Ho (2013, eq. 10, with M_bulge ~ M*),
    disk-dominated hosts the lower relation of Reines & Volonteri (2015); 0.3 dex scatter."""
    if p["quenched_draw"]:
        return 8.69 + 1.16 * (log_m - 11.0) + 0.3 * g
    return 7.45 + 1.05 * (log_m - 11.0) + 0.3 * g


def _accretion(rng: np.random.Generator, p: dict, log_mbh: float, host_fiber_l: float) -> tuple:
    """(log_edd, log_lbol, agn_type, lbol_hid) conditioned on passing the galaxy selection."""
    young = not p["quenched_draw"]
    for _ in range(20):
        u = rng.random(2)
        g = rng.normal(size=2)
        log_edd = draw_log_edd(u[0], g[0], young)
        log_lbol = float(38.1 + log_mbh + log_edd)
        agn_type = 2 if u[1] < covering_factor_visible(log_lbol, 2) else 1
        lbol_hid = AGN_HIDDEN["ldisk_dex"] * g[1]
        if log_edd < LOG_EDD_LINER:
            agn_type = 2  # no broad-line region in radiatively inefficient nuclei (Ho 2008)
        if passes_galaxy_selection(log_lbol - lbol_hid, agn_type, host_fiber_l):
            break
    else:  # no main-sample draw: keep the nucleus obscured
        agn_type = 2
    return log_edd, log_lbol, agn_type, lbol_hid


def draw_agn(rng: np.random.Generator, p: dict, log_m: float) -> None:
    """AGN parameters (written in this project; bagpipes has no torus). Fills ``p`` in place."""
    from .observe import cardelli89_a_over_av, fiber_fraction

    g = rng.normal(size=8)
    u = rng.random(4)
    if not p["has_agn"]:
        p.update(_NO_AGN)
        return
    log_mbh = _black_hole_mass(p, log_m, g[0])
    ffib = fiber_fraction(p["r50_arcsec"], p["sersic_n"], p["seeing_fwhm_arcsec"])
    log_edd, log_lbol, agn_type, lbol_hid = _accretion(rng, p, log_mbh, ffib * host_nu_l_r(p["abs_r"]))
    liner = log_edd < LOG_EDD_LINER
    cf_hid = AGN_HIDDEN["covering_factor_dex"] * g[1]
    cf = float(np.clip(covering_factor_visible(log_lbol, agn_type) * 10**cf_hid, 0.02, 0.98))
    if liner:
        log_o3hb, log_n2ha = liner_line_ratios(u[0], (g[3], g[4]))
    else:
        log_o3hb, log_n2ha = seyfert_line_ratios(log_edd, (g[3], g[4]))
    # narrow-line-region dust: half the host's gas A_V plus an independent part (see module doc)
    nlr_av = float(np.clip(0.5 * p["av"] * p["eta"] + 0.5 * (0.9 + 0.65 * g[5]), 0.0, 3.0))
    # torus near/mid-IR slope: steeper in type 2 (Alonso-Herrero et al. 2003, see .agn) and in more
    # obscured nuclei (visible through the narrow-line Balmer decrement), plus a hidden part
    alpha_hid = AGN_HIDDEN["torus_alpha"] * g[2]
    alpha = float(np.clip((2.3 if agn_type == 1 else 2.8) + 0.25 * (nlr_av - 0.9), 1.8, 3.4)) + alpha_hid
    # Heckman et al. (2004): L[OIII] (observed) = L_bol / 3500 with ~0.4 dex scatter, here made of
    # NLR extinction (A_5007 = 1.12 A_V, Cardelli et al. 1989), ionisation and a hidden remainder.
    a5007 = float(cardelli89_a_over_av(5008.24)[0])
    delta = -0.4 * a5007 * (nlr_av - 0.9) + 0.9 * (log_o3hb - 0.49)
    p.update(
        log_lbol_agn=log_lbol,
        log_edd=log_edd,
        agn_type=agn_type,
        agn_liner=bool(liner),
        covering_factor=cf,
        torus_fade=torus_fade(log_lbol, log_edd),
        torus_alpha=float(alpha),
        log_loiii=float(log_lbol - lbol_hid - np.log10(3500.0) + delta),
        nlr_av=nlr_av,
        log_o3hb=log_o3hb,
        log_n2ha=log_n2ha,
        broad_fwhm_kms=float(10 ** (np.log10(2000) + u[2] * np.log10(3.0))) if agn_type == 1 else np.nan,
        nlr_sigma_kms=float(np.clip(p["gas_sigma_kms"] * 1.5 + 60 * u[3], 80, 400)),
        lbol_hid=float(lbol_hid),
        bolcorr_hid=float(AGN_HIDDEN["lbol_bolcorr_dex"] * g[7]),
        cf_hid=float(np.log10(cf / covering_factor_visible(log_lbol, agn_type))),
        alpha_hid=float(alpha_hid),
    )
