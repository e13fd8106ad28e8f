"""The panchromatic figure of issue 15: optical spectrum and ugriz, WISE, the predicted mid-IR spectrum.

Two pure functions, like :mod:`explorer.app.figures`: :func:`panchromatic_data` turns one galaxy's
:class:`~explorer.ml.midir.SpectrumPosterior` and its photometry into plain arrays, and
:func:`plot_panchromatic` draws them on a log wavelength axis in micron (observed frame), as f_nu
or nu f_nu, with the PAH and silicate features labelled. The app shows the figure; an export
button saves the same figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..constants import WISE_BANDS, WISE_F0_JY, WISE_WAVE_UM
from ..ml.midir import OUTPUT_RANGE_UM, PAH_UM, SILICATE_UM, draw_quantiles, in_range
from .style import OKABE_ITO

#: effective wavelengths of SDSS ugriz (micron; Fukugita et al. 1996)
SDSS_WAVE_UM = np.array([0.3551, 0.4686, 0.6166, 0.7480, 0.8932])
C_AA_S = 2.99792458e18
C_UM_HZ = 2.99792458e14


def panchromatic_data(post, mode: str, *, optical_wave_aa=None, optical_flam=None, ugriz_ab=None, wise_mag=None,
                      wise_sigma=None, wise_is_ul=None, truth_log_fnu=None, n_draws: int = 1000, n_show: int = 5,
                      seed: int = 0) -> dict:  # fmt: skip
    """Arrays of the panchromatic figure for ONE galaxy (observed-frame wavelengths in micron, f_nu in mJy).

    Parameters
    ----------
    post : SpectrumPosterior of one galaxy; mode : its mode (``optical``, ``optical+wise``, ``photometry``)
    optical_wave_aa, optical_flam : the observed fiber spectrum, f_lambda in 1e-17 erg/s/cm^2/A
    ugriz_ab : (5,) total AB magnitudes; wise_mag, wise_sigma, wise_is_ul : (4,) catalog W1-W4
    truth_log_fnu : (W,) the noiseless log10 f_nu (simulated catalogs)
    """
    z = float(post.z[0])
    sel = in_range(post.wave_um, OUTPUT_RANGE_UM)
    draws = post.sample_log(n_draws, seed)[:, :, sel]
    out = {"z": z, "mode": mode, "note": post.notes[0], "wave_um": post.wave_um[sel] * (1 + z)}
    out["q_mjy"] = 10.0 ** draw_quantiles(draws, post.level_probs([0.025, 0.16, 0.5, 0.84, 0.975]))[:, 0]
    out["draws_mjy"] = 10.0 ** draws[0, :n_show]
    if truth_log_fnu is not None:
        out["truth_mjy"] = 10.0 ** np.asarray(truth_log_fnu)[sel]
    if optical_wave_aa is not None and optical_flam is not None:
        w = np.asarray(optical_wave_aa, float)
        out["optical_wave_um"] = w / 1e4
        out["optical_mjy"] = np.asarray(optical_flam, float) * 1e-17 * w**2 / C_AA_S * 1e26
    if ugriz_ab is not None:
        out["ugriz_mjy"] = 3631e3 * 10 ** (-0.4 * np.asarray(ugriz_ab, float))
    if wise_mag is not None:
        mag = np.asarray(wise_mag, float)
        f = WISE_F0_JY * 1e3 * 10 ** (-0.4 * mag)
        sig = np.asarray(wise_sigma, float) if wise_sigma is not None else np.full(4, np.nan)
        out.update(wise_mjy=f, wise_err_mjy=f * sig / 1.0857, wise_is_ul=np.asarray(wise_is_ul, bool))
    return out


#: axis label of each ``per`` (f_nu in mJy, nu f_nu in W/m^2)
PER_LABELS = {"fnu": "f_ν (mJy)", "nufnu": "ν f_ν (W m⁻²)"}


def per_flux(wave_um, mjy, per: str) -> np.ndarray:
    """f_nu in mJy as plotted: unchanged (``fnu``) or nu f_nu in W/m^2 (``nufnu``; 1 mJy = 1e-29 W/m^2/Hz)."""
    if per == "fnu":
        return np.asarray(mjy, float)
    return np.asarray(mjy, float) * 1e-29 * C_UM_HZ / np.asarray(wave_um, float)


def plot_panchromatic(data: dict, *, per: str = "fnu", show_truth: bool = True, title: str | None = None,
                      figsize=(7.5, 4.4)) -> Figure:  # fmt: skip
    """Optical to mid-IR on one log axis (see the module docstring); ``per``: ``fnu`` (mJy) or ``nufnu`` (W/m^2)."""
    if per not in ("fnu", "nufnu"):
        raise ValueError(f"per must be 'fnu' or 'nufnu', got {per!r}")

    def y(wave_um, mjy):
        return per_flux(wave_um, mjy, per)

    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.set_xscale("log")
    ax.set_yscale("log")
    w, q = data["wave_um"], data["q_mjy"]
    ax.fill_between(w, y(w, q[0]), y(w, q[4]), color=OKABE_ITO[2], alpha=0.25, lw=0, label="95% predicted")
    ax.fill_between(w, y(w, q[1]), y(w, q[3]), color=OKABE_ITO[2], alpha=0.5, lw=0, label="68% predicted")
    for k, d in enumerate(data.get("draws_mjy", [])):
        ax.plot(
            w, y(w, d), color=OKABE_ITO[5], alpha=0.3, lw=0.7, label="posterior draws" if k == 0 else None
        )
    ax.plot(w, y(w, q[2]), color=OKABE_ITO[5], lw=2.0, label=f"predicted median ({data['mode']})")
    if show_truth and "truth_mjy" in data:
        ax.plot(w, y(w, data["truth_mjy"]), color=OKABE_ITO[0], lw=1.0, ls="--", label="true (noiseless)")
    if "optical_mjy" in data:
        ow, of = data["optical_wave_um"], data["optical_mjy"]
        ok = np.isfinite(of) & (of > 0)
        ax.plot(ow[ok], y(ow[ok], of[ok]), color=OKABE_ITO[7], lw=0.5, label="optical spectrum (fiber)")
    if "ugriz_mjy" in data:
        ax.scatter(SDSS_WAVE_UM, y(SDSS_WAVE_UM, data["ugriz_mjy"]), marker="s", color=OKABE_ITO[3], s=30,
                   label="ugriz (total)", zorder=3)  # fmt: skip
    if "wise_mjy" in data:
        f, e, ul = data["wise_mjy"], data["wise_err_mjy"], data["wise_is_ul"]
        det = ~ul & np.isfinite(f)
        if det.any():
            ax.errorbar(WISE_WAVE_UM[det], y(WISE_WAVE_UM[det], f[det]), yerr=y(WISE_WAVE_UM[det], np.nan_to_num(e[det])),
                        fmt="o", color=OKABE_ITO[6], ms=6, capsize=3, label="WISE observed", zorder=4)  # fmt: skip
        if (ul & np.isfinite(f)).any():
            lim = ul & np.isfinite(f)
            ax.scatter(WISE_WAVE_UM[lim], y(WISE_WAVE_UM[lim], f[lim]), marker="v", s=70, color=OKABE_ITO[6],
                       label="WISE 95% upper limit", zorder=4)  # fmt: skip
        for k, b in enumerate(WISE_BANDS):
            ax.annotate(
                b, (WISE_WAVE_UM[k], 0.02), xycoords=("data", "axes fraction"), ha="center", fontsize=7
            )
    _features(ax, data["z"])
    ax.set_xlim(0.3, 60.0)
    ax.set_xlabel("observed wavelength (µm)")
    ax.set_ylabel(PER_LABELS[per])
    ax.legend(fontsize=7, loc="best", frameon=False)
    ax.set_title(title or f"z = {data['z']:.4f}  —  optical to mid-IR", fontsize=10, loc="left")
    fig.irox_labels = [t.get_text() for t in ax.get_legend().get_texts()]
    return fig


def _features(ax, z: float) -> None:
    """PAH and silicate features at their observed wavelengths, labelled along the top."""
    for lam, kind in [(p, "PAH") for p in PAH_UM] + [(s, "silicate") for s in SILICATE_UM]:
        x = lam * (1 + z)
        ax.axvline(x, color=OKABE_ITO[1] if kind == "PAH" else OKABE_ITO[4], lw=0.6, alpha=0.6, zorder=0)
        ax.annotate(f"{kind} {lam:g}", (x, 0.98), xycoords=("data", "axes fraction"), rotation=90, ha="right",
                    va="top", fontsize=6)  # fmt: skip
