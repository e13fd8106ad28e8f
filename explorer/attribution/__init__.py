"""Which optical features drive each IR prediction: integrated gradients on the spectrum.

Flow: a *target function* (the models' encoder + IR predictor with one galaxy's other inputs
bound inside, mapping normalized flux ``[B, 3921]`` to named outputs ``[B, T]``) is attributed
pixel by pixel against reference spectra (:mod:`.engine`, :mod:`.baselines`); pixels are summed
into line windows and a continuum bucket (:mod:`.lines`); galaxies are aggregated into a
sample-wide ranking (:mod:`.sample`); results are cached (:mod:`.cache`) and drawn for talks
(:mod:`.figures`). The engine keeps its public API in :mod:`.engine`; the path integrals of its
two backends are in :mod:`.integrate` and the result type in :mod:`.result`. :mod:`.explain` is
the one-galaxy flow that the app and the CLI share. :mod:`.toys` holds the stand-in model; the
timing script is ``benchmarks/attribution_bench.py``.

Main entry points::

    attribute(target_fn, spectrum, "W3", baselines=...)            -> AttributionResult
    attribute_targets(target_fn, spectrum, ["W1", "W2", "W3", "W4"]) -> {name: AttributionResult}
    reference_baselines(spectra_or_fn, z, k, rng)                  -> Tensor[k, 3921]
    line_shares(result) -> LineShares;  sample_line_ranking([...]) -> LineRanking
    sample_ranking(target_fn_factory, catalog, indices, "W3")      -> SampleRanking
    plot_attribution(spectrum, result, LINES, z) / plot_line_ranking(ranking) -> Figure
    save_figure(fig, "out.svg")
    explain_galaxy(bundle, spectrum, "W3", references=...)         -> Explanation (result, shares, figure)
    explain_targets(target_fn, spectrum, targets)                  -> {name: Explanation}
    write_galaxy_report(target_fn, spectrum, targets, out_dir)     -> JSON-ready summary (+ files)
    rank_catalog_sample(target_fn_factory, catalog, targets, n)    -> ({name: SampleRanking}, samples)
    write_sample_report(sample_rankings(...), out_dir)             -> JSON + ranking figures
    ranking_markdown(sample_rankings(...))                         -> README table beside the paper
    completeness_report(sample_rankings(...))                      -> acceptance counts per target
    sanity_check(target_fn_factory, simulated_catalog)             -> torus/non-AGN, SF/quenched shares

Command line: ``python -m explorer attribute --sample N --target W3 [--markdown FILE]``,
``--check completeness`` and ``--check sanity`` (see :mod:`explorer.cli`).
"""

from .baselines import normalize_like_spender, reference_baselines, smooth_baseline
from .cache import AttributionCache, cached_attribute_targets, load_result, save_result
from .checks import completeness_report
from .engine import AttributionResult, TargetFunction, attribute, attribute_targets, target_names
from .explain import Explanation, explain_galaxy, explain_targets
from .figures import plot_attribution, plot_line_ranking, save_figure
from .lines import LineRanking, LineShares, compare_groups, line_label, line_shares, sample_line_ranking
from .report import rank_catalog_sample, ranking_markdown, write_galaxy_report, write_sample_report
from .sample import SampleRanking, sample_ranking, sample_rankings
from .sanity import sanity_check

__all__ = [
    "AttributionCache",
    "AttributionResult",
    "Explanation",
    "LineRanking",
    "LineShares",
    "SampleRanking",
    "TargetFunction",
    "attribute",
    "attribute_targets",
    "cached_attribute_targets",
    "compare_groups",
    "completeness_report",
    "explain_galaxy",
    "explain_targets",
    "line_label",
    "line_shares",
    "load_result",
    "normalize_like_spender",
    "plot_attribution",
    "plot_line_ranking",
    "rank_catalog_sample",
    "ranking_markdown",
    "reference_baselines",
    "sample_line_ranking",
    "sample_ranking",
    "sample_rankings",
    "sanity_check",
    "save_figure",
    "save_result",
    "smooth_baseline",
    "target_names",
    "write_galaxy_report",
    "write_sample_report",
]
