"""Sample-wide attributions: run the engine over many galaxies and rank the lines.

Entry points for the lead / CLI:

- :func:`sample_rankings` (several targets at once, sharing forward passes) and
  :func:`sample_ranking` (one target);
- :meth:`SampleRanking.completeness_summary` (how many galaxies reach the completeness
  tolerance; the acceptance check is ">= 95 of 100 within 5%");
- :meth:`SampleRanking.compare` (a line's share in one class of galaxies versus another,
  e.g. torus-dominated versus non-AGN, star-forming versus quenched).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..catalog import GalaxySpectrum
from ..constants import LINES, Line
from ..errors import ExplorerError
from .cache import AttributionCache, cached_attribute_targets
from .lines import LineRanking, compare_groups, line_shares, sample_line_ranking


@dataclass
class SampleRanking:
    """Line ranking of one target over a sample, with per-galaxy completeness and failures."""

    target: str
    ranking: LineRanking
    per_galaxy: list[dict]
    failures: list[dict] = field(default_factory=list)
    tol: float = 0.05
    settings: dict = field(default_factory=dict)

    def column(self, name: str) -> list:
        """A per-galaxy column (e.g. "class_label", "completeness_gap") in ranking order."""
        return [row.get(name) for row in self.per_galaxy]

    def completeness_summary(self) -> dict:
        """Counts and quantiles of the completeness gap over the attributed galaxies."""
        gaps = np.array([row["completeness_gap"] for row in self.per_galaxy], dtype=float)
        gaps_pb = np.array([row["completeness_gap_per_baseline"] for row in self.per_galaxy], dtype=float)
        n = gaps.size
        if n == 0:
            return {"n": 0, "n_failed": len(self.failures)}
        fin = gaps[np.isfinite(gaps)]
        return {
            "n": int(n),
            "n_failed": len(self.failures),
            "tol": self.tol,
            "n_converged": int(sum(row["converged"] for row in self.per_galaxy)),
            "n_within_tol": int(np.sum(gaps <= self.tol)),
            "frac_within_tol": float(np.mean(gaps <= self.tol)),
            "gap_median": float(np.median(fin)) if fin.size else math.inf,
            "gap_p95": float(np.percentile(fin, 95)) if fin.size else math.inf,
            "gap_max": float(np.max(gaps)),
            "gap_per_baseline_median": float(np.nanmedian(gaps_pb)),
            # robust to F(x) ~ mean F(b) (small denominators); see AttributionResult.completeness_gap
            "n_within_tol_per_baseline": int(np.sum(gaps_pb <= self.tol)),
            "n_steps_counts": {
                str(k): int(v)
                for k, v in zip(*np.unique([r["n_steps"] for r in self.per_galaxy], return_counts=True))
            },
            "median_seconds_per_galaxy": float(np.median([r["elapsed_s"] for r in self.per_galaxy])),
        }

    def compare(
        self,
        group_a: str | Sequence[str],
        group_b: str | Sequence[str],
        *,
        by: str = "class_label",
        lines: Sequence[str] | None = None,
        metric: str = "share",
    ) -> list[dict]:
        """Per-line medians in two groups of galaxies defined by the per-galaxy column ``by``."""
        return compare_groups(
            self.ranking, [str(v) for v in self.column(by)], group_a, group_b, lines=lines, metric=metric
        )

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        return {
            "target": self.target,
            "completeness": {
                k: clean(v) if not isinstance(v, dict) else v for k, v in self.completeness_summary().items()
            },
            "ranking": self.ranking.to_dict(),
            "per_galaxy": [{k: clean(v) for k, v in row.items()} for row in self.per_galaxy],
            "failures": self.failures,
            "settings": self.settings,
        }


def _get_spectrum(catalog, i) -> tuple[GalaxySpectrum, dict]:
    if hasattr(catalog, "spectrum"):
        spec = catalog.spectrum(int(i))
        row = {}
        table = getattr(catalog, "table", None)
        if isinstance(table, dict):
            row = {k: v[int(i)] for k, v in table.items() if np.ndim(v) == 1}
        return spec, row
    spec = catalog[int(i)]
    return spec, dict(spec.meta or {})


def _galaxy_row(i: int, spec: GalaxySpectrum, r, table_row: dict, extra_columns: Sequence[str]) -> dict:
    """One galaxy's row of :attr:`SampleRanking.per_galaxy` for the result ``r`` of one target."""
    row = {
        "index": i,
        "id": spec.id,
        "z": float(spec.z),
        "f_x": r.f_x,
        "f_baseline_mean": r.f_baseline_mean,
        "delta": r.delta,
        "completeness_gap": r.completeness_gap,
        "completeness_gap_per_baseline": r.completeness_gap_per_baseline,
        "converged": r.converged,
        "n_steps": r.n_steps,
        "elapsed_s": r.elapsed_s,
    }
    for c in extra_columns:
        if c in table_row:
            v = table_row[c]
            row[c] = v.item() if hasattr(v, "item") else v
    return row


def _line_ranking(target: str, shares: list, lines: Sequence[Line]) -> LineRanking:
    """The sample ranking of one target's line shares (an empty ranking when no galaxy succeeded)."""
    if shares:
        return sample_line_ranking(shares, target=target)
    return LineRanking(
        target, [ln.name for ln in lines] + ["continuum"], [], [], *(np.zeros((0, len(lines) + 1)),) * 4
    )


def sample_rankings(
    target_fn_factory: Callable[[GalaxySpectrum], object],
    catalog,
    indices: Sequence[int],
    targets: Sequence[str],
    *,
    lines: Sequence[Line] = LINES,
    baselines_fn: Callable[[GalaxySpectrum], object] | None = None,
    extra_columns: Sequence[str] = ("class_label",),
    cache: AttributionCache | None = None,
    model_id: str | None = None,
    progress: bool = False,
    **engine_kwargs,
) -> dict[str, SampleRanking]:
    """Attribute ``targets`` for the galaxies ``indices`` of ``catalog`` and rank the lines.

    Parameters
    ----------
    target_fn_factory : callable ``(GalaxySpectrum) -> target function``
        Binds one galaxy's other inputs (z, normalization, ...) into the model (see
        :mod:`explorer.attribution.engine` for the contract).
    catalog : :class:`explorer.catalog.Catalog` or sequence of GalaxySpectrum
    indices : sequence of int
        Rows to attribute (e.g. ``catalog.split_indices("test")[:100]``).
    targets : sequence of str
    lines : sequence of Line
    baselines_fn : callable ``(GalaxySpectrum) -> baselines``, optional
        Per-galaxy baselines (array (K, 3921) or callable ``(z) -> (M, 3921)``); default: the
        target function's ``reference_baselines`` (else the smoothed-galaxy baseline).
    extra_columns : sequence of str
        Catalog columns copied into the per-galaxy rows (e.g. "class_label", truth columns),
        used to split the sample in :meth:`SampleRanking.compare`.
    cache : AttributionCache, optional
    model_id : str, optional
        For the cache (default ``target_fn.model_id``).
    progress : bool
        Print one line per 10 galaxies.
    **engine_kwargs
        n_baselines, rng, n_steps, max_steps, tol, atol, method, internal_batch_size, backend.

    Returns
    -------
    dict target -> SampleRanking. A galaxy whose attribution fails with an
    :class:`~explorer.errors.ExplorerError` is listed in ``failures`` and skipped; the others
    are kept.
    """
    targets = list(targets)
    shares: dict[str, list] = {t: [] for t in targets}
    rows: dict[str, list] = {t: [] for t in targets}
    failures: list[dict] = []
    settings: dict = {}
    t_start = time.perf_counter()
    for n_done, i in enumerate(indices):
        gid = None
        try:
            spec, table_row = _get_spectrum(catalog, i)
            gid = spec.id
            fn = target_fn_factory(spec)
            kw = dict(engine_kwargs)
            if baselines_fn is not None:
                kw["baselines"] = baselines_fn(spec)
            res = cached_attribute_targets(cache, fn, spec, targets, model_id=model_id, **kw)
        except ExplorerError as exc:
            failures.append({"index": int(i), "id": gid, "error": f"{type(exc).__name__}: {exc}"})
            continue
        for t, r in res.items():
            settings = {k: v for k, v in r.settings.items() if k not in ("baseline_sha1", "settings_hash")}
            shares[t].append(line_shares(r, lines=lines, weight=spec.weight))
            rows[t].append(_galaxy_row(int(i), spec, r, table_row, extra_columns))
        if progress and (n_done + 1) % 10 == 0:
            print(
                f"attributed {n_done + 1}/{len(indices)} galaxies in {time.perf_counter() - t_start:.1f} s",
                flush=True,
            )

    tol = float(engine_kwargs.get("tol", 0.05))
    out = {}
    for t in targets:
        ranking = _line_ranking(t, shares[t], lines)
        ranking.meta = {"n_failed": len(failures)}
        out[t] = SampleRanking(t, ranking, rows[t], failures, tol=tol, settings=settings)
    return out


def sample_ranking(
    target_fn_factory: Callable[[GalaxySpectrum], object],
    catalog,
    indices: Sequence[int],
    target: str,
    **kwargs,
) -> SampleRanking:
    """One target's :class:`SampleRanking` (see :func:`sample_rankings` for the parameters)."""
    return sample_rankings(target_fn_factory, catalog, indices, [target], **kwargs)[target]
