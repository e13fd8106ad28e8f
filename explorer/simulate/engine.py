"""One galaxy from parameters to catalog row and spectrum (the only module that imports bagpipes).

The host galaxy is a bagpipes 1.3.6 model (BC03 + MILES stars, Cloudy nebular continuum, Calzetti
attenuation with extra birth-cloud dust, Draine & Li 2007 dust emission with energy balance). The
model is built once per worker on a custom wavelength grid whose optical part (rest 1900-11700 A)
is uniform in log10(lambda) with the spender/SDSS step (1e-4, 69 km/s). Optical emission lines are
taken out of bagpipes' combined nebular grid (where they sit in single pixels) and drawn instead as
Gaussians at their exact vacuum wavelengths from ``model.line_fluxes``; lines outside that range
(Ly alpha, IR lines) stay in bagpipes' grid, so the dust energy balance keeps them.

Bagpipes' optical wavelengths (MILES, Cloudy) are in air; they are converted to vacuum here.
The model is linear in mass, so it is computed with ``massformed = 10`` and rescaled to match the
drawn total r magnitude.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..constants import WAVE_OBS_VAC_AA
from . import agn as agn_mod
from . import host as host_mod
from .irspec import rest_ir_spectrum
from .observe import (
    SDSS_FILTERS,
    WISE_FILTERS,
    Photometer,
    air_to_vac,
    catalog_zero_points,
    fiber_fraction,
    fnu_to_ab,
    observe_sdss_mags,
    observe_spectrum,
    observe_wise,
    render_lines,
    spender_norm,
    wise_coverage,
    wise_fnu_to_vega_mjy,
)
from .population import (
    QPAH_MAX,
    QPAH_MIN,
    UMIN_MAX,
    UMIN_MIN,
    bagpipes_to_planck_lum_factor,
    lum_distance_cm,
    speagle14_log_sfr,
)

OPT_LO_AA, OPT_HI_AA = 1900.0, 11700.0
LOG_STEP = 1e-4  # log10 step of the optical part (= spender / SDSS pixel)
SIGMA_INSTRUMENT_KMS = 65.0  # SDSS spectrograph, R ~ 2000 (FWHM ~ 150 km/s)
MASSFORMED = 10.0

# bagpipes/Cloudy names of the BPT lines (air wavelengths in the names)
BPT_LINE_NAMES = {
    "hb": "H  1  4861.32A",
    "oiii5007": "O  3  5006.84A",
    "ha": "H  1  6562.80A",
    "nii6583": "N  2  6583.45A",
}
BPT_WAVE_VAC = {
    "hb": agn_mod.W_HB,
    "oiii5007": agn_mod.W_OIII_5007,
    "ha": agn_mod.W_HA,
    "nii6583": agn_mod.W_NII_6583,
}


def model_wavelengths() -> tuple[np.ndarray, slice]:
    """The rest-frame (air) grid of the bagpipes model and the slice of its optical part."""

    def geom(lo, hi, r):
        n = int(np.ceil(np.log(hi / lo) / np.log1p(0.5 / r)))
        return lo * (1 + 0.5 / r) ** np.arange(n)

    parts = [
        geom(1.0, 912.0, 40),
        geom(912.0, OPT_LO_AA, 300),
        10 ** np.arange(np.log10(OPT_LO_AA), np.log10(OPT_HI_AA), LOG_STEP),
        geom(OPT_HI_AA, 4.0e5, 300),
        geom(4.0e5, 1.0e8, 20),
    ]
    n0 = parts[0].size + parts[1].size
    return np.concatenate(parts), slice(n0, n0 + parts[2].size)


#: log10 formed mass of the burst component when a galaxy has no burst (negligible next to 10^10)
NO_BURST_LOG_MASS = -3.0
COMPONENTS = ("bulge", "disk")
LSUN_ERG_S = 3.826e33  # bagpipes' solar luminosity


def _components(p: dict, comp: str, qpah: float, umin: float, gamma: float) -> dict:
    """bagpipes components of the bulge or the disk (a delayed-tau SFH plus a burst, always both)."""
    if comp == "bulge":
        zmet, age, tau, av = p["zmet_bulge"], p["bulge_age_gyr"], p["bulge_tau_gyr"], p["av_bulge"]
        burst_age, burst_mass = np.nan, NO_BURST_LOG_MASS
    else:
        zmet, age, tau, av = p["zmet_disk"], p["sfh_age_gyr"], p["sfh_tau_gyr"], p["av"]
        has_burst = p["burst_frac"] > 0
        burst_age = p["burst_age_gyr"] if has_burst else 1.0
        burst_mass = MASSFORMED + np.log10(p["burst_frac"]) if has_burst else NO_BURST_LOG_MASS
    out = {
        "redshift": p["z"],
        "t_bc": 0.01,
        "delayed": {"age": age, "tau": tau, "massformed": MASSFORMED, "metallicity": zmet},
        # qpah, umin, gamma MUST be inside the dust dict (bagpipes ignores them elsewhere)
        "dust": {"type": "Calzetti", "Av": av, "eta": p["eta"], "qpah": qpah, "umin": umin, "gamma": gamma},
    }
    if comp == "disk":  # the old bulge has no young stars: no burst, no HII regions (and half the cost)
        out["burst"] = {"age": burst_age, "massformed": burst_mass, "metallicity": zmet}
        out["nebular"] = {"logU": p["logU"], "metallicity": p["zmet_gas_neb"]}
    return out


def ffib_of(p: dict, comp: str) -> float:
    """Fraction of the bulge's (Sersic n = 4, r_e = 0.4 r_50) or the disk's (n = 1) light in the fiber."""
    if comp == "bulge":
        return fiber_fraction(p["r50_bulge_arcsec"], 4.0, p["seeing_fwhm_arcsec"])
    return fiber_fraction(p["r50_arcsec"], 1.0, p["seeing_fwhm_arcsec"])


def component_weights(p: dict) -> dict:
    """Weights of the bulge and disk models (each computed for 10^10 Msun formed in its delayed
    part) so that B/T is the bulge's share of the formed mass."""
    bt = p["bulge_to_total"]
    return {"bulge": bt, "disk": (1.0 - bt) / (1.0 + p["burst_frac"])}


class GalaxySimulator:
    """Builds the bagpipes model once; :meth:`simulate` turns parameters into a catalog row."""

    def __init__(self):
        import bagpipes

        wave, opt = model_wavelengths()
        self.wave = wave
        self.opt = opt

        class _Model(bagpipes.models.model_galaxy):
            def _get_wavelength_sampling(self_inner):  # noqa: N805
                return wave

            def _calculate_uvj_mags(self_inner):  # noqa: N805
                pass  # rest-frame UVJ colours are not used here: skip their filter integrals

        dummy = {  # any valid parameters: the model is built once and then only updated
            "zmet_bulge": 1.0,
            "bulge_age_gyr": 10.0,
            "bulge_tau_gyr": 0.5,
            "av_bulge": 0.05,
            "zmet_disk": 1.0,
            "zmet_gas_neb": 1.0,
            "sfh_age_gyr": 5.0,
            "sfh_tau_gyr": 2.0,
            "burst_frac": 0.0,
            "burst_age_gyr": 1.0,
            "av": 0.3,
            "eta": 2.0,
            "logU": -3.0,
            "z": 0.1,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.models = {c: _Model(_components(dummy, c, 2.0, 1.0, 0.01)) for c in COMPONENTS}
        self.model = self.models["disk"]  # the one with nebular emission
        self.config = bagpipes.config
        self._strip_optical_lines()
        self.wave_vac_opt = air_to_vac(wave[opt])
        self.phot_sdss = Photometer(wave, SDSS_FILTERS)
        self.phot_wise = Photometer(wave, WISE_FILTERS)
        # far-IR indices where only dust emits (used to recover the dust-emission normalization)
        self.fir = np.flatnonzero((wave > 6e5) & (wave < 3e6))

    def _strip_optical_lines(self) -> None:
        """Remove optical lines from bagpipes' nebular grid; remember them for Gaussian rendering."""
        cfg = self.config
        neb = self.model.nebular
        w = neb.wavelengths
        keep = []
        for i, lw in enumerate(cfg.line_wavs):
            if not (OPT_LO_AA <= lw <= OPT_HI_AA):
                continue
            ind = np.abs(w - lw * (1 + neb.velshift / 3e5)).argmin()
            if ind in (0, w.size - 1):
                continue
            width = (w[ind + 1] - w[ind - 1]) / 2
            neb.combined_grid[ind] -= neb.line_grid[i] / width
            keep.append(i)
        neb.combined_grid[neb.combined_grid < 0] = 0.0
        self.line_index = np.array(keep)
        self.line_wave_vac = air_to_vac(cfg.line_wavs[self.line_index])
        names = list(cfg.line_names)
        self.bpt_index = {k: names.index(v) for k, v in BPT_LINE_NAMES.items()}

    # ------------------------------------------------------------------------------------------
    def _component(self, p: dict, comp: str, dust: dict) -> dict:
        """One bagpipes evaluation (bulge or disk) at a placeholder U_min = 1; the dust emission is
        swapped for the energy-balance U_min later (:meth:`_heat_dust`)."""
        m = self.models[comp]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.update(_components(p, comp, dust["qpah"], 1.0, dust["gamma"]))
        spec = np.array(m.spectrum_full, dtype=float)
        e_ph = m.dust_emission.spectrum(dust["qpah"], 1.0, dust["gamma"])
        amp = float(np.median(spec[self.fir] / np.maximum(e_ph[self.fir], 1e-300)))
        n_lines = len(self.config.line_names)
        em = (
            np.fromiter(m.line_fluxes.values(), dtype=float, count=n_lines)
            if comp == "disk"
            else np.zeros(n_lines)
        )
        return {
            "spec": spec,
            "em": em,
            "amp": amp,
            "e_ph": e_ph,
            "sfr": float(m.sfh.sfr),
            "mstar": 10 ** float(m.sfh.stellar_mass),
        }

    def _heat_dust(self, p: dict, parts: dict, w: dict, scale: float, dust: dict) -> dict:
        """Energy-balance U_min per component (:mod:`.host`), true and with hidden deviates at zero;
        returns the host spectra (true, visible) in model units and the dust truth."""
        z = p["z"]
        lumfac = float(bagpipes_to_planck_lum_factor(z))
        to_lsun = scale * 4 * np.pi * lum_distance_cm(z) ** 2 * (1 + z) / LSUN_ERG_S
        out = {"host": 0.0, "host_vis": 0.0, "dust_em": 0.0, "m_dust": 0.0, "l_dust": 0.0}
        for c in COMPONENTS:
            d = parts[c]
            mstar = d["mstar"] * w[c] * scale * lumfac
            sfr = d["sfr"] * w[c] * scale * lumfac
            agb = c == "bulge" or p["quenched_draw"]
            m_d, m_d_vis = 0.0, 0.0
            if c == "disk":
                m_d += host_mod.ism_dust_mass(sfr, p["oh12"], p["tdep_hid"], p["hih2_hid"])
                m_d_vis += host_mod.ism_dust_mass(sfr, p["oh12"], 0.0, 0.0)
            if agb:
                kind = "bulge" if c == "bulge" else "quenched_disk"
                m_d += host_mod.agb_dust_mass(mstar, p["agb_dust_hid"], kind)
                m_d_vis += host_mod.agb_dust_mass(mstar, 0.0, kind)
            l_dust = d["amp"] * w[c] * to_lsun
            u = _clip_umin(host_mod.umin_of_mean_u(host_mod.mean_u(l_dust, m_d), dust["gamma"]))
            u_vis = _clip_umin(host_mod.umin_of_mean_u(host_mod.mean_u(l_dust, m_d_vis), dust["gamma_vis"]))
            e_true = self.model.dust_emission.spectrum(dust["qpah"], u, dust["gamma"])
            e_vis = self.model.dust_emission.spectrum(dust["qpah_vis"], u_vis, dust["gamma_vis"])
            out["host"] = out["host"] + w[c] * (d["spec"] + d["amp"] * (e_true - d["e_ph"]))
            out["host_vis"] = out["host_vis"] + w[c] * (d["spec"] + d["amp"] * (e_vis - d["e_ph"]))
            out["dust_em"] = out["dust_em"] + w[c] * d["amp"] * e_true
            out[f"umin_{c}"], out[f"umin_{c}_vis"] = u, u_vis
            out["m_dust"] += m_d
            out["l_dust"] += l_dust
        return out

    def simulate(self, p: dict) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
        """Simulate one galaxy.

        Parameters
        ----------
        p : dict
            Parameters from :func:`explorer.simulate.population.draw_galaxy`.

        Returns
        -------
        row : dict
            Catalog columns (observed and ``truth_*``) of this galaxy.
        flux_norm, weight : (3921,) float32
            Normalized spectrum and its inverse variance.
        ir : (3, n) float32
            Noiseless rest-frame 1-40 micron spectrum (stars, dust, AGN) in mJy on
            :data:`explorer.simulate.irspec.IR_WAVE_UM`.
        """
        z = p["z"]
        dust = dust_parameters(p)
        parts = {c: self._component(p, c, dust) for c in COMPONENTS}
        w = component_weights(p)
        hline = {c: parts[c]["em"][self.line_index] for c in COMPONENTS}

        # -- scale to the drawn total r magnitude --------------------------------------------
        w_sdss = self.phot_sdss.weights(z)
        lw_sdss = self.phot_sdss.line_weights(z, self.line_wave_vac)
        spec0 = sum(w[c] * parts[c]["spec"] for c in COMPONENTS)
        lines0 = sum(w[c] * hline[c] for c in COMPONENTS)
        r_host = float(fnu_to_ab((Photometer.fnu(w_sdss, spec0) + lw_sdss @ lines0)[2]))
        scale = 10 ** (-0.4 * (p["r_mag_total"] - r_host))
        mstar_model = sum(w[c] * parts[c]["mstar"] for c in COMPONENTS)
        sfr_model = sum(w[c] * parts[c]["sfr"] for c in COMPONENTS)
        mass = _mass_and_sfr(float(np.log10(mstar_model)), sfr_model, scale, z)
        heat = self._heat_dust(p, parts, w, scale, dust)
        mass["bulge_to_total"] = w["bulge"] * parts["bulge"]["mstar"] / mstar_model

        # -- AGN -------------------------------------------------------------------------------
        disk, torus = agn_mod.agn_continuum_flam(p, self.wave, z)
        a_w, a_f, a_s, a_broad = agn_mod.agn_lines(p, z)
        ffib = {c: ffib_of(p, c) for c in COMPONENTS}
        # gas ionised by old stars (post-AGB) in the fiber: LINER-like lines without an AGN
        old_fib = parts["bulge"]["spec"] * w["bulge"] * ffib["bulge"]
        old_fib = old_fib + parts["disk"]["spec"] * w["disk"] * ffib["disk"] * p["pah_old_fraction"]
        r_w, r_f, r_s = agn_mod.retired_lines(
            scale * float(np.interp(6564.6, self.wave_vac_opt, old_fib[self.opt])), z, p["gas_sigma_kms"]
        )
        is_agn_line = np.concatenate([np.ones(a_w.size, bool), np.zeros(r_w.size, bool)])
        a_w, a_f, a_s = np.concatenate([a_w, r_w]), np.concatenate([a_f, r_f]), np.concatenate([a_s, r_s])
        a_broad = np.concatenate([a_broad, np.zeros(r_w.size, bool)])

        # -- photometry (total: WISE and ugriz see everything; fiber: each component's aperture) --
        host_s = heat["host"] * scale
        fib_s = scale * sum(ffib[c] * w[c] * parts[c]["spec"] for c in COMPONENTS)
        hlines = scale * lines0
        hlines_fib = scale * sum(ffib[c] * w[c] * hline[c] for c in COMPONENTS)
        agn_cont = disk + torus
        lw_agn = self.phot_sdss.line_weights(z, a_w)
        fnu_tot = Photometer.fnu(w_sdss, host_s + agn_cont) + lw_sdss @ hlines + lw_agn @ a_f
        fnu_fib = Photometer.fnu(w_sdss, fib_s + agn_cont) + lw_sdss @ hlines_fib + lw_agn @ a_f
        phot = {"ugriz_tot": fnu_to_ab(fnu_tot), "ugriz_fib": fnu_to_ab(fnu_fib)}
        phot.update(self._wise_truth(p, host_s, heat["host_vis"] * scale, disk, torus))
        # light-weighted fiber fraction in r (what an aperture correction would use)
        ffib_r = float(10 ** (-0.4 * (phot["ugriz_fib"][2] - phot["ugriz_tot"][2])))

        # -- the fiber spectrum, observed ------------------------------------------------------
        spec_1e17 = self._fiber_spectrum(p, (fib_s + disk)[self.opt], hlines_fib, (a_w, a_f, a_s))
        rng = np.random.default_rng(p["noise_seed"])
        flux_norm, weight, norm = _observed_spectrum(spec_1e17, rng, p["spec_noise_scale"], z)

        # -- observed photometry -----------------------------------------------------------------
        mag_tot, err_tot = observe_sdss_mags(phot["ugriz_tot"], rng)
        mag_fib, err_fib = observe_sdss_mags(phot["ugriz_fib"], rng)
        wise = observe_wise(
            phot["wise_mjy_true"],
            rng,
            zero_point_mag=catalog_zero_points(p.get("catalog_seed", 0)),
            coverage=wise_coverage(p["ra_deg"], p["dec_deg"]),
            r50_arcsec=p["r50_arcsec"],
        )

        # -- truth lines (fiber, observed, attenuated; narrow components only) -------------------
        bpt, agn_share = {}, {}
        for key, idx in self.bpt_index.items():
            f = scale * sum(ffib[c] * w[c] * parts[c]["em"][idx] for c in COMPONENTS)
            sel = (~a_broad) & (np.abs(a_w - BPT_WAVE_VAC[key]) < 0.5)
            bpt[key] = (f + a_f[sel].sum()) * 1e17
            agn_share[key] = float(a_f[sel & is_agn_line].sum() * 1e17 / bpt[key]) if bpt[key] > 0 else 0.0

        mass["ms"] = float(speagle14_log_sfr(mass["log_mstar"], z))
        mass["agn_oiii_share"] = agn_share["oiii5007"]
        label = _class_label(p, mass)
        row = _observed_columns(p, norm, label, (mag_tot, err_tot), (mag_fib, err_fib), wise)
        truth = _truth_columns(p, mass, dust, ffib_r, bpt, phot)
        truth.update(_heating_truth(heat, ffib))
        row.update({f"truth_{k}": v for k, v in truth.items()})
        dust_s = heat["dust_em"] * scale
        ir = rest_ir_spectrum(self.wave, z, host_s - dust_s, dust_s, disk + torus)
        return row, flux_norm, weight, ir

    def _wise_truth(self, p: dict, host_s, host_vis_s, disk, torus) -> dict:
        """Noiseless WISE photometry, torus fractions, and the hidden part of the WISE magnitudes
        (``hidden_dmag``: against the same galaxy with every hidden deviate set to zero)."""
        z = p["z"]
        w_wise = self.phot_wise.weights(z)
        fnu_w_host = Photometer.fnu(w_wise, host_s)
        fnu_w_torus = Photometer.fnu(w_wise, torus)
        fnu_w_disk = Photometer.fnu(w_wise, disk)
        fnu_w = fnu_w_host + fnu_w_torus + fnu_w_disk
        wise_vega_true, wise_mjy_true = wise_fnu_to_vega_mjy(fnu_w)
        torus_frac = fnu_w_torus / fnu_w
        _, torus_vis = agn_mod.agn_continuum_flam(p, self.wave, z, visible=True)
        fnu_w_vis = Photometer.fnu(w_wise, host_vis_s + torus_vis + disk)
        hidden_dmag = -2.5 * np.log10(fnu_w / fnu_w_vis)
        return {
            "wise_vega_true": wise_vega_true,
            "wise_mjy_true": wise_mjy_true,
            "torus_frac": torus_frac,
            "hidden_dmag": hidden_dmag,
        }

    def _fiber_spectrum(self, p: dict, cont, hlines_fib, agn_lines: tuple) -> np.ndarray:
        """Noiseless fiber spectrum on the observed grid (1e-17 erg/s/cm^2/A): the continuum
        ``cont`` (optical part of the model grid) broadened by the stellar velocity dispersion,
        plus the host's lines inside the fiber ``hlines_fib`` and the AGN lines
        ``(wavelength, flux, sigma)`` as Gaussians."""
        z = p["z"]
        a_w, a_f, a_s = agn_lines
        sig_pix = p["veldisp_kms"] / (299792.458 * np.log(10) * LOG_STEP)
        half = int(np.ceil(5 * sig_pix))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / sig_pix) ** 2)
        cont = np.convolve(cont, k / k.sum(), mode="same")
        spec = np.interp(WAVE_OBS_VAC_AA, self.wave_vac_opt * (1 + z), cont)
        sig_gas = np.hypot(p["gas_sigma_kms"], SIGMA_INSTRUMENT_KMS)
        strong = hlines_fib > 1e-4 * max(hlines_fib.max(), 1e-300)
        render_lines(self.line_wave_vac[strong] * (1 + z), hlines_fib[strong], sig_gas, out=spec)
        if a_w.size:
            render_lines(a_w * (1 + z), a_f, np.hypot(a_s, SIGMA_INSTRUMENT_KMS), out=spec)
        return spec * 1e17


def dust_parameters(p: dict) -> dict:
    """PAH and PDR parameters of a galaxy: true (visible part times hidden deviates) and visible,
    clipped to bagpipes' grid. U_min follows from energy balance (:meth:`GalaxySimulator._heat_dust`)."""
    gamma_vis = host_mod.gamma_visible(p["target_log_ssfr"] - np.log10(1.0 - p["bulge_to_total"]))
    lo, hi = QPAH_MIN + 1e-3, QPAH_MAX - 1e-3
    return {
        "qpah": float(np.clip(p["qpah_vis"] * 10 ** p["qpah_hid"], lo, hi)),
        "gamma": float(np.clip(gamma_vis * 10 ** p["gamma_hid"], 0.0, 0.99)),
        "qpah_vis": float(np.clip(p["qpah_vis"], lo, hi)),
        "gamma_vis": float(gamma_vis),
    }


def _clip_umin(u: float) -> float:
    return float(np.clip(u, UMIN_MIN + 1e-3, UMIN_MAX - 1e-3))


def _heating_truth(heat: dict, ffib: dict) -> dict:
    """Truth columns of the dust budget and the two apertures."""
    return {
        "umin": heat["umin_disk"],
        "umin_visible": heat["umin_disk_vis"],
        "umin_bulge": heat["umin_bulge"],
        "log_mdust": float(np.log10(max(heat["m_dust"], 1e-3))),
        "log_ldust": float(np.log10(max(heat["l_dust"], 1e-3))),
        "fiber_frac_bulge": ffib["bulge"],
        "fiber_frac_disk": ffib["disk"],
    }


def _mass_and_sfr(log_mstar_model: float, sfr_model: float, scale: float, z: float) -> dict:
    """log M*, log SFR and log sSFR (floored at -14) of the model rescaled by ``scale``."""
    lumfac = float(bagpipes_to_planck_lum_factor(z))
    log_mstar = log_mstar_model + np.log10(scale * lumfac)
    sfr = sfr_model * scale * lumfac
    log_sfr = float(np.log10(max(sfr, 1e-30)))
    log_ssfr = max(log_sfr - log_mstar, -14.0)
    log_sfr = log_ssfr + log_mstar
    return {"log_mstar": log_mstar, "log_sfr": log_sfr, "log_ssfr": log_ssfr}


def _observed_spectrum(spec_1e17: np.ndarray, rng, noise_scale: float, z: float):
    """(flux_norm, weight, norm): the noisy fiber spectrum normalized like spender (float32).

    Only the noisy spectrum is used: where spender's rest-frame window gives no valid median, the
    median of the good pixels' noisy flux, and 1.0 if that is not positive either (the noiseless
    spectrum is truth and must not leak into an observed column).
    """
    flux, ivar = observe_spectrum(spec_1e17, rng, noise_scale)
    norm = spender_norm(flux, ivar, z)
    if not np.isfinite(norm) or norm <= 0:
        good = ivar > 0
        norm = float(np.median(flux[good])) if good.any() else float("nan")
    if not np.isfinite(norm) or norm <= 0:
        norm = 1.0
    flux_norm = (flux / norm).astype(np.float32)
    weight = (ivar * norm**2).astype(np.float32)
    return flux_norm, weight, norm


def _class_label(p: dict, mass: dict) -> str:
    """Class label: agn (an AGN that gives most of the fiber's [OIII] 5007), quenched (sSFR < 1e-11/yr
    or 1 dex below the main sequence), star-forming."""
    if p["has_agn"] and mass["agn_oiii_share"] > 0.5:
        return "agn"
    if mass["log_ssfr"] < -11.0 or mass["log_sfr"] < mass["ms"] - 1.0:
        return "quenched"
    return "star-forming"


def _observed_columns(p: dict, norm: float, label: str, total: tuple, fiber: tuple, wise: dict) -> dict:
    """The observed catalog columns: position, redshift, class, ugriz (total, fiber), WISE."""
    z = p["z"]
    (mag_tot, err_tot), (mag_fib, err_fib) = total, fiber
    row = {
        "ra_deg": p["ra_deg"],
        "dec_deg": p["dec_deg"],
        "z": z,
        "z_err": 2e-5 * (1 + z),
        "spec_norm": norm,
        "class_label": label,
    }
    for i, b in enumerate("ugriz"):
        row[f"mag_{b}_total"] = float(mag_tot[i])
        row[f"magerr_{b}_total"] = float(err_tot[i])
        row[f"mag_{b}_fiber"] = float(mag_fib[i])
        row[f"magerr_{b}_fiber"] = float(err_fib[i])
    for i in range(4):
        b = f"w{i + 1}"
        row[f"{b}_mag_vega"] = float(wise["mag_vega"][i])
        row[f"{b}_sigma_mag"] = float(wise["sigma_mag"][i])
        row[f"{b}_flux_mjy"] = float(wise["flux_mjy"][i])
        row[f"{b}_flux_err_mjy"] = float(wise["flux_err_mjy"][i])
        row[f"{b}_is_ul"] = bool(wise["is_ul"][i])
    row["ph_qual"] = wise["ph_qual"]
    return row


def _truth_columns(p: dict, mass: dict, dust: dict, ffib: float, bpt: dict, phot: dict) -> dict:
    """The truth columns (without their ``truth_`` prefix)."""
    log_mstar, log_sfr = mass["log_mstar"], mass["log_sfr"]
    truth = {
        "log_mstar": log_mstar,
        "log_sfr": log_sfr,
        "log_ssfr": mass["log_ssfr"],
        "delta_ms": log_sfr - mass["ms"],
        "zmet_stellar": p["zmet_stellar"],
        "oh12": p["oh12"],
        "av": p["av"],
        "av_gas": p["av"] * p["eta"],
        "qpah": dust["qpah"],
        "qpah_visible": dust["qpah_vis"],
        "gamma": dust["gamma"],
        "gamma_visible": dust["gamma_vis"],
        "logu": p["logU"],
        "sfh_age_gyr": p["sfh_age_gyr"],
        "sfh_tau_gyr": p["sfh_tau_gyr"],
        "burst_age_gyr": p["burst_age_gyr"],
        "burst_frac": p["burst_frac"],
        "bulge_to_total": mass["bulge_to_total"],
        "zmet_bulge": p["zmet_bulge"],
        "zmet_disk": p["zmet_disk"],
        "av_bulge": p["av_bulge"],
        "pah_old_fraction": p["pah_old_fraction"],
        "veldisp_kms": p["veldisp_kms"],
        "r50_kpc": p["r50_kpc"],
        "r50_arcsec": p["r50_arcsec"],
        "fiber_frac": ffib,
        # AGN: 0 / NaN convention -- agn_type 0 means none and then every AGN column is NaN
        # catalog L_bol (X-ray-like, with the hidden bolometric-correction scatter) and the
        # disk luminosity that powers the narrow lines and the torus
        "log_lbol_agn": p["log_lbol_agn"] + p["bolcorr_hid"],
        "log_ldisk_agn": p["log_lbol_agn"],
        "agn_type": int(p["agn_type"]),
        "agn_liner": bool(p["agn_liner"]),
        "agn_oiii_share": mass["agn_oiii_share"],
        "log_edd": p["log_edd"],
        "torus_fade": p["torus_fade"],
        "covering_factor": p["covering_factor"],
        "torus_alpha": p["torus_alpha"],
        "log_loiii_agn": p["log_loiii"],
        "lbol_agn_hidden_dex": p["lbol_hid"] + p["bolcorr_hid"] if p["has_agn"] else np.nan,
        "covering_factor_hidden_dex": p["cf_hid"] if p["has_agn"] else np.nan,
        "line_hb": bpt["hb"],
        "line_oiii5007": bpt["oiii5007"],
        "line_ha": bpt["ha"],
        "line_nii6583": bpt["nii6583"],
        "r_mag_model": float(phot["ugriz_tot"][2]),
    }
    for i in range(4):
        b = f"w{i + 1}"
        truth[f"{b}_flux_mjy"] = float(phot["wise_mjy_true"][i])
        truth[f"{b}_mag_vega"] = float(phot["wise_vega_true"][i])
        truth[f"{b}_torus_frac"] = float(phot["torus_frac"][i])
        truth[f"{b}_hidden_dmag"] = float(phot["hidden_dmag"][i])
    for i, b in enumerate("ugriz"):
        truth[f"mag_{b}_total"] = float(phot["ugriz_tot"][i])
        truth[f"mag_{b}_fiber"] = float(phot["ugriz_fib"][i])
    return truth
