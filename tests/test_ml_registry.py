"""Model directory: train -> save -> load with checksums -> evaluate, and the errors for bad files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from explorer.errors import ModelError
from explorer.ml.registry import MANIFEST, load_models, verify
from explorer.testing.toy import make_toy_catalog

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model directory trained on a toy catalog with a planted relation."""
    from explorer.ml.train import train_encoder, train_predictor

    root = tmp_path_factory.mktemp("ml")
    cat = make_toy_catalog(root / "toy.h5", n=500, seed=2)
    mdir = root / "models" / "tiny"
    info = train_encoder(
        cat, str(mdir), widths="8,16,32", decoder_hidden="16,32,64", epochs=2, batch_size=32,
        max_minutes=None, n_threads=1, progress=False,
    )  # fmt: skip
    summary = train_predictor(
        cat, str(mdir), n_members=2, hidden="32,32", epochs=25, n_threads=1, progress=False,
        paper_recipe_minutes=0.05,
    )  # fmt: skip
    return cat, mdir, info, summary


def test_training_writes_manifest_with_checksums(trained):
    cat, mdir, info, summary = trained
    man = json.loads((mdir / MANIFEST).read_text())
    for f in ("encoder.pt", "predictor.pt", "properties.pt", "paper_mlp.pt", "photometry_only.pt"):
        assert len(man["files"][f]["sha256"]) == 64
    assert man["components"]["predictor"]["config"]["n_members"] == 2
    assert man["catalog"]["sha256"] and man["catalog"]["simulated"] is True
    assert "seed" in man and "training_command" in man
    assert man["total_bytes"] < 50 * 1024**2
    assert len(summary["predictor"]["cov_scale"]) == 4


def test_load_and_predict(trained):
    cat, mdir, _, _ = trained
    b = load_models(mdir)
    from explorer.catalog import Catalog

    c = Catalog(cat)
    idx = c.split_indices("test")[:3]
    f, _ = c.spectra(idx)
    t = c.table
    tot = np.column_stack([t[f"mag_{x}_total"][idx] for x in "ugriz"])
    fib = np.column_stack([t[f"mag_{x}_fiber"][idx] for x in "ugriz"])
    post = b.predict(f, z=t["z"][idx], spec_norm=t["spec_norm"][idx], mag_total=tot, mag_fiber=fib)
    assert post.mean_mag.shape == (3, 4) and post.cov_mag.shape == (3, 4, 4)
    assert post.sample(1000, np.random.default_rng(0)).shape == (3, 1000, 4)
    assert np.all(np.linalg.eigvalsh(post.cov_mag) > 0)
    sig = np.full((3, 4), 0.1)
    obs = b.predict(
        f, z=t["z"][idx], spec_norm=t["spec_norm"][idx], mag_total=tot, mag_fiber=fib, sigma_obs_mag=sig
    )
    assert obs.kind == "observation"
    np.testing.assert_allclose(obs.sigma_mag**2, post.sigma_mag**2 + 0.01, rtol=1e-9)
    # same answer from precomputed latents
    post2 = b.predict(
        latents=b.encode(f), z=t["z"][idx], spec_norm=t["spec_norm"][idx], mag_total=tot, mag_fiber=fib
    )
    np.testing.assert_allclose(post2.mean_mag, post.mean_mag)
    # same answer as the catalog path used by evaluate (input_table matches the catalog columns)
    from explorer.ml.data import build_features

    x = build_features(b.predictor.feature_kind, t, idx, b.encode(f))
    np.testing.assert_allclose(b.predictor.predict(x).mean_mag, post.mean_mag)
    pp = b.predict_properties(f, z=t["z"][idx], spec_norm=t["spec_norm"][idx], mag_total=tot, mag_fiber=fib)
    assert pp.qpah.shape == (3,) and np.all((pp.p_agn >= 0) & (pp.p_agn <= 1))


def test_evaluate_returns_all_metrics_and_writes_card(trained, tmp_path):
    from explorer.io.sdss import real_sdss_spectra
    from explorer.ml.evaluate import evaluate

    cat, mdir, _, _ = trained
    r = evaluate(
        cat, str(mdir), figures_dir=tmp_path / "figs", write=True, floors={"qpah_frac": 0.04},
        real_spectra=real_sdss_spectra(),
    )  # fmt: skip
    keys = {
        "chi2_n",
        "mean_chi",
        "iqr_sigma_chi",
        "bias",
        "sigma_iqr",
        "outlier_frac",
        "coverage68",
        "coverage95",
    }
    for block in (r, r["baselines"]["paper_mlp"], r["baselines"]["photometry_only"]):
        for band in ("W1", "W2", "W3", "W4"):
            assert keys <= set(block["bands"][band])
        for col in ("W1-W2", "W2-W3", "W3-W4"):
            assert keys <= set(block["colors"][col])
    assert r["floors"] == {"values": {"qpah_frac": 0.04}, "source": "argument"}
    assert r["properties"]["qpah"]["floor"] == 0.04 and r["properties"]["lbol_agn"]["floor"] is None
    assert {"frac_scatter", "floor"} <= set(r["properties"]["qpah"])
    assert {"scatter_dex", "floor"} <= set(r["properties"]["lbol_agn"])
    assert "scatter_dex" in r["properties"]["log_sfr"]
    assert r["autoencoder"]["test_median_reduced_chi2"] > 0
    assert set(r["autoencoder"]["real_sdss_reduced_chi2"]) == {
        "NGC3073_SDSS_DR18.fits",
        "NGC3522_SDSS_DR18.fits",
    }
    for name in ("pred_vs_obs.png", "chi_hist.png", "coverage_pit.png", "properties.png"):
        assert (tmp_path / "figs" / name).stat().st_size > 10_000
    card = (mdir / "MODEL_CARD.md").read_text()
    assert "chi2_n" in card and "paper_mlp" in card
    verify(mdir)  # card and evaluation.json were registered with their checksums


def _copy(mdir, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(mdir, dst)
    return dst


def test_corrupt_file_is_named(trained, tmp_path):
    d = _copy(trained[1], tmp_path)
    p = d / "predictor.pt"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one flipped byte
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"predictor\.pt is corrupt.*sha256"):
        load_models(d)


def test_missing_file_and_missing_manifest_are_named(trained, tmp_path):
    d = _copy(trained[1], tmp_path)
    (d / "paper_mlp.pt").unlink()
    with pytest.raises(ModelError, match=r"paper_mlp\.pt is listed .* but missing"):
        load_models(d)
    (d / MANIFEST).unlink()
    with pytest.raises(ModelError, match="manifest.json is missing"):
        load_models(d)
    with pytest.raises(ModelError, match="does not exist"):
        load_models(tmp_path / "nowhere")


def test_mismatched_files_are_named(trained, tmp_path):
    """An encoder with a different latent count, registered with a valid checksum, does not fit."""
    from explorer.ml.encoder import EncoderConfig, SpectrumEncoderModel, build_autoencoder
    from explorer.ml.registry import register_file

    d = _copy(trained[1], tmp_path)
    cfg = EncoderConfig(n_latent=4, widths=(8, 16, 32), decoder_hidden=(16, 32, 64))
    SpectrumEncoderModel(build_autoencoder(cfg), cfg).save(d / "encoder.pt")
    register_file(d, "encoder.pt")
    with pytest.raises(ModelError, match=r"predictor\.pt expects 18 inputs but encoder\.pt gives 4 latents"):
        load_models(d)
    # a checkpoint that is not a torch file, with a matching checksum
    d2 = _copy(trained[1], tmp_path / "b")
    (d2 / "properties.pt").write_text("hello")
    register_file(d2, "properties.pt")
    with pytest.raises(ModelError, match=r"properties\.pt cannot be read"):
        load_models(d2)


def test_throughput_hook_reports_the_three_speeds():
    from benchmarks.throughput import measure_throughput

    r = measure_throughput(n=128, n_threads=1)
    assert r["encode_predict_spectra_per_s"] > 0
    assert 0 < r["single_posterior_1000_samples_ms"] < 5000
    assert 0 < r["model_load_s"] < 30
    assert r["n_members"] == 5


def test_command_line_is_written_as_typed(monkeypatch):
    import sys

    from explorer.ml.registry import command_line

    monkeypatch.setattr(sys, "argv", ["/somewhere/explorer/__main__.py", "train-encoder", "cat.h5"])
    assert command_line() == "python -m explorer train-encoder cat.h5"
    monkeypatch.setattr(sys, "argv", ["script.py", "x"])
    assert command_line() == "python script.py x"


def test_same_catalog_sees_through_a_new_provenance_timestamp(tmp_path):
    """A catalog simulated again by the same command differs in its bytes (the provenance records
    when it was made), not in its data: same_catalog matches it on its data digest, or, for a record
    written before the digest existed, on the provenance with the times aside."""
    import h5py

    from explorer.catalog import Catalog
    from explorer.ml.registry import catalog_provenance, same_catalog

    a = make_toy_catalog(tmp_path / "a.h5", n=30, seed=0)
    with Catalog(a) as cat:
        rec = catalog_provenance(cat)
    b = tmp_path / "b.h5"
    shutil.copy(a, b)
    with h5py.File(b, "r+") as f:
        prov = json.loads(f.attrs["provenance"])
        prov["created"] = "2031-01-01T00:00:00+00:00"
        f.attrs["provenance"] = json.dumps(prov, sort_keys=True)
    with Catalog(b) as cat:
        new_prov = cat.provenance
    assert same_catalog(a, rec) == (True, "file sha256")
    assert same_catalog(b, rec) == (True, "data sha256")
    legacy = {k: v for k, v in rec.items() if k != "content_sha256"}
    assert same_catalog(b, legacy, new_prov) == (True, "provenance (times aside)")
    assert same_catalog(b, legacy, dict(new_prov, seed=-1))[0] is False
    assert same_catalog(b, legacy)[0] is False  # no provenance to compare: only the bytes count
    with h5py.File(b, "r+") as f:  # one value of the data changed
        f["table/z"][0] = f["table/z"][0] + 0.01
    assert same_catalog(b, rec) == (False, "data sha256")
