"""The mid-IR spectrum's information ladder (explorer.ml.midir_ladder) on a small simulated v2 run."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ModelError

pytest.importorskip("bagpipes", reason="bagpipes (optional 'simulate' extra) is needed to simulate")


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from explorer.simulate.run import simulate_catalog

    d = tmp_path_factory.mktemp("midir_ladder")
    return simulate_catalog(240, 7, d / "sim.h5", workers=1, progress=False)


@pytest.mark.slow
def test_ladder_scores_every_rung_on_train_midirs_test_galaxies(sim):
    from explorer.catalog import Catalog
    from explorer.ml.midir_ladder import midir_ladder, midir_ladder_markdown
    from explorer.ml.midir_train import _test_rows

    out = midir_ladder(sim, rungs=("truth_visible", "basis"), epochs=3, n_members=1, max_eval=20,
                       n_draws=50, progress=False, command="python -m explorer midir-ladder sim.h5")  # fmt: skip
    with Catalog(sim) as cat:
        n_test = len(_test_rows(cat.split_indices("test"), 20, 0))
        n_train = len(cat.split_indices("train"))
    assert out["n_test_evaluated"] == n_test and out["n_train"] == n_train
    assert list(out["rungs"]) == ["basis", "truth_visible"]  # the basis row first, whatever the order asked
    assert set(out["rungs"]["truth_visible"]) >= {"optical", "optical+wise"}
    for m in (out["rungs"]["basis"]["projection"], out["rungs"]["truth_visible"]["optical+wise"]):
        assert m["n_galaxies"] == n_test and m["rissaki"]["n_random"] == n_test
        groups = m["rissaki_by_group"]
        assert (
            sum(
                groups[k]["n"]
                for k in ("W3 and W4 detected", "W3 detected, W4 upper limit", "W3 upper limit")
            )
            == n_test
        )
    # 12 principal components of 170 simulated spectra reproduce held-out spectra far inside chi^2 < 5
    assert out["rungs"]["basis"]["projection"]["rissaki"]["all_median_chi2"] < 1.0
    shipped = {
        "shipped_design": "pca",
        "designs": {"pca": {"test": {"optical": out["rungs"]["truth_visible"]["optical"]}}},
    }
    lines = midir_ladder_markdown(out, "python -m explorer midir-ladder sim.h5", shipped)
    assert "`python -m explorer midir-ladder sim.h5`" in lines[0]
    assert sum(line.startswith("| exact visible truth") for line in lines) == 1  # one row, both modes
    assert any(line.startswith("| the shipped model (`pca`") for line in lines)
    header = next(line for line in lines if line.startswith("| galaxies | n |"))
    assert header.split(" | ")[2:] == ["basis", "visible", "shipped |"]
    row = next(line for line in lines if line.startswith("| W3 and W4 detected |"))
    n = out["rungs"]["basis"]["projection"]["rissaki_by_group"]["W3 and W4 detected"]["n"]
    cells = row.split(" | ")
    assert cells[1] == str(n) and len(cells) == 5 and len(cells[3].split(" / ")) == 2  # optical / + WISE


def test_truth_every_and_unhidden_add_the_spectrums_other_inputs(sim):
    from explorer.catalog import Catalog
    from explorer.ml.ladder import truth_features
    from explorer.ml.midir_ladder import SPECTRUM_EXTRA, rung_features

    with Catalog(sim) as cat:
        table, idx = cat.table, np.arange(30)
        every = rung_features(table, idx, "truth_every")
        everything = truth_features(table, idx, "truth_all")
        ldust = np.asarray(table["truth_log_ldust"], float)[idx]
    n_all = everything.shape[1] - 2  # truth_all's columns, then its two flags (no burst, no AGN)
    assert every.shape == (30, everything.shape[1] + len(SPECTRUM_EXTRA))
    np.testing.assert_array_equal(every[:, :n_all], everything[:, :n_all])
    k = [c for c, _ in SPECTRUM_EXTRA].index("truth_log_ldust")
    np.testing.assert_array_equal(every[:, n_all + k], ldust)
    np.testing.assert_array_equal(every[:, -2:], everything[:, -2:])  # the flags stay last
    with Catalog(sim) as cat:
        unhidden = rung_features(cat.table, idx, "truth_unhidden")
        visible = truth_features(cat.table, idx, "truth_visible")
    assert unhidden.shape == (30, visible.shape[1] + len(SPECTRUM_EXTRA))
    np.testing.assert_array_equal(unhidden[:, : visible.shape[1] - 2], visible[:, :-2])
    np.testing.assert_array_equal(unhidden[:, -2 - len(SPECTRUM_EXTRA) : -2], every[:, n_all:-2])
    with Catalog(sim) as cat:  # a rung with columns added by name
        plus = rung_features(cat.table, idx, "truth_visible+truth_log_ldust+truth_sfh_age_gyr")
        with pytest.raises(ModelError, match="truth_nonsense"):
            rung_features(cat.table, idx, "truth_visible+truth_nonsense")
    np.testing.assert_array_equal(plus[:, :-4], visible[:, :-2])
    np.testing.assert_array_equal(plus[:, -4], ldust)
    np.testing.assert_array_equal(
        plus[:, -3], np.log10(np.asarray(cat.table["truth_sfh_age_gyr"], float)[idx])
    )


def test_ladder_refuses_a_catalog_without_truth_or_spectra(tmp_path):
    from explorer.ml.midir_ladder import midir_ladder
    from explorer.testing.toy import make_toy_catalog

    with pytest.raises(ModelError, match="truth_"):
        midir_ladder(make_toy_catalog(tmp_path / "toy_ir.h5", n=60, ir_rest=True), progress=False)
    with pytest.raises(ModelError, match="no rest-frame IR spectra"):
        midir_ladder(make_toy_catalog(tmp_path / "toy.h5", n=60), progress=False)
    with pytest.raises(ModelError, match="unknown rung"):
        midir_ladder(tmp_path / "toy.h5", rungs=("spectrum",), progress=False)


def test_basis_rung_without_a_trained_model_projects_on_the_pca_basis():
    from explorer.ml.midir_fit import MidIRConfig
    from explorer.ml.midir_ladder import _basis_rung

    rng = np.random.default_rng(0)
    wave = np.geomspace(1.0, 40.0, 80)
    comps = np.stack([np.log10(wave), np.sin(wave / 3.0)])
    y = rng.normal(size=(300, 2)) @ comps + rng.normal(size=(300, 1))  # exactly two shape components
    d = {"train": {"log_fnu": y[:200]},
         "test": {"log_fnu": y[200:], "wave_um": wave, "wise_is_ul": np.zeros((100, 4), bool)}}  # fmt: skip
    exact = _basis_rung(d, MidIRConfig(n_latent=2))
    assert exact["rissaki"]["n_chi2_below_5"] == 100 and exact["rissaki"]["all_median_chi2"] < 1e-12
    short = _basis_rung(d, MidIRConfig(n_latent=1))  # one component cannot hold two
    assert short["rissaki"]["all_median_chi2"] > 1e-6


def test_rung_names_add_columns_with_errors_and_the_encoders_features(sim):
    from explorer.catalog import Catalog
    from explorer.ml.midir_ladder import SPECTRUM_EXTRA, parse_rung, rung_features, rung_label

    assert parse_rung("truth_visible+truth_log_ldust~0.2+truth_sfh_age_gyr") == (
        "truth_visible",
        (("truth_log_ldust", None), ("truth_sfh_age_gyr", "log")),
        {"truth_log_ldust": 0.2},
    )
    assert parse_rung("truth_unhidden")[1] == SPECTRUM_EXTRA
    with pytest.raises(ModelError, match="COLUMN~SIGMA"):
        parse_rung("truth_visible+truth_log_ldust~big")
    assert rung_label("encoder+truth_log_ldust~0.2", short=True) == "encoder + log_ldust ± 0.2"
    with Catalog(sim) as cat:
        table = cat.table
        idx = np.arange(cat.n)
        exact = rung_features(table, idx, "truth_visible+truth_log_ldust")
        noisy = rung_features(table, idx, "truth_visible+truth_log_ldust~0.2")
        enc = rung_features(table, idx, "encoder+truth_log_ldust", encoder_x=np.ones((cat.n, 3)))
        with pytest.raises(ModelError, match="model directory"):
            rung_features(table, idx, "encoder")
    err = noisy[:, -3] - exact[:, -3]  # log L_dust stands before the two flags
    np.testing.assert_array_equal(np.delete(noisy, -3, 1), np.delete(exact, -3, 1))
    assert 0.15 < err.std() < 0.25 and abs(err.mean()) < 0.05  # 240 draws of N(0, 0.2)
    np.testing.assert_array_equal(enc[:, :3], 1.0)
    np.testing.assert_array_equal(enc[:, 3], exact[:, -3])


def test_encoder_rung_needs_a_model_directory(sim):
    from explorer.ml.midir_ladder import midir_ladder

    with pytest.raises(ModelError, match="unknown rung"):
        midir_ladder(sim, rungs=("spectrum+truth_log_ldust",), progress=False)
    with pytest.raises(ModelError, match="model directory"):
        midir_ladder(sim, rungs=("encoder",), progress=False)


@pytest.mark.slow
def test_encoder_rung_trains_on_the_model_directorys_features(sim, tmp_path):
    from explorer.catalog import Catalog
    from explorer.ml.midir_ladder import _encoder_features, midir_ladder
    from explorer.testing.models import write_random_models

    models = write_random_models(tmp_path / "models")
    out = midir_ladder(sim, rungs=("encoder", "encoder+truth_log_ldust"), epochs=2, n_members=1, max_eval=20,
                       n_draws=30, progress=False, models=models, probes=("truth_log_ldust",))  # fmt: skip
    assert list(out["rungs"]) == ["encoder", "encoder+truth_log_ldust"]
    probe = out["probes"]["truth_log_ldust"]
    assert probe["n_test"] == out["n_test_evaluated"] and probe["robust_sd"] > 0
    for res in out["rungs"].values():
        assert res["optical+wise"]["n_galaxies"] == out["n_test_evaluated"]
    with Catalog(sim) as cat:
        x = _encoder_features(cat, np.arange(5), models, progress=False)
    assert x.shape[0] == 5 and np.isfinite(x).all()


def _fake_ladder(command: str, rung: str, n_below: int, digest: str = "abc") -> dict:
    m = {"rissaki": {"n_chi2_below_5": n_below, "n_random": 100, "all_fraction_below_5": n_below / 100,
                     "all_median_chi2": 3.0},
         "rissaki_by_group": {"W3 upper limit": {"n": 7, "fraction_below_5": 0.5, "median_chi2": 4.0}}}  # fmt: skip
    return {"command": command, "catalog": {"content_sha256": digest}, "config": {"design": "pca"},
            "n_train": 80, "n_test_evaluated": 20, "rungs": {rung: {"optical": m, "optical+wise": m}}}  # fmt: skip


def test_from_json_merges_earlier_runs_into_one_readme_block(tmp_path, capsys):
    import json

    from explorer.cli import main
    from explorer.ml.midir_ladder import merge_ladders

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(
        json.dumps(
            _fake_ladder("python -m explorer midir-ladder c.h5 --rungs truth_visible", "truth_visible", 57)
        )
    )
    b.write_text(
        json.dumps(
            _fake_ladder("python -m explorer midir-ladder c.h5 --rungs truth_every", "truth_every", 94)
        )
    )
    readme = tmp_path / "README.md"
    readme.write_text("# x\n")
    assert main(["midir-ladder", "--from-json", f"{a},{b}", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "--rungs truth_visible`, `python -m explorer midir-ladder c.h5 --rungs truth_every`" in text
    assert "| exact visible truth" in text and "| 57/100 |" in text and "| 94/100 |" in text
    assert "| W3 upper limit | 7 | 0.50 / 0.50 | 0.50 / 0.50 |" in text
    merged = merge_ladders([json.loads(a.read_text()), json.loads(b.read_text())])
    again = merge_ladders([merged])  # a merged result merged again keeps every run's command
    assert again["commands"] == merged["commands"] and len(again["commands"]) == 2
    other = _fake_ladder("python -m explorer midir-ladder d.h5", "truth_all", 73, digest="def")
    with pytest.raises(ModelError, match="cannot be merged"):
        merge_ladders([json.loads(a.read_text()), other])
    assert main(["midir-ladder", "--from-json", str(tmp_path / "missing.json")]) != 0
    assert "missing.json: not a midir-ladder --json result" in capsys.readouterr().err
    assert main(["midir-ladder"]) != 0
    assert "needs a CATALOG, or --from-json" in capsys.readouterr().err


def test_probe_column_recovers_a_known_noise_level():
    from explorer.ml.midir_ladder import probe_column

    rng = np.random.default_rng(0)
    x = {k: rng.normal(size=(n, 3)) for k, n in (("train", 4000), ("valid", 500), ("test", 2000))}
    y = {k: v @ np.array([1.0, -0.5, 0.2]) + 0.1 * rng.normal(size=len(v)) for k, v in x.items()}
    y["train"][:10] = np.nan  # rows without a truth are left out
    p = probe_column(x, y, epochs=30)
    assert p["n_test"] == 2000 and abs(p["median_offset"]) < 0.03
    assert 0.08 < p["robust_sd"] < 0.13 and 0.08 < p["sd"] < 0.14  # the noise, 0.1
    assert 1.0 < p["truth_sd"] < 1.3
