"""``python -m explorer predict`` over partitions on a Dask cluster (or serially in-process).

One task per partition (:func:`predict_partition`): load the models once per worker process
(:func:`~explorer.survey.cluster.cached_models`), read the partition's rows, run
:func:`explorer.ml.predict.predict_rows` (the in-process verb's function, so the columns and
numbers are the same), write ``part-NNNNN.parquet`` (temporary name, then renamed). The client
(:func:`predict_survey`) skips partitions finished by an earlier run with the same key, collects
per-partition timings and the workers' peak memory, removes temporaries of killed tasks, writes
the final table or HATS catalog when every partition is done, and returns the run report
(done / skipped / failed; a failed partition is named with its error).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..errors import ExplorerError
from .cluster import cached_models, manifest_sha256, open_client, worker_facts
from .output import (
    part_is_done,
    parts_dir_for,
    read_parts,
    remove_temporaries,
    write_hats_output,
    write_part,
    write_table_output,
)
from .sources import Partition, PartitionView, hats_catalog_dir, input_kind, plan_hats, plan_hdf5

__all__ = ["predict_survey", "predict_partition", "PARTITION_FORMAT"]

#: bump when the partition files' content changes meaning (old parts are then redone)
PARTITION_FORMAT = 1


def predict_partition(
    part: Partition,
    model_dir: str,
    sha256: str,
    parts_dir: str,
    run_key: str,
    *,
    n_detected_samples: int = 512,
    train_catalog=None,
    fault=None,
) -> dict:
    """The task: predict one partition and write its Parquet file. Never raises for a bad
    partition: the error comes back in the record (``status`` "failed")."""
    from ..ml.predict import predict_rows

    t0, cpu0 = time.perf_counter(), time.process_time()
    rec = {"partition": part.name, "number": part.number, "rows": 0, "n_ood": 0, "ood_examples": []}
    try:
        bundle, ref = cached_models(model_dir, sha256, train_catalog)
        view = PartitionView(part)
        try:
            cols = predict_rows(view, bundle, ref, np.arange(view.n), n_detected_samples, seeds=view.seeds)
        finally:
            view.close()
        if fault is not None:  # tests: kill this worker process here, before the file is complete
            fault(part)
        write_part(Path(parts_dir), part.file_stem, cols, run_key)
        ood = np.asarray(cols["ood"], bool)
        rec.update(rows=int(view.n), n_ood=int(ood.sum()), status="done", error="")
        rec["ood_examples"] = [f"{cols['id'][k]}: {cols['ood_reason'][k]}" for k in np.flatnonzero(ood)[:20]]
    except Exception as exc:  # reported by name; the other partitions go on
        rec.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    rec["seconds"] = round(time.perf_counter() - t0, 4)
    rec["cpu_seconds"] = round(time.process_time() - cpu0, 4)  # this process's CPU: robust to other jobs
    rec.update(worker_facts())
    return rec


def _run_key(part: Partition, sha256: str, n_detected_samples: int) -> str:
    key = {"partition": part.key(), "models": sha256, "n_detected_samples": n_detected_samples,
           "format": PARTITION_FORMAT}  # fmt: skip
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _plan(source, kind: str, chunk: int, rows, parts_dir: Path, command: str):
    """(partitions, client-side catalog-like object for the metadata, input path used)."""
    if kind == "paper":
        from ..io.paper_table import import_paper_table

        h5 = parts_dir / "input_latents.h5"
        if not h5.is_file():  # imported once: a re-run resumes against the same file
            parts_dir.mkdir(parents=True, exist_ok=True)
            import_paper_table([source], h5, command=command)
        source = h5
    if kind == "hats":
        import hats

        parts = plan_hats(source, rows)
        n = int(hats.read_hats(hats_catalog_dir(source)).catalog_info.total_rows or -1)
        stub = SimpleNamespace(path=Path(source), n=n, simulated=False, attrs={"optical_photometry": True})
        return parts, stub, source
    parts, cat = plan_hdf5(source, chunk, rows)
    return parts, cat, source


def _gather(client, todo, task_kw: dict, keys: dict, progress: bool) -> list[dict]:
    """Run the tasks (on the client's cluster, or here) and return their records in order."""
    from tqdm.auto import tqdm

    if client is None:
        return [
            predict_partition(p, run_key=keys[p.number], **task_kw)
            for p in tqdm(todo, desc="predict", disable=not progress)
        ]
    from distributed import as_completed

    futures = {
        client.submit(predict_partition, p, run_key=keys[p.number], **task_kw, pure=False): p for p in todo
    }
    records = []
    bar = tqdm(total=len(futures), desc=f"predict ({len(client.scheduler_info()['workers'])} workers)",
               disable=not progress)  # fmt: skip
    for fut in as_completed(futures):
        p = futures[fut]
        try:
            records.append(fut.result())
        except Exception as exc:  # e.g. KilledWorker: the task killed its worker too often
            records.append({"partition": p.name, "number": p.number, "rows": 0, "status": "failed",
                            "error": f"{type(exc).__name__}: {exc}"})  # fmt: skip
        bar.update(1)
    bar.close()
    return sorted(records, key=lambda r: r["number"])


def predict_survey(
    source,
    models,
    out,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk: int = 2048,
    rows: int | None = None,
    train_catalog=None,
    n_detected_samples: int = 512,
    progress: bool = True,
    command: str = "",
    report=None,
    fault=None,
) -> dict:
    """Predict a catalog partition by partition and write a table file or a HATS catalog.

    Parameters
    ----------
    source : path
        HDF5 catalog, paper-layout CSV table, or HATS catalog of latents (see :mod:`.sources`).
    models : str or path
        Model directory; workers must see the same path (a shared file system on a cluster).
    out : path
        ``.fits``, ``.csv``, ``.parquet`` or ``.ecsv``: one table; anything else: a HATS catalog
        folder. Partition files go to ``<out>.parts/``.
    workers, scheduler
        A local cluster of ``workers`` processes, or an existing scheduler; neither: this process.
    chunk : int
        Rows per partition of an HDF5 catalog (a HATS catalog is partitioned by its pixels).
    rows : int, optional
        Only the first ``rows`` rows (HDF5) or pixels (HATS).
    report : path, optional
        Run report JSON (default ``<out>.report.json``).
    fault : callable, optional
        Test hook called in the task before the partition's file is written.

    Returns
    -------
    dict: the run report (also written to ``report``): summary, partitions, workers, files.
    """
    from ..ml.domain import domain_reference
    from ..ml.predict import COLUMN_UNITS, OUTPUT_FORMATS, open_inputs, output_meta
    from ..ml.registry import load_models

    t0 = time.perf_counter()
    out = Path(out)
    hats_out = out.suffix.lower() not in OUTPUT_FORMATS
    parts_dir = parts_dir_for(out)
    kind = input_kind(source)
    parts, cat, source = _plan(source, kind, chunk, rows, parts_dir, command)
    if kind == "hats":
        bundle = load_models(models)
        if bundle.predictor is None:
            raise ExplorerError(f"{bundle.path}: no predictor.pt in this model directory")
    else:
        cat, bundle = open_inputs(cat, models)
    ref = domain_reference(bundle, train_catalog)  # saved into the model before its sha is taken
    sha = manifest_sha256(bundle.path)
    meta = output_meta(cat, bundle, ref, command)
    meta.update(models_manifest_sha256=sha, input_kind=kind, n_partitions=len(parts))
    keys = {p.number: _run_key(p, sha, n_detected_samples) for p in parts}
    skipped = [p for p in parts if part_is_done(parts_dir, p.file_stem, keys[p.number])]
    todo = [p for p in parts if p not in skipped]
    task_kw = dict(model_dir=str(Path(bundle.path).resolve()), sha256=sha, parts_dir=str(parts_dir),
                   n_detected_samples=n_detected_samples, train_catalog=train_catalog, fault=fault)  # fmt: skip
    t_start = time.perf_counter()
    with open_client(workers if todo else None, scheduler if todo else None) as client:
        n_workers = len(client.scheduler_info()["workers"]) if client is not None else 1
        t_run = time.perf_counter()  # the rate excludes starting the cluster (reported apart)
        records = _gather(client, todo, task_kw, keys, progress)
        run_seconds = time.perf_counter() - t_run
    n_tmp = remove_temporaries(parts_dir)
    if hasattr(cat, "close"):
        cat.close()
    failed = [r for r in records if r["status"] != "done"]
    timing = {"run_seconds": round(run_seconds, 3), "cluster_start_seconds": round(t_run - t_start, 3)}
    rep = _report(parts, skipped, records, failed, meta, out, hats_out, n_workers, timing, n_tmp)
    if not failed:
        df = read_parts(parts_dir, [p.file_stem for p in parts])
        rep["summary"]["rows_written"] = int(len(df))
        if hats_out:
            units = {c: u for c, (u, _) in COLUMN_UNITS.items()}
            write_hats_output(df, out, meta, units)
        else:
            write_table_output(df, out, meta)
    rep["seconds_total"] = round(time.perf_counter() - t0, 3)
    report = Path(report) if report is not None else out.with_name(out.name + ".report.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rep, indent=1, default=str))
    rep["report"] = str(report)
    return rep


def _report(parts, skipped, records, failed, meta, out, hats_out, n_workers, timing: dict, n_tmp) -> dict:
    """The run report: summary (done / skipped / failed), per-partition records, per-worker peaks."""
    done = [r for r in records if r["status"] == "done"]
    n_rows = sum(r["rows"] for r in done)
    workers: dict[str, dict] = {}
    for r in records:
        if "worker" not in r:
            continue
        w = workers.setdefault(r["worker"], {"partitions": 0, "rows": 0, "seconds": 0.0, "peak_rss_mb": 0.0,
                                             "pids": [], "model_loads": 0})  # fmt: skip
        w["partitions"] += 1
        w["rows"] += r["rows"]
        w["seconds"] = round(w["seconds"] + r["seconds"], 4)
        w["peak_rss_mb"] = max(w["peak_rss_mb"], r["peak_rss_mb"])
        w["model_loads"] = max(w["model_loads"], r["model_loads"])
        if r["pid"] not in w["pids"]:
            w["pids"].append(r["pid"])
    summary = {
        "n_partitions": len(parts),
        "done": len(done),
        "skipped": len(skipped),
        "failed": len(failed),
        "rows_predicted": int(n_rows),
        "n_out_of_domain": int(sum(r.get("n_ood", 0) for r in done)),
        "workers": n_workers,
        **timing,
        "spectra_per_s": round(n_rows / timing["run_seconds"], 2)
        if timing["run_seconds"] > 0 and n_rows
        else None,
        "temporaries_removed": n_tmp,
        "output": str(out),
        "output_kind": "hats" if hats_out else "table",
        "output_written": not failed,
    }
    return {
        "summary": summary,
        "failed": [{"partition": r["partition"], "error": r["error"]} for r in failed],
        "skipped": [p.name for p in skipped],
        "partitions": [{k: v for k, v in r.items() if k != "ood_examples"} for r in records],
        "workers": workers,
        "out_of_domain_examples": [e for r in done for e in r.get("ood_examples", [])][:20],
        "meta": meta,
    }
