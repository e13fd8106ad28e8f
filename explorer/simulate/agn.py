"""The AGN component of the simulated galaxies (our own model; bagpipes has no torus).

Three parts, all scaled to the bolometric luminosity L_bol:

* narrow lines (both types): L[OIII]5007 from Heckman et al. (2004) (parameters drawn in
  :mod:`.population`), Seyfert/LINER line ratios, narrow-line-region extinction (Cardelli et al. 1989);
* type 1 only: a blue power-law accretion-disk continuum, lambda L_lambda(5100 A) = L_bol / 9.26
  (Shen et al. 2011), f_nu ~ nu**-0.5 (Vanden Berk et al. 2001), and broad Halpha/Hbeta/Hgamma with
  L(Halpha) from L5100 (Greene & Ho 2005);
* hot torus dust: f_nu ~ lambda**alpha between ~1.7 and ~25 micron, with a hot-dust (~1500 K)
  turnover below ~1.7 micron and a decline beyond ~25 micron (an Assef et al. 2010-like AGN
  template shape), carrying L_torus = covering_factor * L_bol. Type 2 AGN have steeper near-to-mid-IR
  SEDs than type 1 (edge-on tori hide their hot inner face; Alonso-Herrero et al. 2003): alpha = 2.3
  (type 1) and 2.8 (type 2), steeper by 0.25 per magnitude of narrow-line-region A_V above 0.9.
  A torus-dominated source then has W1-W2 (Vega) ~ 1.3-1.7, above the Stern et al. (2012) AGN
  cut of 0.8.

The optical parts scale with L_bol,vis = L_bol * 10**(-lbol_hid) and the torus with the true L_bol
(see :mod:`.population` for the hidden-scatter design).
"""

from __future__ import annotations

import numpy as np

from .nuclei import covering_factor_visible
from .observe import C_AA_S, cardelli89_a_over_av
from .population import lum_distance_cm

# rest-frame vacuum wavelengths (Angstrom), Morton (1991) / NIST
W_HA, W_HB, W_HG, W_HD = 6564.61, 4862.69, 4341.69, 4102.90
W_OIII_5007, W_OIII_4959 = 5008.24, 4960.29
W_NII_6583, W_NII_6548 = 6585.27, 6549.86
W_SII_6716, W_SII_6731 = 6718.29, 6732.68
W_OI_6300, W_OI_6363 = 6302.05, 6365.54
W_OII_3726, W_OII_3729 = 3727.09, 3729.88
W_NEIII_3869 = 3869.86
W_HEII_4686 = 4687.02

_TORUS_GRID_UM = np.geomspace(0.3, 2000.0, 3000)


#: Hot-dust cut-off wavelength of the torus (micron): dust sublimates at ~1500 K (Barvainis 1987).
TORUS_HOT_CUT_UM = 1.7


def torus_shape_fnu(wave_um, alpha: float) -> np.ndarray:
    """Unnormalized torus f_nu(lambda): power law with a hot-dust cut-off and a far-IR decline."""
    w = np.asarray(wave_um, float)
    with np.errstate(over="ignore", divide="ignore"):
        return w**alpha * np.exp(-((TORUS_HOT_CUT_UM / w) ** 3)) / (1.0 + (w / 25.0) ** (alpha + 2.5))


def torus_flam(
    wave_rest_aa, z: float, log_lbol: float, covering_factor: float, alpha: float, agn_type: int = 1
) -> np.ndarray:
    """Observed-frame torus f_lambda (erg/s/cm^2/A per observed A) on a rest wavelength grid.

    ``covering_factor * L_bol`` is the torus luminosity.
    """
    w_um = _TORUS_GRID_UM
    nu = C_AA_S / (w_um * 1e4)
    shape = torus_shape_fnu(w_um, alpha)
    l_int = -np.trapezoid(shape, nu)  # nu decreases along the grid
    norm = covering_factor * 10**log_lbol / l_int  # L_nu = norm * shape
    w_aa = np.asarray(wave_rest_aa, float)
    l_lam = norm * torus_shape_fnu(w_aa / 1e4, alpha) * C_AA_S / w_aa**2  # erg/s/A (rest)
    return l_lam / (4 * np.pi * lum_distance_cm(z) ** 2 * (1.0 + z))


def disk_flam(wave_rest_aa, z: float, log_lbol_vis: float) -> np.ndarray:
    """Observed-frame type 1 accretion-disk continuum f_lambda on a rest wavelength grid."""
    w = np.asarray(wave_rest_aa, float)
    l5100 = 10**log_lbol_vis / 9.26 / 5100.0  # L_lambda(5100) in erg/s/A, Shen et al. (2011)
    shape = (w / 5100.0) ** -1.5  # f_nu ~ nu^-0.5
    shape = np.where(w > 1e4, shape * (w / 1e4) ** -2.5, shape)  # Rayleigh-Jeans tail of the disk
    shape = np.where(w < 912.0, shape * (w / 912.0) ** 2, shape)
    return l5100 * shape / (4 * np.pi * lum_distance_cm(z) ** 2 * (1.0 + z))


def agn_lines(p: dict, z: float):
    """AGN emission lines: (rest vacuum wavelength A, observed flux erg/s/cm^2, sigma km/s, is_broad).

    Narrow line ratios relative to Hbeta are intrinsic; every line is then attenuated by the
    narrow-line-region A_V with the Cardelli et al. (1989) curve.
    """
    if not p.get("has_agn"):
        e = np.zeros(0)
        return e, e, e, np.zeros(0, bool)
    dl2 = 4 * np.pi * lum_distance_cm(z) ** 2
    o3hb = 10 ** p["log_o3hb"]
    n2ha = 10 ** p["log_n2ha"]
    seyfert_weight = np.clip((p["log_o3hb"] - 0.2) / 0.6, 0.0, 1.0)
    a5007 = float(cardelli89_a_over_av(W_OIII_5007)[0]) * p["nlr_av"]
    l_o3_int = 10 ** p["log_loiii"] * 10 ** (0.4 * a5007)
    l_hb = l_o3_int / o3hb
    rel = {  # intrinsic luminosity relative to Hbeta
        W_HB: 1.0,
        W_HA: 3.1,  # AGN narrow-line Balmer decrement (Halpern & Steiner 1983; Gaskell & Ferland 1984)
        W_HG: 0.47,
        W_HD: 0.26,
        W_OIII_5007: o3hb,
        W_OIII_4959: o3hb / 2.98,  # Storey & Zeippen (2000)
        W_NII_6583: 3.1 * n2ha,
        W_NII_6548: 3.1 * n2ha / 3.05,
        W_SII_6716: 3.1 * 10 ** (-0.25) * 0.55,
        W_SII_6731: 3.1 * 10 ** (-0.25) * 0.45,
        W_OI_6300: 3.1 * 10 ** (-1.0 + 0.4 * (1.0 - seyfert_weight)),
        W_OI_6363: 3.1 * 10 ** (-1.0 + 0.4 * (1.0 - seyfert_weight)) / 3.0,
        W_OII_3726: 10 ** (0.3 + 0.35 * (1.0 - seyfert_weight)) * 0.45,
        W_OII_3729: 10 ** (0.3 + 0.35 * (1.0 - seyfert_weight)) * 0.55,
        W_NEIII_3869: 0.09 * o3hb,
        W_HEII_4686: 0.25 * seyfert_weight,
    }
    waves = np.array(list(rel))
    lum = l_hb * np.array(list(rel.values()))
    lum *= 10 ** (-0.4 * p["nlr_av"] * cardelli89_a_over_av(waves))
    sig = np.full(waves.size, p["nlr_sigma_kms"])
    broad = np.zeros(waves.size, bool)
    if p["agn_type"] == 1:
        l5100 = 10 ** (p["log_lbol_agn"] - p["lbol_hid"]) / 9.26  # lambda L_lambda
        l_ha_b = 5.25e42 * (l5100 / 1e44) ** 1.157  # Greene & Ho (2005), eq. 1
        sig_b = p["broad_fwhm_kms"] / 2.3548
        waves = np.concatenate([waves, [W_HA, W_HB, W_HG]])
        lum = np.concatenate([lum, l_ha_b * np.array([1.0, 1.0 / 3.5, 0.47 / 3.5])])
        sig = np.concatenate([sig, [sig_b, sig_b, sig_b]])
        broad = np.concatenate([broad, [True, True, True]])
    return waves, lum / dl2, sig, broad


def agn_continuum_flam(
    p: dict, wave_rest_aa, z: float, *, visible: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(disk, torus) observed-frame f_lambda on the rest grid; zeros without an AGN.

    ``visible=True`` gives the torus with every hidden deviate set to zero.
    """
    w = np.asarray(wave_rest_aa, float)
    if not p.get("has_agn"):
        return np.zeros_like(w), np.zeros_like(w)
    lbol_vis = p["log_lbol_agn"] - p["lbol_hid"]
    disk = disk_flam(w, z, lbol_vis) if p["agn_type"] == 1 else np.zeros_like(w)
    if visible:
        cf = float(covering_factor_visible(lbol_vis, p["agn_type"]))
        torus = torus_flam(w, z, lbol_vis, cf, p["torus_alpha"] - p["alpha_hid"], p["agn_type"])
    else:
        torus = torus_flam(w, z, p["log_lbol_agn"], p["covering_factor"], p["torus_alpha"], p["agn_type"])
    # low-luminosity, radiatively inefficient nuclei lose their torus (see .nuclei)
    return disk, torus * p.get("torus_fade", 1.0)


#: Halpha equivalent width (rest, A) of the gas that hot low-mass evolved stars (post-AGB) ionise in
#: old populations: 0.5-2.4 A predicted and observed in "retired" galaxies (Stasinska et al. 2008;
#: Cid Fernandes et al. 2011, the WHAN diagram's EW < 3 A class); 1 A adopted.
RETIRED_EW_HA_AA = 1.0


def retired_lines(flam_6563_old: float, z: float, sigma_kms: float):
    """LINER-like lines of gas ionised by old stars (no AGN): (wavelength, flux, sigma).

    ``flam_6563_old`` is the old stars' continuum at rest 6563 A (observed-frame f_lambda per
    observed A, as bagpipes gives it); line ratios of retired galaxies: [NII]/Halpha ~ 1.4,
    [OIII]/Hbeta ~ 1.3, strong [OII] (Cid Fernandes et al. 2011; Yan & Blanton 2012), case B
    Halpha/Hbeta = 2.86.
    """
    f_ha = RETIRED_EW_HA_AA * flam_6563_old * (1.0 + z)
    f_hb = f_ha / 2.86
    rel = {
        W_HA: f_ha,
        W_HB: f_hb,
        W_NII_6583: f_ha * 10**0.15,
        W_NII_6548: f_ha * 10**0.15 / 3.05,
        W_OIII_5007: f_hb * 10**0.1,
        W_OIII_4959: f_hb * 10**0.1 / 2.98,
        W_OII_3726: f_hb * 3.0 * 0.45,
        W_OII_3729: f_hb * 3.0 * 0.55,
        W_OI_6300: f_ha * 0.2,
    }
    waves = np.array(list(rel))
    return waves, np.array(list(rel.values())), np.full(waves.size, sigma_kms)
