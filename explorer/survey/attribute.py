"""``attribute --sample N --workers K``: the sample-wide line ranking as one Dask task per chunk of
galaxies, and the per-galaxy line shares as a table.

The galaxies are those of the in-process verb (:func:`explorer.attribution.report.sample_plan`);
each task runs :func:`explorer.attribution.sample.sample_rankings` on its chunk with the models
and reference spectra loaded once per worker process, and the client joins the chunks in order
(per-galaxy rows, failures, the line-share matrices), so the result equals the in-process one.
A chunk whose task fails (or whose worker dies too often) is reported by its galaxy rows; the
others are kept.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .cluster import cached_bundle, manifest_sha256, open_client, worker_facts

_SETUP: dict = {}


def _setup(model_dir: str, sha256: str, catalog: str, n_baselines: int):
    """(catalog, target function factory) for this process, built once per models and catalog."""
    key = (sha256, str(catalog), n_baselines)
    if key not in _SETUP:
        from ..attribution.explain import catalog_target_factory, reference_spectra
        from ..catalog import Catalog

        bundle = cached_bundle(model_dir, sha256)
        cat = Catalog(catalog)
        _SETUP[key] = (cat, catalog_target_factory(bundle, cat, reference_spectra(bundle, cat, n_baselines)))
    return _SETUP[key]


def attribute_chunk(number: int, idx, targets, *, model_dir, sha256, catalog, engine_kw: dict) -> dict:
    """The task: attribute ``targets`` for the galaxies ``idx``; never raises for a bad chunk."""
    from ..attribution.sample import sample_rankings

    t0 = time.perf_counter()
    rec = {"number": number, "rows": [int(idx[0]), int(idx[-1])] if len(idx) else [], "n": len(idx)}
    try:
        cat, factory = _setup(model_dir, sha256, catalog, engine_kw["n_baselines"])
        rec.update(rankings=sample_rankings(factory, cat, idx, targets, **engine_kw), status="done", error="")
    except Exception as exc:
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    rec.update(worker_facts())
    return rec


def _merge(target: str, records: list[dict], tol: float):
    """One target's SampleRanking from the chunks' (in galaxy order)."""
    from ..attribution.lines import LineRanking
    from ..attribution.sample import SampleRanking, _line_ranking
    from ..constants import LINES

    parts = [r["rankings"][target] for r in records if r["status"] == "done" and target in r["rankings"]]
    per_galaxy = [row for p in parts for row in p.per_galaxy]
    failures = [f for p in parts for f in p.failures]
    rk = [p.ranking for p in parts if p.ranking.n_galaxies]
    if rk:
        ranking = LineRanking(
            target, rk[0].names, rk[0].groups, [g for r in rk for g in r.galaxy_ids],
            *(np.concatenate([getattr(r, a) for r in rk]) for a in ("share", "share_per_aa", "enrichment", "net")),
        )  # fmt: skip
    else:
        ranking = _line_ranking(target, [], LINES)
    ranking.meta = {"n_failed": len(failures)}
    settings = next((p.settings for p in parts if p.settings), {})
    return SampleRanking(target, ranking, per_galaxy, failures, tol=tol, settings=settings)


def rank_sample_survey(
    catalog,
    bundle,
    targets,
    n: int,
    *,
    seed: int = 0,
    chunk: int = 10,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    **engine_kw,
) -> tuple[dict, dict, dict]:
    """:func:`~explorer.attribution.report.rank_catalog_sample` as one task per ``chunk`` galaxies.

    Returns
    -------
    rankings, samples : as ``rank_catalog_sample``
    run : dict
        Chunks done / failed (with their galaxy rows and errors), seconds, per-worker peak memory.
    """
    from tqdm.auto import tqdm

    from ..attribution.report import sample_plan
    from ..catalog import Catalog

    with Catalog(catalog) as cat:
        groups, samples = sample_plan(cat, targets, n, seed=seed)
    sha = manifest_sha256(bundle.path)
    kw = dict(model_dir=str(Path(bundle.path).resolve()), sha256=sha, catalog=str(Path(catalog).resolve()),
              engine_kw=engine_kw)  # fmt: skip
    jobs = [(idx[s : s + chunk], tg) for idx, tg in groups for s in range(0, len(idx), chunk)]
    t0 = time.perf_counter()
    with open_client(workers, scheduler) as client:
        if client is None:
            records = [
                attribute_chunk(k, i, t, **kw) for k, (i, t) in enumerate(tqdm(jobs, disable=not progress))
            ]
        else:
            futs = [
                client.submit(attribute_chunk, k, i, t, **kw, pure=False) for k, (i, t) in enumerate(jobs)
            ]
            records = _collect(futs, jobs, progress)
    for r, (_, tg) in zip(records, jobs):
        r["targets"] = tg
    tol = float(engine_kw.get("tol", 0.05))
    rankings = {t: _merge(t, [r for r in records if t in r["targets"]], tol) for t in targets}
    failed = [
        {"chunk": r["number"], "rows": r["rows"], "error": r["error"]}
        for r in records
        if r["status"] != "done"
    ]
    run = {
        "chunks": len(jobs), "done": len(jobs) - len(failed), "failed": failed,
        "seconds": round(time.perf_counter() - t0, 3),
        "peak_rss_mb_per_worker": _peaks(records),
    }  # fmt: skip
    return rankings, samples, run


def _collect(futs, jobs, progress: bool) -> list[dict]:
    from distributed import wait
    from tqdm.auto import tqdm

    if progress:
        from distributed import as_completed

        for _ in tqdm(as_completed(futs), total=len(futs), desc="attribute"):
            pass
    wait(futs)
    out = []
    for k, (f, (idx, _)) in enumerate(zip(futs, jobs)):
        try:
            out.append(f.result())
        except Exception as exc:  # KilledWorker and the like
            out.append({"number": k, "rows": [int(idx[0]), int(idx[-1])], "status": "failed",
                        "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
    return out


def _peaks(records) -> dict:
    peaks: dict = {}
    for r in records:
        if "worker" in r:
            peaks[r["worker"]] = max(peaks.get(r["worker"], 0.0), r["peak_rss_mb"])
    return peaks


def line_shares_table(rankings: dict):
    """Per-galaxy line shares of every target as one pandas DataFrame: target, the per-galaxy
    columns (index, id, z, completeness gap, class_label, ...), then ``share_<line>`` per line."""
    import pandas as pd

    frames = []
    for t, sr in rankings.items():
        rows = pd.DataFrame(sr.per_galaxy)
        if rows.empty:
            continue
        rows.insert(0, "target", t)
        for j, name in enumerate(sr.ranking.names):
            rows[f"share_{name}"] = sr.ranking.share[:, j]
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_line_shares(rankings: dict, folder) -> list[Path]:
    """``line_shares.parquet`` and ``line_shares.csv`` in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    df = line_shares_table(rankings)
    files = [folder / "line_shares.parquet", folder / "line_shares.csv"]
    df.to_parquet(files[0], index=False)
    df.to_csv(files[1], index=False)
    return files
