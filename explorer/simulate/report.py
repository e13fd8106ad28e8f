"""Diagnostic figures of a simulated catalog (slide quality PNGs).

Every figure is made by a pure function ``plot_*(table, ...) -> Figure``; :func:`make_report`
saves them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..constants import LINES, WAVE_OBS_VAC_AA

# Okabe & Ito colour-blind-safe palette
CLASS_STYLE = {
    "star-forming": dict(color="#0072B2", marker="o", label="star-forming"),
    "quenched": dict(color="#D55E00", marker="s", label="quenched"),
    "agn": dict(color="#CC79A7", marker="^", label="AGN"),
}
DPI = 150
_LABELLED_ABSORPTION = ("CaII K", "CaII H", "G band", "MgI b", "NaI D", "CaII triplet")


def _classes(table):
    lab = np.asarray(table["class_label"]).astype(str)
    return [(k, lab == k) for k in CLASS_STYLE if np.any(lab == k)]


def _scatter(ax, x, y, table, s=9, alpha=0.55):
    for k, sel in _classes(table):
        st = CLASS_STYLE[k]
        ok = sel & np.isfinite(x) & np.isfinite(y)
        ax.scatter(
            x[ok],
            y[ok],
            s=s,
            alpha=alpha,
            color=st["color"],
            marker=st["marker"],
            lw=0,
            label=f"{st['label']} ({ok.sum()})",
        )
    ax.legend(frameon=False, fontsize=9, markerscale=2)


def plot_wise_colors(table):
    """WISE W1-W2 versus W2-W3 (Vega, detections in W1-W3) with the Stern et al. (2012) AGN cut."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    det = ~(np.asarray(table["w1_is_ul"]) | np.asarray(table["w2_is_ul"]) | np.asarray(table["w3_is_ul"]))
    w12 = np.where(det, table["w1_mag_vega"] - table["w2_mag_vega"], np.nan)
    w23 = np.where(det, table["w2_mag_vega"] - table["w3_mag_vega"], np.nan)
    _scatter(axes[0], w23, w12, table)
    axes[0].set_title("observed (W1, W2, W3 detected)")
    t12 = table["truth_w1_mag_vega"] - table["truth_w2_mag_vega"]
    t23 = table["truth_w2_mag_vega"] - table["truth_w3_mag_vega"]
    _scatter(axes[1], t23, t12, table)
    axes[1].set_title("truth (noiseless)")
    for ax in axes:
        ax.axhline(0.8, color="k", ls="--", lw=1)
        ax.text(
            0.02, 0.82, "Stern+12: W1$-$W2 = 0.8", transform=ax.get_yaxis_transform(), fontsize=9, va="bottom"
        )
        ax.set_xlabel("W2 $-$ W3 (Vega mag)")
        ax.set_xlim(-0.5, 5.5)
        ax.set_ylim(-0.5, 2.2)
    axes[0].set_ylabel("W1 $-$ W2 (Vega mag)")
    fig.tight_layout()
    return fig


def kauffmann03(x):
    """Kauffmann et al. (2003) star-forming/AGN demarcation, log [OIII]/Hb vs log [NII]/Ha."""
    x = np.asarray(x, float)
    return np.where(x < 0.05, 0.61 / (x - 0.05) + 1.3, np.nan)


def kewley01(x):
    """Kewley et al. (2001) maximum-starburst line."""
    x = np.asarray(x, float)
    return np.where(x < 0.47, 0.61 / (x - 0.47) + 1.19, np.nan)


def plot_bpt(table):
    """BPT diagram from the truth (noiseless) narrow-line fluxes in the fiber."""
    import matplotlib.pyplot as plt

    with np.errstate(divide="ignore", invalid="ignore"):
        n2 = np.log10(table["truth_line_nii6583"] / table["truth_line_ha"])
        o3 = np.log10(table["truth_line_oiii5007"] / table["truth_line_hb"])
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    _scatter(ax, n2, o3, table)
    x = np.linspace(-2.0, 0.04, 200)
    ax.plot(x, kauffmann03(x), "k--", lw=1.2, label="Kauffmann+03")
    x = np.linspace(-2.0, 0.46, 200)
    ax.plot(x, kewley01(x), "k-", lw=1.2, label="Kewley+01")
    ax.set_xlim(-1.6, 0.6)
    ax.set_ylim(-1.3, 1.4)
    ax.set_xlabel(r"log [NII]$\lambda$6583 / H$\alpha$")
    ax.set_ylabel(r"log [OIII]$\lambda$5007 / H$\beta$")
    ax.legend(frameon=False, fontsize=9, markerscale=2, loc="lower left")
    ax.set_title('BPT (truth line fluxes, 3" fiber)')
    fig.tight_layout()
    return fig


def plot_sfms(table):
    """Stellar mass versus SFR with the Speagle et al. (2014) main sequence at the median z."""
    import matplotlib.pyplot as plt

    from .population import speagle14_log_sfr

    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    _scatter(ax, table["truth_log_mstar"], table["truth_log_sfr"], table)
    zmed = float(np.median(table["z"]))
    m = np.linspace(9.0, 12.0, 50)
    ms = speagle14_log_sfr(m, zmed)
    ax.plot(m, ms, "k-", lw=1.5, label=f"Speagle+14, z = {zmed:.2f}")
    ax.fill_between(m, ms - 0.3, ms + 0.3, color="0.5", alpha=0.2, lw=0)
    ax.set_xlabel(r"log M$_*$ (M$_\odot$)")
    ax.set_ylabel(r"log SFR (M$_\odot$ yr$^{-1}$, 100 Myr)")
    ax.set_xlim(9.0, 12.0)
    ax.set_ylim(-4.0, 2.0)
    ax.legend(frameon=False, fontsize=9, markerscale=2, loc="lower right")
    fig.tight_layout()
    return fig


def plot_mass_metallicity(table):
    """Stellar (Gallazzi+05) and gas-phase (Tremonti+04) mass-metallicity relations."""
    import matplotlib.pyplot as plt

    from .population import gallazzi05_log_zstar, tremonti04_oh

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    m = np.linspace(9.0, 12.0, 50)
    _scatter(axes[0], table["truth_log_mstar"], np.log10(table["truth_zmet_stellar"]), table)
    axes[0].plot(m, gallazzi05_log_zstar(m), "k-", lw=1.5, label="Gallazzi+05")
    axes[0].set_ylabel(r"log Z$_*$ / Z$_\odot$")
    _scatter(axes[1], table["truth_log_mstar"], table["truth_oh12"], table)
    axes[1].plot(m, tremonti04_oh(m), "k-", lw=1.5, label="Tremonti+04")
    axes[1].set_ylabel("12 + log(O/H)  (T04 scale)")
    for ax in axes:
        ax.set_xlabel(r"log M$_*$ (M$_\odot$)")
        ax.legend(frameon=False, fontsize=9, markerscale=2)
    fig.tight_layout()
    return fig


def plot_qpah(table):
    """q_PAH versus gas metallicity, with the visible (no hidden scatter) relation."""
    import matplotlib.pyplot as plt

    from .host import qpah_of_metallicity
    from .population import HIDDEN_SCATTER

    fig, ax = plt.subplots(figsize=(6.2, 5.0))
    _scatter(ax, table["truth_oh12"], table["truth_qpah"], table)
    oh = np.linspace(8.2, 9.5, 100)
    ax.plot(
        oh,
        qpah_of_metallicity(oh),
        "k-",
        lw=1.5,
        label=f"metallicity relation, all stars older than 0.5 Gyr (hidden {HIDDEN_SCATTER['qpah_dex']:.2f} dex)",
    )
    ax.set_xlabel("12 + log(O/H)  (T04 scale)")
    ax.set_ylabel(r"q$_{\rm PAH}$ (%)")
    ax.legend(frameon=False, fontsize=9, markerscale=2, loc="lower right")
    fig.tight_layout()
    return fig


def plot_example_spectra(catalog, n_per_class: int = 2, seed: int = 0):
    """Observed-frame fiber spectra of a few galaxies of each class, with line markers."""
    import matplotlib.pyplot as plt

    table = catalog.table
    rng = np.random.default_rng(seed)
    picks = []
    for k, sel in _classes(table):
        idx = np.flatnonzero(sel)
        picks += [(k, int(i)) for i in rng.choice(idx, size=min(n_per_class, idx.size), replace=False)]
    fig, axes = plt.subplots(len(picks), 1, figsize=(11, 2.3 * len(picks)), squeeze=False)
    for ax, (k, i) in zip(axes[:, 0], picks, strict=True):
        sp = catalog.spectrum(i)
        good = sp.weight > 0
        flux = np.where(good, sp.flux * sp.norm, np.nan)
        ax.plot(WAVE_OBS_VAC_AA, flux, color=CLASS_STYLE[k]["color"], lw=0.6)
        lo, hi = np.nanpercentile(flux, [0.5, 99.7])
        ax.set_ylim(min(lo, 0) - 0.05 * (hi - lo), hi + 0.15 * (hi - lo))
        for line in LINES:
            wo = line.center_aa * (1 + sp.z)
            if not WAVE_OBS_VAC_AA[0] < wo < WAVE_OBS_VAC_AA[-1]:
                continue
            for w in line.wave_vac_aa:
                ax.axvline(w * (1 + sp.z), color="0.6", lw=0.5, ls=":", zorder=0)
            if line.group != "absorption" or line.name in _LABELLED_ABSORPTION:
                ax.text(
                    wo,
                    0.98,
                    line.name,
                    transform=ax.get_xaxis_transform(),
                    fontsize=6,
                    rotation=90,
                    ha="center",
                    va="top",
                    color="0.35",
                )
        ax.set_xlim(WAVE_OBS_VAC_AA[0], WAVE_OBS_VAC_AA[-1])
        ax.set_ylabel(r"f$_\lambda$ (10$^{-17}$ erg s$^{-1}$ cm$^{-2}$ $\AA^{-1}$)", fontsize=8)
        ax.text(
            0.005,
            0.04,
            f"{sp.id}  {CLASS_STYLE[k]['label']}  z = {sp.z:.3f}  r$_{{fiber}}$ = {table['mag_r_fiber'][i]:.2f}",
            transform=ax.transAxes,
            fontsize=8,
            va="bottom",
            bbox=dict(facecolor="white", alpha=0.8, lw=0),
        )
    axes[-1, 0].set_xlabel(r"observed vacuum wavelength ($\AA$)")
    fig.tight_layout()
    return fig


def landmarks(table) -> dict:
    """The physics landmarks of a simulated catalog (checked by the tests on the demo catalog).

    Returns
    -------
    dict
        ``w12_median_nonagn`` (observed W1-W2 Vega of non-AGN, W1 and W2 detected; expected 0-0.4),
        ``frac_torus_dominated_stern`` (fraction of galaxies with >= 50 % torus light in W2 whose
        observed W1-W2 >= 0.8; expected >= 0.8) and its ``_truth`` twin (noiseless colours),
        ``w23_median_quenched`` / ``w23_median_sf`` (observed W2-W3 Vega of galaxies detected in W2
        and W3, as in the colour-colour diagrams of Wright et al. 2010 and Jarrett et al. 2011;
        expected < 1.5 and > 2.5) and ``_truth`` twins (every galaxy of the class),
        ``frac_sf_below_kauffmann`` and ``frac_agn_above_kewley`` (truth line fluxes),
        ``frac_w3_ul_quenched`` / ``frac_w4_ul_quenched`` and the class fractions.
    """
    t = table
    lab = np.asarray(t["class_label"]).astype(str)
    sf, q, agn = lab == "star-forming", lab == "quenched", lab == "agn"
    w12 = np.asarray(t["w1_mag_vega"] - t["w2_mag_vega"], float)
    w23 = np.asarray(t["w2_mag_vega"] - t["w3_mag_vega"], float)
    tw12 = np.asarray(t["truth_w1_mag_vega"] - t["truth_w2_mag_vega"], float)
    tw23 = np.asarray(t["truth_w2_mag_vega"] - t["truth_w3_mag_vega"], float)
    det12 = ~(np.asarray(t["w1_is_ul"], bool) | np.asarray(t["w2_is_ul"], bool))
    det23 = ~(np.asarray(t["w2_is_ul"], bool) | np.asarray(t["w3_is_ul"], bool))
    torus = np.asarray(t["truth_w2_torus_frac"], float) >= 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        n2 = np.log10(t["truth_line_nii6583"] / t["truth_line_ha"])
        o3 = np.log10(t["truth_line_oiii5007"] / t["truth_line_hb"])
    below_k = (n2 < 0.05) & (o3 < kauffmann03(np.minimum(n2, 0.04)))
    above_kew = (n2 >= 0.47) | (o3 > kewley01(np.minimum(n2, 0.46)))

    def frac(x):
        return float(np.mean(x)) if np.size(x) else float("nan")

    def med(x):
        return float(np.median(x)) if np.size(x) else float("nan")

    return {
        "n": int(lab.size),
        "frac_star_forming": frac(sf),
        "frac_quenched": frac(q),
        "frac_agn": frac(agn),
        "w12_median_nonagn": med(w12[~agn & det12]),
        "w12_median_nonagn_truth": med(tw12[~agn]),
        "n_torus_dominated_w2": int(torus.sum()),
        "frac_torus_dominated_stern": frac(w12[torus & det12] >= 0.8),
        "frac_torus_dominated_stern_truth": frac(tw12[torus] >= 0.8),
        "w23_median_quenched": med(w23[q & det23]),
        "w23_median_sf": med(w23[sf & det23]),
        "w23_median_quenched_truth": med(tw23[q]),
        "w23_median_sf_truth": med(tw23[sf]),
        "frac_sf_below_kauffmann": frac(below_k[sf]),
        "frac_agn_above_kewley": frac(above_kew[agn]),
        "frac_w3_ul_quenched": frac(np.asarray(t["w3_is_ul"], bool)[q]),
        "frac_w4_ul_quenched": frac(np.asarray(t["w4_is_ul"], bool)[q]),
    }


def make_report(catalog_path: Path, out_dir: Path) -> list[Path]:
    """Write the diagnostic PNGs of a simulated catalog.

    Parameters
    ----------
    catalog_path : Path
        A simulated catalog (with ``truth_*`` columns).
    out_dir : Path
        Folder for the PNGs (created).

    Returns
    -------
    list of Path
        The written files: six PNGs and ``summary.json`` (:func:`landmarks` and
        :func:`explorer.simulate.population.hidden_scatter_floors`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..catalog import Catalog
    from ..errors import CatalogError

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    with Catalog(catalog_path) as cat:
        table = cat.table
        if "truth_log_mstar" not in table:
            raise CatalogError(f"{catalog_path}: not a simulated catalog (no truth_* columns)")
        figs = {
            "wise_colors.png": plot_wise_colors(table),
            "bpt.png": plot_bpt(table),
            "sfms.png": plot_sfms(table),
            "mass_metallicity.png": plot_mass_metallicity(table),
            "qpah_metallicity.png": plot_qpah(table),
            "example_spectra.png": plot_example_spectra(cat),
        }
        for name, fig in figs.items():
            p = out_dir / name
            fig.savefig(p, dpi=DPI)
            plt.close(fig)
            paths.append(p)
        from .population import hidden_scatter_floors

        summary = {"landmarks": landmarks(table), "hidden_scatter_floors": hidden_scatter_floors(table)}
        p = out_dir / "summary.json"
        p.write_text(json.dumps(summary, indent=1, default=float))
        paths.append(p)
    return paths
