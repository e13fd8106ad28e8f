"""Reports: one galaxy's outputs, or a catalog sample's line ranking, to JSON, figures, Markdown.

``python -m explorer attribute`` (wired by the CLI) calls
:func:`~explorer.attribution.explain.explain_galaxy` for one spectrum, and
:func:`rank_catalog_sample` then :func:`write_sample_report` / :func:`ranking_markdown` for a
sample; :func:`write_galaxy_report` writes every output of one galaxy.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..catalog import GalaxySpectrum
from ..constants import LINES, Line, target_spec
from .cache import AttributionCache
from .checks import completeness_report
from .engine import DEFAULT_TOL
from .explain import explain_targets
from .figures import plot_line_ranking, save_figure
from .sample import SampleRanking, sample_rankings


def target_label(target: str) -> str:
    """``"W3" -> "W3 (mag)"``, ``"qpah" -> "ln q_PAH"`` (:func:`explorer.constants.target_spec`);
    unknown targets are returned as they are."""
    return target_spec(target).axis_label


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)


def write_galaxy_report(
    target_fn,
    spectrum: GalaxySpectrum,
    targets: Sequence[str],
    out_dir: str | Path | None = None,
    *,
    lines: Sequence[Line] = LINES,
    formats: Sequence[str] = ("png", "svg"),
    frame: str = "observed",
    top_n: int = 6,
    cache: AttributionCache | None = None,
    model_id: str | None = None,
    **engine_kwargs,
) -> dict:
    """Explain ``targets`` of one galaxy (:func:`~explorer.attribution.explain.explain_targets`);
    optionally write the figures and a JSON summary.

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
    out = Path(out_dir) if out_dir is not None else None
    explained = explain_targets(
        target_fn, spectrum, targets, lines=lines, frame=frame, top_n=top_n, figure=out is not None,
        cache=cache, model_id=model_id, **engine_kwargs,
    )  # fmt: skip
    summary = {"galaxy_id": spectrum.id, "z": float(spectrum.z), "targets": {}, "files": []}
    for t, ex in explained.items():
        entry = ex.result.to_dict()
        entry["top_lines"] = ex.top_lines()
        entry["continuum_share"] = float(ex.shares.share[-1])
        summary["targets"][t] = entry
        if out is not None:
            for fmt in formats:
                path = save_figure(ex.figure, out / f"{_safe(spectrum.id)}_{_safe(t)}.{fmt}")
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


def sample_plan(catalog, targets: Sequence[str], n: int, *, seed: int = 0) -> tuple[list, dict[str, str]]:
    """Which galaxies each target is ranked on (see :func:`rank_catalog_sample`).

    Returns
    -------
    groups : list of (indices, targets)
        The main sample with the targets other than ``lbol_agn``; then, when the catalog has AGN,
        ``n`` AGN galaxies (drawn with the same generator after the main sample) for ``lbol_agn``.
    samples : dict target -> str
        Which galaxies a target was ranked on when not the main sample (``"class_label agn"``).
    """
    rng = np.random.default_rng(seed)
    good = np.flatnonzero(catalog.good)
    idx = np.sort(rng.choice(good, size=min(n, len(good)), replace=False))
    agn_targets = [t for t in targets if t == "lbol_agn"]
    labels = np.asarray(catalog.table.get("class_label", np.array([""] * catalog.n))).astype(str)
    agn_pool = np.flatnonzero(catalog.good & (labels == "agn"))
    if not agn_pool.size:
        agn_targets = []
    other = [t for t in targets if t not in agn_targets]
    groups = [(idx, other)] if other else []
    samples = {}
    if agn_targets:
        idx_agn = np.sort(rng.choice(agn_pool, size=min(n, agn_pool.size), replace=False))
        groups.append((idx_agn, agn_targets))
        samples = {t: "class_label agn" for t in agn_targets}
    return groups, samples


def rank_catalog_sample(
    target_fn_factory,
    catalog,
    targets: Sequence[str],
    n: int,
    *,
    seed: int = 0,
    progress: bool = False,
    **engine_kwargs,
) -> tuple[dict[str, SampleRanking], dict[str, str]]:
    """Sample-wide line ranking of ``n`` (seeded) good galaxies of a catalog.

    ``lbol_agn`` is ranked on ``n`` AGN galaxies instead (``class_label == "agn"``, drawn with the
    same generator after the main sample) when the catalog has any: L_bol,AGN means nothing for
    the others (:func:`sample_plan`).

    Returns
    -------
    rankings : dict target -> SampleRanking, in the order of ``targets``
    samples : dict target -> str
        Which galaxies a target was ranked on when not the main sample (``"class_label agn"``).
    """
    groups, samples = sample_plan(catalog, targets, n, seed=seed)
    rankings: dict[str, SampleRanking] = {}
    for idx, group_targets in groups:
        rankings.update(
            sample_rankings(
                target_fn_factory, catalog, idx, group_targets, progress=progress, **engine_kwargs
            )
        )
    return {t: rankings[t] for t in targets}, samples


def check_completeness(
    target_fn_factory,
    catalog,
    targets: Sequence[str],
    n: int,
    *,
    seed: int = 0,
    progress: bool = False,
    about: dict | None = None,
    **engine_kwargs,
) -> dict:
    """:func:`~explorer.attribution.checks.completeness_report` of ``n`` (seeded) test galaxies.

    Parameters
    ----------
    about : dict, optional
        Entries written into the report after ``n_galaxies`` (e.g. models and catalog).
    **engine_kwargs
        Engine settings; ``tol`` is also the report's tolerance (default the engine's).
    """
    rng = np.random.default_rng(seed)
    pool = catalog.split_indices("test")
    idx = np.sort(rng.choice(pool, size=min(n, len(pool)), replace=False))
    rankings = sample_rankings(target_fn_factory, catalog, idx, targets, progress=progress, **engine_kwargs)
    summary = completeness_report(rankings, tol=engine_kwargs.get("tol", DEFAULT_TOL))
    summary.update(
        n_galaxies=int(len(idx)), **(about or {}),
        settings=next(iter(rankings.values())).settings if rankings else {},
    )  # fmt: skip
    return summary


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
            f"| {target_spec(t).label} | {n_gal} | {feats} | {cont_s} | {feats_aa} | {', '.join(named) or 'none'} "
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
