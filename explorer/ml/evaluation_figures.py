"""Figures of a held-out evaluation (:func:`explorer.ml.evaluate.evaluate` with ``figures_dir``).

Prediction against observation, chi histograms, PIT and coverage curves, and the property
heads against the truth; PNG at 150 dpi.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..constants import WISE_BANDS
from .data import WiseTargets
from .predictor import coverage_from_pit

COLORS = {"ours": "C0", "paper_mlp": "C1", "photometry_only": "C2", "paper_inputs_ensemble": "C3"}
LABELS = {
    "ours": "spectrum (ours)",
    "paper_mlp": "paper MLP",
    "photometry_only": "ugriz photometry",
    "paper_inputs_ensemble": "ours, paper's 8 inputs",
}


def figures(out_dir: str | Path, arrays: dict) -> list[Path]:
    """Prediction-vs-observation, chi histograms and coverage/PIT figures (PNG, 150 dpi).

    Parameters
    ----------
    out_dir : path
    arrays : dict
        ``{"targets": WiseTargets, "posteriors": {name: IRPosterior (true mags)}}`` and optionally
        ``"properties": (PropertyPosterior, truth dict)``, as built by
        :func:`explorer.ml.evaluate.evaluate` (call ``evaluate(..., figures_dir=...)``).

    Returns
    -------
    list of Path: the files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t: WiseTargets = arrays["targets"]
    posts: dict = arrays["posteriors"]
    plt.rcParams.update({"font.size": 12, "axes.titlesize": 13})
    paths = []
    if "ours" in posts:
        paths.append(_save(plt, _pred_vs_obs(plt, t, posts["ours"]), out_dir / "pred_vs_obs.png"))
    paths.append(_save(plt, _chi_hist(plt, t, posts), out_dir / "chi_hist.png"))
    paths.append(_save(plt, _coverage_pit(plt, t, posts), out_dir / "coverage_pit.png"))
    if "properties" in arrays:
        paths.append(_save(plt, _properties(plt, *arrays["properties"]), out_dir / "properties.png"))
    return paths


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def _pred_vs_obs(plt, t: WiseTargets, post):
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.6))
    for b, ax in enumerate(axes):
        sel = t.detected[:, b]
        x, y = t.mag[sel, b], post.mean_mag[sel, b]
        hb = ax.hexbin(x, y, gridsize=60, mincnt=1, bins="log", cmap="viridis")
        fig.colorbar(hb, ax=ax, label="galaxies per cell")
        lo, hi = np.percentile(np.concatenate([x, y]), [0.5, 99.5]) if sel.any() else (0, 1)
        ax.plot([lo, hi], [lo, hi], "r-", lw=1)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"observed {WISE_BANDS[b]} [Vega mag]")
        ax.set_ylabel(f"predicted {WISE_BANDS[b]} [Vega mag]")
        ax.set_title(f"{WISE_BANDS[b]} (N={int(sel.sum())} detected)")
    return fig


def _chi_hist(plt, t: WiseTargets, posts: dict):
    """Row 0: the standard chi; row 1: the paper's convention (its Figure 15), chi = (pred - obs) /
    sqrt(sigma) (see :func:`explorer.ml.evaluate.chi_paper_values`)."""
    from scipy.stats import norm

    grid = np.linspace(-5, 5, 201)
    fig, axes = plt.subplots(2, 4, figsize=(18, 8.8))
    rows = ((1.0, "sigma", "standard chi"), (0.5, "sqrt(sigma)", "paper's convention (its Fig. 15)"))
    for row, (power, title, what) in enumerate(rows):
        for b, ax in enumerate(axes[row]):
            for name, post in posts.items():
                sel = t.detected[:, b]
                chi = (post.mean_mag[sel, b] - t.mag[sel, b]) / t.sigma[sel, b] ** power
                ax.hist(
                    np.clip(chi, -5, 5), bins=60, range=(-5, 5), density=True, histtype="step", lw=1.6,
                    color=COLORS.get(name), label=LABELS.get(name, name),
                )  # fmt: skip
            ax.plot(grid, norm.pdf(grid), "k--", lw=1, label="N(0, 1)")
            ax.set_xlabel(f"chi = (pred - obs) / {title}, clipped to +-5", fontsize=10)
            ax.set_title(f"{WISE_BANDS[b]}: {what}", fontsize=11)
            ax.set_ylabel("density")
    axes[0, 0].legend(fontsize=9)
    return fig


def _coverage_pit(plt, t: WiseTargets, posts: dict):
    levels = np.linspace(0.05, 0.99, 40)
    fig, axes = plt.subplots(2, 4, figsize=(18, 8))
    for b in range(4):
        for name, post in posts.items():
            sel = t.detected[:, b]
            obs = post[np.flatnonzero(sel)].observed(t.sigma[sel]) if sel.any() else None
            if obs is None:
                continue
            pit = obs.cdf(t.mag[sel])[:, b]
            axes[0, b].hist(
                pit,
                bins=20,
                range=(0, 1),
                density=True,
                histtype="step",
                lw=1.6,
                color=COLORS.get(name),
                label=LABELS.get(name, name),
            )
            cov = [coverage_from_pit(pit, lv) for lv in levels]
            axes[1, b].plot(levels, cov, color=COLORS.get(name), lw=1.6, label=LABELS.get(name, name))
        axes[0, b].axhline(1, color="k", ls="--", lw=1)
        axes[0, b].set_xlabel(f"PIT of observed {WISE_BANDS[b]}")
        axes[0, b].set_ylabel("density")
        axes[1, b].plot([0, 1], [0, 1], "k--", lw=1)
        axes[1, b].set_xlabel("nominal central interval")
        axes[1, b].set_ylabel(f"empirical coverage, {WISE_BANDS[b]}")
    axes[0, 0].legend(fontsize=9)
    return fig


def _properties(plt, pp, pt: dict):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    q = np.exp(pt["ln_qpah"])
    ok = np.isfinite(q)
    axes[0].scatter(q[ok], pp.qpah[ok], s=3, alpha=0.4)
    axes[0].set_xlabel("true q_PAH [%]")
    axes[0].set_ylabel("predicted q_PAH [%]")
    ok = (pt["agn"] == 1) & np.isfinite(pt["log_lbol_agn"])
    axes[1].scatter(
        pt["log_lbol_agn"][ok], pp.log_lbol_agn[ok], s=4, alpha=0.5, c=pp.p_agn[ok], vmin=0, vmax=1
    )
    axes[1].set_xlabel("true log10 L_bol,AGN [erg/s]")
    axes[1].set_ylabel("predicted log10 L_bol,AGN [erg/s]")
    ok = np.isfinite(pt["log_sfr"])
    axes[2].scatter(pt["log_sfr"][ok], pp.log_sfr[ok], s=3, alpha=0.4)
    axes[2].set_xlabel("true log10 SFR [M_sun/yr]")
    axes[2].set_ylabel("predicted log10 SFR [M_sun/yr]")
    for ax in axes:
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "r-", lw=1)
    return fig
