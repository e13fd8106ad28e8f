"""Survey scale (explorer.survey): predict on a 2-worker Dask cluster equals the in-process verb,
a killed worker loses and duplicates no row, a corrupt partition is reported by name while the
others complete (and a re-run skips them), HATS out is read back by lsdb, HATS of latents in,
and crossmatch-wise on a small AllWISE HATS catalog made from a table."""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from explorer.paths import DEMO_CATALOG

lsdb = pytest.importorskip("lsdb", reason="the survey extra (pip install -e '.[survey]') is not installed")


def _same_rows(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-6) -> None:
    """Same ids in the same order, strings equal, numbers equal to ``rtol``."""
    assert list(a["id"].astype(str)) == list(b["id"].astype(str))
    assert set(a.columns) == set(b.columns)
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=rtol, atol=1e-9, err_msg=c)
        else:
            assert list(map(str, x)) == list(map(str, y)), c


def test_two_worker_cluster_equals_in_process_on_the_demo_catalog(tmp_path):
    from explorer.ml.predict import predict_catalog
    from explorer.survey.predict import predict_survey

    ref = predict_catalog(DEMO_CATALOG, "default", tmp_path / "inproc.parquet", progress=False)
    rep = predict_survey(
        DEMO_CATALOG, "default", tmp_path / "cluster.parquet", workers=2, chunk=250, progress=False
    )
    s = rep["summary"]
    assert (
        (s["n_partitions"], s["done"], s["failed"], s["rows_written"])
        == (8, 8, 0, ref["n_rows"])
        == (8, 8, 0, 2000)
    )
    assert len(rep["workers"]) == 2  # both workers took partitions
    for w in rep["workers"].values():  # each worker process loaded the models once
        assert w["model_loads"] == 1 and w["peak_rss_mb"] > 100 and len(w["pids"]) == 1
    _same_rows(pd.read_parquet(tmp_path / "cluster.parquet"), pd.read_parquet(tmp_path / "inproc.parquet"))
    assert json.loads((tmp_path / "cluster.parquet.report.json").read_text())["summary"]["done"] == 8


def test_a_killed_worker_loses_and_duplicates_no_row(tmp_path):
    from explorer.catalog import Catalog
    from explorer.survey.predict import predict_survey
    from explorer.testing.faults import kill_worker_once

    out = tmp_path / "pred.parquet"
    marker = tmp_path / "killed"
    fault = functools.partial(
        kill_worker_once, number=2, marker=str(marker), parts_dir=str(tmp_path / "pred.parquet.parts")
    )
    rep = predict_survey(
        DEMO_CATALOG, "default", out, workers=2, chunk=100, rows=600, progress=False, fault=fault
    )
    assert marker.exists()  # a worker really died in partition 2
    s = rep["summary"]
    assert (s["done"], s["failed"], s["rows_written"]) == (6, 0, 600)
    assert s["temporaries_removed"] >= 1  # the dead worker's half-written file is gone
    assert not list((tmp_path / "pred.parquet.parts").glob("*.tmp-*"))
    (rec,) = [r for r in rep["partitions"] if r["number"] == 2]
    assert rec["status"] == "done" and rec["pid"] != int(marker.read_text())  # redone by another process
    got = pd.read_parquet(out)["id"].astype(str).tolist()
    with Catalog(DEMO_CATALOG) as cat:
        assert got == list(cat.table["id"][:600].astype(str))  # each row once, in order


def _corrupt_row(path, row: int) -> None:
    """Overwrite the compressed HDF5 chunk holding ``row``'s flux with garbage."""
    import h5py

    with h5py.File(path, "r") as f:
        info = f["spectra/flux"].id.get_chunk_info_by_coord((row, 0))
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * info.size)


def test_a_corrupt_partition_is_named_the_others_complete_and_a_rerun_skips_them(tmp_path, capsys):
    from explorer.cli import main

    cat = tmp_path / "demo.h5"
    shutil.copy(DEMO_CATALOG, cat)
    _corrupt_row(cat, 350)
    out = tmp_path / "pred.csv"
    argv = [
        "predict",
        str(cat),
        "--out",
        str(out),
        "--workers",
        "2",
        "--chunk",
        "100",
        "--rows",
        "600",
        "--quiet",
    ]
    assert main(argv) == 1  # something failed: non-zero exit
    text = capsys.readouterr().out
    assert "6 partitions: 5 done, 0 skipped (finished earlier), 1 failed" in text
    assert f"FAILED part-00003 (rows 300-399 of {cat})" in text
    assert not out.exists() and "not written" in text
    rep = json.loads(out.with_name("pred.csv.report.json").read_text())
    assert [f["partition"] for f in rep["failed"]] == [f"part-00003 (rows 300-399 of {cat})"]
    # the re-run (serial here) skips the five finished partitions and fails the same one again
    assert main(argv[:-5] + ["--rows", "600", "--chunk", "100", "--quiet"]) == 1
    assert "0 done, 5 skipped (finished earlier), 1 failed" in capsys.readouterr().out


@pytest.fixture(scope="module")
def hats_pred(tmp_path_factory):
    """Predictions of the demo catalog's first 300 rows as a HATS catalog (serially) and as Parquet."""
    from explorer.survey.predict import predict_survey

    d = tmp_path_factory.mktemp("hats")
    predict_survey(DEMO_CATALOG, "default", d / "pred.parquet", chunk=100, rows=300, progress=False)
    rep = predict_survey(DEMO_CATALOG, "default", d / "pred_hats", chunk=100, rows=300, progress=False)
    assert rep["summary"]["output_kind"] == "hats"
    return d


def test_hats_output_reads_back_with_lsdb_with_the_same_rows_units_and_provenance(hats_pred):
    from explorer.survey.sources import hats_properties

    back = lsdb.open_catalog(hats_pred / "pred_hats").compute()
    table = pd.read_parquet(hats_pred / "pred.parquet")
    back = back.set_index("id").loc[table["id"].astype(str)].reset_index()  # HATS orders by sky pixel
    _same_rows(back[table.columns], table)
    props = hats_properties(hats_pred / "pred_hats")
    assert props["irox_units"]["w3_mean_mag"] == "mag" and props["irox_units"]["ra_deg"] == "deg"
    prov = props["irox_provenance"]
    assert len(prov["predictor_sha256"]) == 64 and len(prov["models_manifest_sha256"]) == 64


def test_a_hats_catalog_of_latents_predicts_like_the_hdf5_catalog(hats_pred, tmp_path):
    from explorer.survey.output import write_latent_hats
    from explorer.survey.predict import predict_survey

    write_latent_hats(DEMO_CATALOG, tmp_path / "latents", models="default", rows=300)
    rep = predict_survey(tmp_path / "latents", "default", tmp_path / "p.parquet", progress=False)
    assert rep["summary"]["failed"] == 0 and rep["summary"]["rows_written"] == 300
    got = pd.read_parquet(tmp_path / "p.parquet").set_index("id")
    table = pd.read_parquet(hats_pred / "pred.parquet")
    got = got.loc[table["id"].astype(str)].reset_index()
    # latents encoded in one batch of 300 vs three of 100: float32 last digits
    _same_rows(got[table.columns], table, rtol=1e-4)


def test_crossmatch_wise_joins_with_a_small_allwise_hats_catalog(hats_pred, tmp_path, capsys):
    from explorer.cli import main

    ours = pd.read_parquet(hats_pred / "pred.parquet")
    rng = np.random.default_rng(0)
    near = ours.iloc[:200]
    far = pd.DataFrame({"ra": rng.uniform(0, 360, 50), "dec": rng.uniform(-80, -70, 50)})
    wise = pd.DataFrame({
        "designation": [f"J{i:06d}" for i in range(250)],
        "ra": np.r_[near["ra_deg"].to_numpy() + 1.0 / 3600 / np.cos(np.radians(near["dec_deg"])), far["ra"]],
        "dec": np.r_[near["dec_deg"].to_numpy(), far["dec"]],
        "w1mpro": rng.normal(14, 1, 250),
    })  # fmt: skip
    lsdb.from_dataframe(wise, ra_column="ra", dec_column="dec", catalog_name="allwise").write_catalog(
        tmp_path / "allwise", progress_bar=False
    )
    rc = main(["crossmatch-wise", str(hats_pred / "pred_hats"), str(tmp_path / "allwise"), "--out",
               str(tmp_path / "x"), "--radius", "3", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["n_matches"] == 200
    x = lsdb.open_catalog(tmp_path / "x").compute()
    assert sorted(x["id"].astype(str)) == sorted(near["id"].astype(str))
    np.testing.assert_allclose(x["_dist_arcsec"], 1.0, atol=1e-3)
    assert {"designation", "w1mpro", "w3_mean_mag"} <= set(x.columns)


def test_attribute_sample_as_dask_tasks_equals_the_in_process_ranking(tmp_path):

    from explorer.attribution.explain import catalog_target_factory, reference_spectra
    from explorer.attribution.report import rank_catalog_sample
    from explorer.catalog import Catalog
    from explorer.ml.registry import load_models
    from explorer.ml.threads import torch_threads
    from explorer.survey.attribute import rank_sample_survey, write_line_shares

    engine = {
        "n_baselines": 4,
        "n_steps": 8,
        "max_steps": 8,
        "tol": 0.05,
    }  # small: the test is on the plumbing
    bundle = load_models("default")
    with Catalog(DEMO_CATALOG) as cat, torch_threads(1):  # the workers' one thread: same float32 sums
        factory = catalog_target_factory(bundle, cat, reference_spectra(bundle, cat, engine["n_baselines"]))
        ref, _ = rank_catalog_sample(factory, cat, ["W3", "qpah"], 4, seed=3, **engine)
    got, _, run = rank_sample_survey(
        DEMO_CATALOG, bundle, ["W3", "qpah"], 4, seed=3, chunk=2, workers=2, **engine
    )
    assert (run["chunks"], run["done"], run["failed"]) == (2, 2, [])
    assert len(run["peak_rss_mb_per_worker"]) == 2
    for t in ("W3", "qpah"):
        assert got[t].ranking.galaxy_ids == ref[t].ranking.galaxy_ids and len(got[t].per_galaxy) == 4
        np.testing.assert_allclose(got[t].ranking.share, ref[t].ranking.share, rtol=1e-5, atol=1e-7)
        assert [r["index"] for r in got[t].per_galaxy] == [r["index"] for r in ref[t].per_galaxy]
    parquet, csv = write_line_shares(got, tmp_path)
    table = pd.read_parquet(parquet)
    assert len(table) == 8 and set(table["target"]) == {"W3", "qpah"} and "share_Halpha" in table.columns
    assert csv.is_file()


def test_predict_on_an_existing_scheduler(tmp_path):
    from distributed import LocalCluster

    from explorer.survey.predict import predict_survey

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rep = predict_survey(
            DEMO_CATALOG, "default", tmp_path / "p.parquet", scheduler=cluster.scheduler_address, chunk=100,
            rows=200, progress=False,
        )  # fmt: skip
    s = rep["summary"]
    assert (s["workers"], s["done"], s["failed"], s["rows_written"]) == (1, 2, 0, 200)
    assert list(rep["workers"]) != ["in-process"]


def test_a_paper_layout_table_is_imported_and_checked_against_the_model(tmp_path):
    from explorer.catalog import Catalog
    from explorer.errors import ModelError
    from explorer.io.paper_table import export_paper_table
    from explorer.ml.registry import load_models
    from explorer.survey.predict import predict_survey

    bundle = load_models("default", components=["encoder"])
    with Catalog(DEMO_CATALOG) as cat:
        lat = bundle.catalog_latents(cat, np.arange(40))
        export_paper_table(cat, tmp_path / "sdss_wise_cross_reg1.csv", latents=lat, rows=40)
    # the release has no ugriz: the shipped model (spectrum + ugriz inputs) must say so by name
    with pytest.raises(ModelError, match="no ugriz photometry.*--inputs paper"):
        predict_survey(
            tmp_path / "sdss_wise_cross_reg1.csv", "default", tmp_path / "p.parquet", progress=False
        )
    assert (tmp_path / "p.parquet.parts" / "input_latents.h5").is_file()  # imported once, reused on a re-run


def test_the_survey_benchmark_runs_on_a_few_rows(tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "benchmarks/survey_bench.py", "--rows", "200", "--chunk", "50", "--out", str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": "."},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert [r["workers"] for r in res["runs"]] == [1, 2] and all(r["rows"] == 200 for r in res["runs"])
    assert (
        res["projection"]["hours"]["DESI (20 M spectra)"]
        > res["projection"]["hours"]["SDSS (1 M spectra)"]
        > 0
    )
    assert json.loads(proc.stdout) == res  # stdout is the JSON and nothing else
