"""Talk figures: a spectrum with its attribution, and the sample-wide line ranking.

Pure functions: they build a :class:`matplotlib.figure.Figure` (no pyplot, no global state, no
widget) and return it. The app shows the same figure that :func:`save_figure` exports.

Colours are the Okabe & Ito (2008) colour-blind-safe palette ("Color Universal Design").
Labels are plain Unicode text (no mathtext), so they stay editable text in SVG and PDF exports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..catalog import GalaxySpectrum
from ..constants import LINES, WAVE_OBS_VAC_AA, Line, target_spec
from .lines import CONTINUUM, LineRanking, LineShares, line_label, line_shares, line_windows

#: Okabe & Ito (2008) palette.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Colours of highlighted line windows, in rank order (positive/negative attribution use
#: vermillion/blue, so those two are not used for windows).
WINDOW_COLOURS = ("#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
POSITIVE = OKABE_ITO["vermillion"]
NEGATIVE = OKABE_ITO["blue"]

FLUX_UNIT_LABEL = "10⁻¹⁷ erg s⁻¹ cm⁻² Å⁻¹"


def _attr_array(attribution) -> tuple[np.ndarray, object]:
    if hasattr(attribution, "attribution"):
        return np.asarray(attribution.attribution, dtype=float), attribution
    return np.asarray(attribution, dtype=float), None


def plot_attribution(
    spectrum: GalaxySpectrum,
    attribution,
    lines: Sequence[Line] = LINES,
    z: float | None = None,
    *,
    frame: str = "observed",
    top_n: int = 6,
    target_label: str | None = None,
    physical_flux: bool = True,
    shares: LineShares | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 6.0),
    out_of_domain: str | None = None,
) -> Figure:
    """Spectrum (top) and signed per-pixel attribution (bottom), top lines highlighted and labelled.

    Parameters
    ----------
    spectrum : GalaxySpectrum
    attribution : ndarray (3921,) or AttributionResult
        Per-pixel attribution on the observed grid (target units per pixel).
    lines : sequence of Line
    z : float, optional
        Redshift (default ``spectrum.z``).
    frame : {"observed", "rest"}
        Wavelength axis: observed or rest-frame vacuum Angstrom.
    top_n : int
        Number of lines (ranked by share of |attribution|) to highlight and label; lines with
        a zero share are never highlighted. Labels read "<line> <share>%".
    target_label : str, optional
        What was attributed, with unit, e.g. "W3 (mag)". Default: the result's target's
        :func:`~explorer.constants.target_spec` axis label.
    physical_flux : bool
        Plot flux in 1e-17 erg/s/cm2/A (``flux * norm``) when ``spectrum.norm`` is positive;
        otherwise the normalized (dimensionless) flux.
    shares : LineShares, optional
        Precomputed shares (computed here otherwise).
    out_of_domain : str, optional
        Why the input lies outside the model's training domain (e.g. "z = 0.004 below the
        training range 0.02-0.5"); printed as a caption so an exported figure carries the warning.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.irox_labels`` holds the line label strings drawn as text, in rank order;
        ``fig.irox_caption`` the out-of-domain caption ("" when none). Line labels never overlap.
    """
    if frame not in ("observed", "rest"):
        raise ValueError(f"frame must be 'observed' or 'rest', got {frame!r}")
    attr, res = _attr_array(attribution)
    z = float(spectrum.z if z is None else z)
    if target_label is None:
        target_label = target_spec(res.target).axis_label if res is not None else "target"
    good = np.asarray(spectrum.weight) > 0
    if shares is None:
        shares = line_shares(attribution, z, lines, weight=spectrum.weight, galaxy_id=spectrum.id)
    share_of = dict(zip(shares.names, shares.share))
    top = [n for n in shares.top_lines(top_n) if share_of[n] > 0]  # never highlight a 0% line

    scale = 1.0 / (1 + z) if frame == "rest" else 1.0
    wave = WAVE_OBS_VAC_AA * scale
    norm = float(spectrum.norm) if spectrum.norm is not None else float("nan")
    use_phys = physical_flux and np.isfinite(norm) and norm > 0
    flux = np.asarray(spectrum.flux, dtype=float) * (norm if use_phys else 1.0)
    flux_plot = np.where(good, flux, np.nan)
    attr_plot = np.where(good, attr, 0.0)

    fig = Figure(figsize=figsize, layout="constrained")
    ax_s, ax_a = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    ax_s.plot(wave, flux_plot, color=OKABE_ITO["black"], lw=0.6)
    ax_a.fill_between(
        wave, 0, attr_plot, where=attr_plot >= 0, color=POSITIVE, lw=0, step="mid", label="raises output"
    )
    ax_a.fill_between(
        wave, 0, attr_plot, where=attr_plot < 0, color=NEGATIVE, lw=0, step="mid", label="lowers output"
    )
    ax_a.axhline(0, color=OKABE_ITO["black"], lw=0.5)

    ymin, ymax = np.nanpercentile(flux_plot, [0.5, 99.5]) if np.isfinite(flux_plot).any() else (0, 1)
    pad = 0.08 * (ymax - ymin if ymax > ymin else 1.0)
    ax_s.set_ylim(ymin - pad, ymax + 5 * pad)
    labels, texts = _highlight_lines(ax_s, ax_a, top, line_windows(lines, z), share_of, frame)
    frame_word = "rest-frame" if frame == "rest" else "observed"
    ax_a.set_xlabel(f"{frame_word} vacuum wavelength (Å)")
    ax_s.set_ylabel(
        f"observed flux density ({FLUX_UNIT_LABEL})" if use_phys else "normalized flux (F / F₅₃₀₀₋₅₈₅₀)"
    )
    ax_a.set_ylabel(f"attribution to {target_label}\nper pixel")
    ax_a.legend(loc="lower right", fontsize=8, frameon=False, ncols=2)
    ax_a.set_xlim(wave[0], wave[-1])
    if title is None:
        title = f"{spectrum.id}  z = {z:.4f}  —  what drives {target_label}"
    ax_s.set_title(title, fontsize=11, loc="left")
    _captions(fig, ax_a, res, out_of_domain)
    place_labels(fig, ax_s, texts)
    fig.irox_labels = [labels[n] for n in top]  # in rank order
    fig.irox_caption = out_of_domain or ""
    return fig


def _captions(fig: Figure, ax_a, res, out_of_domain: str | None) -> None:
    """The integrated-gradient settings (when ``res`` is a result) and the out-of-domain warning."""
    if res is not None:
        status = "converged" if res.converged else "NOT converged"
        note = (
            f"integrated gradients: {res.n_baselines} baseline{'s' if res.n_baselines != 1 else ''} "
            f"({res.settings.get('baseline_kind', '?')}), "
            f"{res.n_steps} steps, completeness gap {100 * res.completeness_gap:.1f}% ({status})"
        )
        ax_a.text(0.01, 0.97, note, transform=ax_a.transAxes, ha="left", va="top", fontsize=7.5)
    if out_of_domain:  # supxlabel: constrained layout makes room for it below the axes
        fig.supxlabel(
            f"⚠ outside the model's training domain: {out_of_domain}", x=0.01, ha="left",
            fontsize=8, color=OKABE_ITO["vermillion"],
        )  # fmt: skip


#: Axes-fraction height of the first row of line labels, and the step between rows.
LABEL_TOP, LABEL_STEP = 0.97, 0.075


def place_labels(fig: Figure, ax, texts: list, *, max_rows: int = 8) -> None:
    """Move line labels (sorted by wavelength) down into rows until no two boxes overlap.

    The figure is laid out once (constrained layout) to measure each label's box in pixels; a
    label goes into the first row where it overlaps no label already placed, and a label that
    would stick out of the axes is shifted horizontally to stay inside it.
    """
    if not texts:
        return
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.draw_without_rendering()  # final axes positions (constrained layout) before measuring
    renderer = fig.canvas.get_renderer()
    ax_box = ax.get_window_extent(renderer)
    placed = []
    for t in texts:
        for row in range(max_rows):
            t.set_y(LABEL_TOP - LABEL_STEP * row)
            box = t.get_window_extent(renderer)
            if box.x0 < ax_box.x0 or box.x1 > ax_box.x1:  # keep the label inside the axes
                t.set_horizontalalignment("left" if box.x0 < ax_box.x0 else "right")
                t.set_x(
                    ax.transData.inverted().transform(
                        (ax_box.x0 + 3 if box.x0 < ax_box.x0 else ax_box.x1 - 3, 0)
                    )[0]
                )
                box = t.get_window_extent(renderer)
            if not any(box.overlaps(p) for p in placed):
                break
        placed.append(box)


def _highlight_lines(ax_s, ax_a, top, windows, share_of, frame: str) -> tuple[dict[str, str], list]:
    """Shade the windows of the ``top`` lines on both axes and label them "<line> <share>%" above
    the spectrum (rows assigned later by :func:`place_labels`); returns (name -> label text, the
    label Text artists sorted by wavelength)."""
    windows = {w.name: w for w in windows}
    labels, texts = {}, []
    for name in sorted(top, key=lambda n: windows[n].center_rest_aa):
        colour = WINDOW_COLOURS[top.index(name) % len(WINDOW_COLOURS)]
        w = windows[name]
        lo, hi = (w.lo_rest_aa, w.hi_rest_aa) if frame == "rest" else (w.lo_obs_aa, w.hi_obs_aa)
        for ax in (ax_s, ax_a):
            ax.axvspan(lo, hi, color=colour, alpha=0.35, lw=0)
        pct = 100 * share_of[name]
        text = f"{line_label(name)} {pct:.0f}%" if pct >= 10 else f"{line_label(name)} {pct:.1f}%"
        texts.append(
            ax_s.text(
                0.5 * (lo + hi), LABEL_TOP, text, transform=ax_s.get_xaxis_transform(), ha="center",
                va="top", fontsize=9, color=OKABE_ITO["black"],
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": colour, "lw": 1.2},
            )
        )  # fmt: skip
        labels[name] = text
    return labels, texts


def plot_line_ranking(
    ranking: LineRanking,
    target: str | None = None,
    *,
    top_n: int = 12,
    figsize: tuple[float, float] = (10.0, 5.0),
) -> Figure:
    """Sample-wide line ranking: median share (left) and median share per Angstrom (right), with IQR.

    Parameters
    ----------
    ranking : LineRanking
    target : str, optional
        Label of the target (default: the axis label of ``ranking.target``, see
        :func:`~explorer.constants.target_spec`).
    top_n : int
        Lines shown in each panel (by median share, and by median share per Angstrom). The
        continuum bucket is quoted as text (left) and drawn as a dashed reference line (right).

    Returns
    -------
    matplotlib.figure.Figure (``fig.irox_labels``: the line labels drawn)
    """
    target = target or target_spec(ranking.target).axis_label
    cont = next((r for r in ranking.table("share") if r["name"] == CONTINUUM), None)

    def top(by):
        rows = [r for r in ranking.table(by) if r["n_covered"] > 0 and r["name"] != CONTINUUM]
        return rows[:top_n]

    fig = Figure(figsize=figsize, layout="constrained")
    ax_l, ax_r = fig.subplots(1, 2, sharey=False)

    def bars(ax, rows, key, colour):
        y = np.arange(len(rows))[::-1]
        med = 100.0 * np.array([r[f"{key}_median"] for r in rows])
        lo = med - 100.0 * np.array([r[f"{key}_p25"] for r in rows])
        hi = 100.0 * np.array([r[f"{key}_p75"] for r in rows]) - med
        ax.barh(y, med, color=colour)
        ax.errorbar(med, y, xerr=[lo, hi], fmt="none", ecolor=OKABE_ITO["black"], lw=1, capsize=2)
        ax.set_yticks(y, [f"{r['label']} (n={r['n_covered']})" for r in rows])
        if cont is not None and np.isfinite(cont[f"{key}_median"]):
            ref = 100.0 * cont[f"{key}_median"]
            if key == "share_per_aa":
                ax.axvline(ref, color=OKABE_ITO["black"], ls="--", lw=1)
                ax.text(ref, 1.0, " continuum", transform=ax.get_xaxis_transform(), va="bottom", fontsize=8)
            else:
                ax.text(
                    0.98, 0.02, f"continuum (outside all windows): {ref:.0f}%", transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=8,
                )  # fmt: skip
        return [r["label"] for r in rows]

    labels = bars(ax_l, top("share"), "share", OKABE_ITO["orange"])
    ax_l.set_xlabel("share of |attribution| (%)\nmedian, bars 25-75%")
    labels += bars(ax_r, top("share_per_aa"), "share_per_aa", OKABE_ITO["sky_blue"])
    ax_r.set_xlabel("share per rest-frame Å (% Å⁻¹)\nmedian, bars 25-75%")
    fig.suptitle(f"What drives {target}: {ranking.n_galaxies} galaxies", fontsize=11)
    fig.irox_labels = labels
    return fig


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 300) -> Path:
    """Save by extension: PNG at ``dpi``, SVG with text as text, PDF with TrueType (editable) text.

    Returns
    -------
    Path written.
    """
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    rc = {
        "png": {},
        "svg": {"svg.fonttype": "none"},
        "pdf": {"pdf.fonttype": 42},
    }
    if ext not in rc:
        raise ValueError(
            f"save_figure: unsupported extension {path.suffix!r} for {path} (use .png, .svg or .pdf)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(rc[ext]):
        fig.savefig(path, dpi=dpi if ext == "png" else "figure", format=ext)
    return path
