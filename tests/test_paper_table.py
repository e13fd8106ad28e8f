"""The paper's release layout: import -> latent catalog -> train (paper inputs) -> evaluate; export round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.catalog import Catalog
from explorer.errors import CatalogError
from explorer.io.paper_table import PAPER_COLUMNS, export_paper_table, import_paper_table


def write_paper_csv(path, n: int, seed: int = 0) -> pd.DataFrame:
    """A release-layout table with a planted latent -> WISE relation (W4 often undetected)."""
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, 6))
    z = rng.uniform(0.02, 0.25, n)
    reg = 10 ** rng.uniform(0.5, 2.0, n)
    base = np.array([14.0, 13.8, 11.5, 9.5]) - 2.5 * np.log10(reg)[:, None] + 0.3 * lat[:, :4]
    mags = base + rng.normal(scale=0.05, size=(n, 4))
    sig = np.tile([0.03, 0.04, 0.08, 0.2], (n, 1))
    undetected = rng.random((n, 4)) < np.array([0.0, 0.0, 0.25, 0.6])
    sig[undetected] = 9999.0
    df = pd.DataFrame(
        {**{f"spender_{i}": lat[:, i] for i in range(6)}, "Z": z, "reg": reg,
         **{f"w{k + 1}mpro": mags[:, k] for k in range(4)}, **{f"w{k + 1}sigmpro": sig[:, k] for k in range(4)}}
    )  # fmt: skip
    df[PAPER_COLUMNS].to_csv(path, index=False)
    return df


def test_import_layout_split_and_upper_limits(tmp_path):
    df0 = write_paper_csv(tmp_path / "sdss_wise_cross_reg0.csv", 50, seed=1)
    df1 = write_paper_csv(tmp_path / "sdss_wise_cross_reg1.csv.gz", 100, seed=2)
    pd.DataFrame({"test_ids": [3, 7, 42]}).to_csv(tmp_path / "test_ids.csv", index=False)
    out = import_paper_table(
        [tmp_path / "sdss_wise_cross_reg0.csv", tmp_path / "sdss_wise_cross_reg1.csv.gz"],
        tmp_path / "paper.h5",
        test_ids=tmp_path / "test_ids.csv",
    )
    assert out["n_galaxies"] == 150 and out["splits"]["test"] == 3
    with Catalog(tmp_path / "paper.h5") as cat:
        assert not cat.has_spectra and cat.latents.shape == (150, 6)
        test_ids = sorted(cat.table["id"][cat.table["split"] == "test"])
        assert test_ids == ["sdss_wise_cross_reg1:3", "sdss_wise_cross_reg1:42", "sdss_wise_cross_reg1:7"]
        i = cat.index_of("sdss_wise_cross_reg1:7")
        np.testing.assert_allclose(cat.latents[i], df1.loc[7, [f"spender_{k}" for k in range(6)]], rtol=1e-6)
        assert cat.table["spec_norm"][i] == pytest.approx(df1.loc[7, "reg"])
        ul = cat.table["w4_is_ul"]
        assert np.array_equal(ul[:50], df0["w4sigmpro"].to_numpy() == 9999)
        assert np.all(np.isnan(cat.table["w4_sigma_mag"][ul]))
        with pytest.raises(CatalogError, match="latent catalog"):
            cat.spectrum(0)
        assert len(cat.provenance["inputs"][0]["sha256"]) == 64


def test_missing_column_names_file_and_column(tmp_path):
    df = write_paper_csv(tmp_path / "t.csv", 10)
    df.drop(columns=["w3sigmpro"]).to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(CatalogError, match=r"t\.csv: paper table is missing columns \['w3sigmpro'\]"):
        import_paper_table([tmp_path / "t.csv"], tmp_path / "p.h5")


def test_nan_latents_rows_are_dropped_and_reported(tmp_path):
    df = write_paper_csv(tmp_path / "reg1.csv", 30)
    df.loc[[4, 11], "spender_2"] = np.nan
    df.to_csv(tmp_path / "reg1.csv", index=False)
    out = import_paper_table([tmp_path / "reg1.csv"], tmp_path / "p.h5")
    assert out["n_galaxies"] == 28
    assert (
        len(out["rejected"]) == 1
        and "reg1.csv: 2 row(s) dropped, NaN/inf latents: rows [4, 11]" in out["rejected"][0]
    )
    with Catalog(tmp_path / "p.h5") as cat:
        assert "reg1:4" not in set(cat.table["id"]) and cat.provenance["rejected"] == out["rejected"]


def test_export_import_round_trip(tmp_path):
    write_paper_csv(tmp_path / "reg1.csv", 80, seed=3)
    import_paper_table([tmp_path / "reg1.csv"], tmp_path / "a.h5", seed=5)
    export_paper_table(
        tmp_path / "a.h5", tmp_path / "sdss_wise_cross_reg1.csv", test_ids_out=tmp_path / "test_ids.csv"
    )
    exported = pd.read_csv(tmp_path / "sdss_wise_cross_reg1.csv")
    assert list(exported.columns) == PAPER_COLUMNS
    import_paper_table(
        [tmp_path / "sdss_wise_cross_reg1.csv"], tmp_path / "b.h5", test_ids=tmp_path / "test_ids.csv"
    )
    with Catalog(tmp_path / "a.h5") as a, Catalog(tmp_path / "b.h5") as b:
        np.testing.assert_allclose(a.latents, b.latents, rtol=1e-6)
        for col in ("z", "spec_norm", "w1_mag_vega", "w3_sigma_mag", "w4_is_ul"):
            np.testing.assert_allclose(
                np.asarray(a.table[col], float), np.asarray(b.table[col], float), rtol=1e-9
            )
        assert np.array_equal(a.table["split"] == "test", b.table["split"] == "test")


def test_train_and_evaluate_on_a_latent_catalog(tmp_path, capsys):
    from explorer.ml.evaluate import evaluate
    from explorer.ml.train import train_predictor

    write_paper_csv(tmp_path / "reg1.csv", 600, seed=4)
    import_paper_table([tmp_path / "reg1.csv"], tmp_path / "p.h5")
    summary = train_predictor(
        tmp_path / "p.h5", str(tmp_path / "m"), n_members=1, features="paper", epochs=3, hidden="16,16",
        properties=True, baselines=False, progress=False,
    )  # fmt: skip
    assert "skipped" in str(summary["properties"])
    assert (tmp_path / "m" / "domain.json").is_file()
    res = evaluate(tmp_path / "p.h5", str(tmp_path / "m"), progress=False)
    assert set(res["bands"]) == {"W1", "W2", "W3", "W4"}
    assert "autoencoder" not in res
    # the command line's plain output: both conventions, the paper's Table 3 beside ours
    from explorer.cli import main

    main(["evaluate", str(tmp_path / "p.h5"), "--models", str(tmp_path / "m")])
    out = capsys.readouterr().out
    assert "chi2_n_paper" in out and "(paper's Table 3: 2.23)" in out and out.count("chi2_n ") == 7


def test_cli_train_predictor_accepts_inputs_paper():
    from explorer.cli import build_parser

    args = build_parser().parse_args(["train-predictor", "x.h5", "--inputs", "paper"])
    assert args.features == "paper"
    assert build_parser().parse_args(["train-predictor", "x.h5"]).features == "spectrum"

    # one option under two names: --features takes "paper" too, --inputs the spectrum kinds
    def features(*opts):
        return build_parser().parse_args(["train-predictor", "x.h5", *opts]).features

    assert features("--features", "paper") == "paper" and features("--inputs", "spectrum_ap") == "spectrum_ap"
    with pytest.raises(SystemExit):
        features("--inputs", "latents")


def test_help_lists_the_real_data_verbs_with_the_others(capsys):
    from explorer.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    text = capsys.readouterr().out
    assert exc.value.code == 0
    for verb in ("train-predictor", "evaluate", "serve", "build-catalog", "import-paper-table",
                 "export-paper-table", "predict"):  # fmt: skip
        assert f"    {verb}" in text, verb


def test_info_and_predict_on_a_latent_catalog(tmp_path, capsys):
    from astropy.table import Table

    from explorer.cli import main
    from explorer.ml.train import train_predictor

    write_paper_csv(tmp_path / "reg1.csv", 300, seed=6)
    import_paper_table([tmp_path / "reg1.csv"], tmp_path / "p.h5")
    assert main(["info", str(tmp_path / "p.h5"), "--json"]) == 0
    assert '"content": "latents"' in capsys.readouterr().out
    train_predictor(tmp_path / "p.h5", str(tmp_path / "m"), n_members=1, features="paper", epochs=2,
                    hidden="8", properties=False, baselines=False, progress=False)  # fmt: skip
    rc = main(["predict", str(tmp_path / "p.h5"), "--models", str(tmp_path / "m"), "--out", str(tmp_path / "o.fits"),
               "--quiet"])  # fmt: skip
    assert rc == 0
    t = Table.read(tmp_path / "o.fits")
    assert len(t) == 300 and "p_agn" not in t.colnames  # no property heads: no property columns
    # in-domain by construction: at most a few training-like rows beyond the 99.9% thresholds
    assert np.count_nonzero(t["ood_latent"]) <= 10
