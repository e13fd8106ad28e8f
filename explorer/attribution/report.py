"""Entry functions for the command line and the app: one galaxy, or a sample, to JSON + figures.

``python -m explorer attribute`` (wired by the CLI) calls :func:`explain_galaxy` for one galaxy
and :func:`write_sample_report` after :func:`~explorer.attribution.sample.sample_rankings`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

from ..catalog import GalaxySpectrum
from ..constants import LINES, Line
from .cache import AttributionCache, cached_attribute_targets
from .figures import plot_attribution, plot_line_ranking, save_figure
from .lines import line_shares
from .sample import SampleRanking

#: Units of the usual targets, for axis labels.
TARGET_UNITS = {
    "W1": "mag",
    "W2": "mag",
    "W3": "mag",
    "W4": "mag",
    "W1-W2": "mag",
    "W2-W3": "mag",
    "W3-W4": "mag",
    "qpah": "%",
    "lbol_agn": "log erg/s",
}


def target_label(target: str) -> str:
    """``"W3" -> "W3 (mag)"``; unknown targets are returned as they are."""
    unit = TARGET_UNITS.get(target)
    return f"{target} ({unit})" if unit else target


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)


def explain_galaxy(
    target_fn,
    spectrum: GalaxySpectrum,
    targets: Sequence[str],
    *,
    lines: Sequence[Line] = LINES,
    out_dir: str | Path | None = None,
    formats: Sequence[str] = ("png", "svg"),
    frame: str = "observed",
    top_n: int = 6,
    cache: AttributionCache | None = None,
    model_id: str | None = None,
    **engine_kwargs,
) -> dict:
    """Attribute ``targets`` for one galaxy; optionally write figures and a JSON summary.

    Parameters
    ----------
    target_fn, spectrum, targets
        As :func:`~explorer.attribution.engine.attribute_targets`.
    out_dir : path, optional
        If given: ``<id>_<target>.<fmt>`` figures and ``<id>_attribution.json`` are written.
    formats : sequence of {"png", "svg", "pdf"}
    frame : {"observed", "rest"}
    top_n : int
        Lines highlighted per figure and listed per target in the summary.
    cache, model_id
        Optional :class:`AttributionCache` (needs a model id).
    **engine_kwargs
        baselines, n_baselines, rng, n_steps, max_steps, tol, atol, criterion, method, ...

    Returns
    -------
    dict (JSON-ready): ``{"galaxy_id", "z", "targets": {target: {result summary...,
    "top_lines": [...], "continuum_share"}}, "files": [...]}``. Per-pixel arrays are not
    included (use the engine for those).
    """
    results = cached_attribute_targets(
        cache, target_fn, spectrum, targets, model_id=model_id, **engine_kwargs
    )
    summary = {"galaxy_id": spectrum.id, "z": float(spectrum.z), "targets": {}, "files": []}
    out = Path(out_dir) if out_dir is not None else None
    for t, res in results.items():
        shares = line_shares(res, lines=lines, weight=spectrum.weight)
        entry = res.to_dict()
        entry["top_lines"] = shares.ranking("share", include_continuum=False)[:top_n]
        entry["continuum_share"] = float(shares.share[-1])
        summary["targets"][t] = entry
        if out is not None:
            fig = plot_attribution(
                spectrum, res, lines, frame=frame, top_n=top_n, target_label=target_label(t), shares=shares
            )
            for fmt in formats:
                path = save_figure(fig, out / f"{_safe(spectrum.id)}_{_safe(t)}.{fmt}")
                summary["files"].append(str(path))
    if out is not None:
        path = out / f"{_safe(spectrum.id)}_attribution.json"
        path.write_text(json.dumps(summary, indent=1))
        summary["files"].append(str(path))
    return summary


def write_sample_report(
    rankings: dict[str, SampleRanking],
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("png", "svg"),
    top_n: int = 12,
) -> list[Path]:
    """Write ``ranking_<target>.json`` and the ranking figure of every target.

    Returns
    -------
    list of Path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for t, sr in rankings.items():
        path = out / f"ranking_{_safe(t)}.json"
        path.write_text(json.dumps(sr.to_dict(), indent=1, allow_nan=False))
        written.append(path)
        if sr.ranking.n_galaxies:
            fig = plot_line_ranking(sr.ranking, target_label(t), top_n=top_n)
            for fmt in formats:
                written.append(save_figure(fig, out / f"ranking_{_safe(t)}.{fmt}"))
    return written


#: What Jespersen et al. (2025, arXiv:2503.03816) found with integrated gradients: the optical
#: features that carry the IR information (all IR outputs together; see
#: shared/reference/science.md). Values: our line windows that belong to each feature.
PAPER_FEATURES: dict[str, tuple[str, ...]] = {
    "CaII H&K": ("CaII K", "CaII H"),
    "SrII": ("SrII 4078", "SrII 4216"),
    "FeI": ("FeI 4046", "FeI 4384", "FeI 5270", "FeI 5328"),
    "[OII]": ("[OII]",),
    "Hα": ("Halpha",),
}
PAPER_FINDING = "CaII H&K, SrII, FeI, [OII], Hα (integrated gradients, all IR outputs together)"
TARGET_TITLES = {
    "qpah": "q_PAH (ln)",
    "lbol_agn": "log L_bol,AGN",
    "log_sfr": "log SFR",
}


def _paper_feature(line: str) -> str | None:
    for feature, windows in PAPER_FEATURES.items():
        if line in windows:
            return feature
    return None


def ranking_markdown(
    rankings: dict[str, SampleRanking],
    *,
    top_n: int = 5,
    title: str = "Which optical features carry the IR information (integrated gradients)",
    provenance: str | None = None,
    samples: dict[str, str] | None = None,
) -> str:
    """A Markdown table: per target, the top features by median share of |attribution|.

    Parameters
    ----------
    rankings : dict target -> SampleRanking
    top_n : int
        Lines listed per target (the continuum bucket has its own column).
    title : str
    provenance : str, optional
        A line saying how the table was made (command, models, catalog), printed under the title.
    samples : dict target -> str, optional
        Which galaxies a target was ranked on when not the whole sample (e.g. AGN only).

    Returns
    -------
    str (Markdown). Columns: target, galaxies, top features with their median share, the
    continuum's median share, top features by median share per rest-frame Angstrom, which of
    the top features the paper also named, and what Jespersen et al. (2025) found.
    """
    lines = [f"### {title}", ""]
    if provenance:
        lines += [provenance, ""]
    lines += [
        "| Target | Galaxies | Top features (median share of \\|attr\\|) | Continuum "
        "| Top features per rest-frame Å (median share / Å) | Also named by the paper "
        "| What Jespersen et al. 2025 found |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, sr in rankings.items():
        rows = sr.ranking.table("share") if sr.ranking.n_galaxies else []
        top = [r for r in rows if r["name"] != "continuum" and r["share_median"] > 0][:top_n]
        rows_aa = sr.ranking.table("share_per_aa") if sr.ranking.n_galaxies else []
        top_aa = [r for r in rows_aa if r["name"] != "continuum" and r["share_per_aa_median"] > 0][:top_n]
        cont = next((r for r in rows if r["name"] == "continuum"), None)
        feats = ", ".join(f"{r['label']} {r['share_median']:.3f}" for r in top) or "–"
        feats_aa = ", ".join(f"{r['label']} {1e3 * r['share_per_aa_median']:.2f}e-3" for r in top_aa) or "–"
        named = []
        for r in top + top_aa:
            f = _paper_feature(r["name"])
            if f and f not in named:
                named.append(f)
        n_gal = f"{sr.ranking.n_galaxies}"
        if samples and t in samples:
            n_gal += f" ({samples[t]})"
        cont_s = f"{cont['share_median']:.2f}" if cont and math.isfinite(cont["share_median"]) else "–"
        lines.append(
            f"| {TARGET_TITLES.get(t, t)} | {n_gal} | {feats} | {cont_s} | {feats_aa} | {', '.join(named) or 'none'} "
            f"| {PAPER_FINDING} |"
        )
    lines += [
        "",
        "Share = sum of |attribution| in a line's rest-frame window / sum over all good pixels "
        "(lines + continuum = 1), median over galaxies where the line is covered; attributions are "
        "integrated gradients against decoded reference spectra of typical galaxies at the same "
        "redshift (explorer.attribution). Share per Å divides by the rest-frame width of the window's "
        "good pixels, so wide windows (Ca II triplet, Mg I b) are not favoured for their width. "
        "'Also named by the paper' lists the paper's features among either top list: CaII H&K, "
        "SrII 4078/4216, FeI (4046, 4384, 5270, 5328 windows), [OII] 3727 and Hα.",
        "",
    ]
    return "\n".join(lines)
