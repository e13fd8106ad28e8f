"""Talk figures of the app that are not attributions: the IR SED with its predicted posterior.

Pure functions: they take the arrays of :func:`explorer.app.compute.sed_data` and return a
:class:`matplotlib.figure.Figure` (no pyplot, no widget). The app's export buttons save exactly
this figure with :func:`explorer.attribution.save_figure`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..constants import WISE_BANDS
from .style import OKABE_ITO


def plot_sed(sed: dict, *, show_truth: bool = True, title: str | None = None, figsize=(6.4, 4.4)) -> Figure:
    """Observed WISE SED (mJy) against the predicted posterior.

    Parameters
    ----------
    sed : dict
        From :func:`explorer.app.compute.sed_data`.
    show_truth : bool
        Draw the true noiseless fluxes when the row has them (simulated galaxies).

    Returns
    -------
    matplotlib.figure.Figure (``fig.irox_labels``: the legend labels drawn)
    """
    wave = np.asarray(sed["wave_um"], float)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.set_xscale("log")
    ax.set_yscale("log")
    if sed.get("has_prediction"):
        q = np.asarray(sed["q_mjy"])
        ax.fill_between(wave, q[0], q[4], color=OKABE_ITO[2], alpha=0.25, lw=0, label="95% predicted")
        ax.fill_between(wave, q[1], q[3], color=OKABE_ITO[2], alpha=0.5, lw=0, label="68% predicted")
        for k, d in enumerate(np.asarray(sed["draws_mjy"])):
            ax.plot(
                wave, d, color=OKABE_ITO[5], alpha=0.2, lw=0.7, label="posterior draws" if k == 0 else None
            )
        ax.plot(wave, q[2], color=OKABE_ITO[5], lw=2.2, label="predicted median")
    if sed.get("has_sedfit"):  # the separable SED fit (explorer.sedfit), in its own colour
        q = np.asarray(sed["sed_q_mjy"])
        ax.fill_between(wave, q[1], q[3], color=OKABE_ITO[1], alpha=0.3, lw=0, label="SED fit 68%")
        for k, d in enumerate(np.asarray(sed["sed_draws_mjy"])):
            ax.plot(wave, d, color=OKABE_ITO[1], alpha=0.3, lw=0.7, ls="--",
                    label="SED-fit draws (bagpipes)" if k == 0 else None)  # fmt: skip
    flux, err, ul = np.asarray(sed["flux_mjy"]), np.asarray(sed["err_mjy"]), np.asarray(sed["is_ul"], bool)
    det = ~ul & np.isfinite(flux)
    if det.any():
        ax.errorbar(
            wave[det], flux[det], yerr=np.where(np.isfinite(err[det]), err[det], 0), fmt="o",
            color=OKABE_ITO[6], ms=6, capsize=3, label="WISE observed",
        )  # fmt: skip
    lim = ul & np.isfinite(flux)
    if lim.any():
        ax.scatter(
            wave[lim], flux[lim], marker="v", s=70, color=OKABE_ITO[6], label="95% upper limit", zorder=3
        )
    truth = np.asarray(sed.get("truth_mjy", np.full(4, np.nan)), float)
    if show_truth and np.isfinite(truth).any():
        ok = np.isfinite(truth)
        ax.scatter(
            wave[ok], truth[ok], marker="x", s=60, color=OKABE_ITO[0], label="true (noiseless)", zorder=4
        )
    if sed.get("has_prediction"):
        for k, b in enumerate(WISE_BANDS):
            chi = sed["chi"][k]
            txt = f"{b}\nχ={chi:+.1f}" if np.isfinite(chi) else b
            ax.annotate(txt, (wave[k], 0.02), xycoords=("data", "axes fraction"), ha="center", fontsize=8)
    ax.set_xlim(2.5, 30.0)
    ax.set_xlabel("wavelength (µm)")
    ax.set_ylabel("flux density (mJy)")
    ax.legend(fontsize=7.5, loc="upper right", frameon=False)
    if title is None:
        title = f"{sed.get('id', '')}  z = {sed.get('z', float('nan')):.4f}  —  WISE SED"
    ax.set_title(title, fontsize=10, loc="left")
    fig.irox_labels = [t.get_text() for t in ax.get_legend().get_texts()]
    return fig
