"""Evaluation details: the detection-conditioned prediction and the truth-flux reference."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.constants import (
    WISE_BANDS,
    WISE_DEPTH_5SIGMA_MJY,
    mjy_to_vega_mag,
    vega_mag_to_mjy,
    wise_measurement,
)
from explorer.ml.data import wise_targets
from explorer.ml.evaluate import ir_metrics, truth_flux_reference
from explorer.ml.predictor import IRPosterior


def _point_posterior(mag):
    mag = np.asarray(mag, float)
    covs = np.broadcast_to(np.eye(4) * 1e-10, (len(mag), 1, 4, 4)).copy()
    return IRPosterior(mag[:, None, :], covs, "true")


def _observe(flux_mjy, rng):
    """The AllWISE-like measurement model the simulator uses (explorer.constants.wise_measurement)."""
    g = rng.standard_normal((2,) + flux_mjy.shape)
    f_obs, sig, det = wise_measurement(flux_mjy, g[0], g[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(det, mjy_to_vega_mag(np.where(det, f_obs, 1.0), np.arange(4)), np.nan)
        sig_mag = np.where(det, 1.0857 * sig / f_obs, np.nan)
    return mag, sig_mag, ~det


def _table(true_mag, rng):
    flux = vega_mag_to_mjy(true_mag, np.arange(4))
    mag, sig, ul = _observe(flux, rng)
    t = {}
    for b, w in enumerate(WISE_BANDS):
        t[f"truth_{w.lower()}_flux_mjy"] = flux[:, b]
        t[f"{w.lower()}_mag_vega"] = np.where(ul[:, b], 99.0, mag[:, b])
        t[f"{w.lower()}_sigma_mag"] = sig[:, b]
        t[f"{w.lower()}_is_ul"] = ul[:, b]
    return t


def test_detected_mean_equals_mean_for_bright_sources():
    # 100 x the 5-sigma depth in every band
    mag = mjy_to_vega_mag(100 * WISE_DEPTH_5SIGMA_MJY, np.arange(4))[None, :].repeat(3, 0)
    d = _point_posterior(mag).detected_mean_mag()
    assert np.allclose(d, mag, atol=0.003)


def test_detected_mean_is_brighter_near_the_limit():
    # true W4 flux at S/N 1.5: only upward fluctuations are detected
    flux = WISE_DEPTH_5SIGMA_MJY / 5.0 * 1.5
    mag = mjy_to_vega_mag(flux, np.arange(4))[None, :]
    d = _point_posterior(mag).detected_mean_mag()
    assert np.all(d < mag - 0.3)


def test_truth_reference_and_eddington_bias():
    rng = np.random.default_rng(1)
    n = 20000
    # W4 spread around its detection limit, other bands bright
    flux = np.column_stack(
        [
            rng.uniform(20, 200, n) * WISE_DEPTH_5SIGMA_MJY[b] / 5.0
            if b < 3
            else 10 ** rng.uniform(-0.5, 1.5, n) * WISE_DEPTH_5SIGMA_MJY[b] / 5.0
            for b in range(4)
        ]
    )
    t = _table(mjy_to_vega_mag(flux, np.arange(4)), rng)
    idx = np.arange(n)
    ref = truth_flux_reference(t, idx, wise_targets(t, idx))
    for w in ("W1", "W2", "W3"):  # bright: truth scores ~1 either way
        assert abs(ref["truth"]["bands"][w]["chi2_n"] - 1.0) < 0.08
        assert abs(ref["detected"]["bands"][w]["chi2_n"] - 1.0) < 0.08
    # faint W4 detections are biased bright: the truth scores well above 1, the
    # detection-conditioned expectation of the same truth close to 1
    assert ref["truth"]["bands"]["W4"]["chi2_n"] > 1.5
    assert ref["truth"]["bands"]["W4"]["mean_chi"] > 0.3
    assert abs(ref["detected"]["bands"]["W4"]["chi2_n"] - 1.0) < 0.2
    assert "coverage68" not in ref["truth"]["bands"]["W1"]


def test_ir_metrics_pred_choice_and_bad_value():
    rng = np.random.default_rng(2)
    mag = np.full((50, 4), 8.0)
    t = _table(mag, rng)
    tg = wise_targets(t, np.arange(50))
    post = _point_posterior(mag)
    a, b = ir_metrics(post, tg, pred="mean"), ir_metrics(post, tg, pred="detected")
    assert abs(a["bands"]["W1"]["chi2_n"] - b["bands"]["W1"]["chi2_n"]) < 0.2
    import pytest

    from explorer.errors import ModelError

    with pytest.raises(ModelError, match="pred must be"):
        ir_metrics(post, tg, pred="median")


def test_no_reference_without_truth_columns():
    rng = np.random.default_rng(3)
    t = _table(np.full((10, 4), 8.0), rng)
    for w in WISE_BANDS:
        del t[f"truth_{w.lower()}_flux_mjy"]
    assert truth_flux_reference(t, np.arange(10), wise_targets(t, np.arange(10))) is None


def test_chi2_by_class_splits_the_chi2_sum_exactly():
    from explorer.ml.evaluate import CLASS_GROUPS, chi2_by_class

    rng = np.random.default_rng(3)
    n = 400
    mag = np.full((n, 4), 8.0)  # bright in every band: all detected
    t = _table(mag, rng)
    t["class_label"] = np.array(["star-forming", "quenched", "agn", "agn"] * (n // 4))
    t["truth_agn_type"] = np.array([0, 0, 1, 2] * (n // 4), float)
    tg = wise_targets(t, np.arange(n))
    # predict the catalog value exactly, except W3 of the type-2 AGN: 3 sigma too faint
    pred = np.where(tg.detected, tg.mag, 8.0)
    a2 = t["truth_agn_type"] == 2
    pred[a2, 2] += 3 * tg.sigma[a2, 2]
    r = chi2_by_class(_point_posterior(pred), tg, t, np.arange(n), pred="mean")
    assert set(r) == {"W1", "W2", "W3", "W4", "W1-W2", "W2-W3", "W3-W4"}
    assert set(r["W3"]) == set(CLASS_GROUPS)
    w3 = r["W3"]
    assert w3["AGN type 2"]["n"] == n // 4 and np.isclose(w3["AGN type 2"]["chi2_n"], 9.0)
    assert np.isclose(w3["AGN type 2"]["share_of_chi2_sum"], 1.0)
    assert np.isclose(w3["AGN type 2"]["median_chi"], 3.0)
    assert all(
        np.isclose(w3[g]["chi2_n"], 0.0, atol=1e-12) for g in ("star-forming", "quenched", "AGN type 1")
    )
    assert np.isclose(r["W1"]["star-forming"]["chi2_n"], 0.0, atol=1e-12)
    assert r["W1"]["star-forming"]["share_of_chi2_sum"] is None  # nothing to share: the sum is 0
    # the colours that use W3 carry the same offset (sigma_colour > sigma_W3, so chi < 3)
    assert -3.0 < r["W2-W3"]["AGN type 2"]["median_chi"] < 0 < r["W3-W4"]["AGN type 2"]["median_chi"] < 3.0
    assert np.isclose(r["W1-W2"]["AGN type 2"]["chi2_n"], 0.0, atol=1e-12)
    # real catalogs have no truth columns
    assert (
        chi2_by_class(
            _point_posterior(pred), tg, {k: v for k, v in t.items() if k != "class_label"}, np.arange(n)
        )
        is None
    )


def test_ir_metrics_takes_a_precomputed_prediction():
    import pytest

    from explorer.errors import ModelError

    rng = np.random.default_rng(4)
    mag = np.full((40, 4), 9.0)
    tg = wise_targets(_table(mag, rng), np.arange(40))
    post = _point_posterior(mag)
    assert ir_metrics(post, tg, pred="detected") == ir_metrics(post, tg, pred=post.detected_mean_mag())
    with pytest.raises(ModelError, match=r"shape \(40, 4\)"):
        ir_metrics(post, tg, pred=np.zeros((39, 4)))


def _hand_targets():
    """Two galaxies, every band detected, errors chosen so both chi definitions come out round."""
    from explorer.ml.data import WiseTargets

    mag = np.array([[10.0, 11.0, 9.0, 7.0], [12.0, 12.5, 10.0, 8.0]])
    sigma = np.array([[0.04, 0.09, 0.16, 0.25], [0.25, 0.16, 0.09, 0.04]])
    return WiseTargets(mag, sigma, np.zeros((2, 4), bool))


def test_both_chi_definitions_on_hand_made_numbers():
    from explorer.ml.evaluate import chi2_by_class

    tg = _hand_targets()
    # residuals pred - obs: W1 +0.02 / -0.5, W2 +0.09 / 0, W3 0 / -0.045, W4 -0.5 / +0.02
    pred = tg.mag + np.array([[0.02, 0.09, 0.0, -0.5], [-0.5, 0.0, -0.045, 0.02]])
    r = ir_metrics(_point_posterior(pred), tg, pred="mean")
    b = r["bands"]
    # standard chi = r / sigma: W1 0.5, -2 -> (0.25 + 4) / 2
    assert b["W1"]["chi2_n"] == pytest.approx(2.125)
    # paper chi = r / sqrt(sigma): W1 0.02/0.2 = 0.1, -0.5/0.5 = -1 -> (0.01 + 1) / 2
    assert b["W1"]["chi2_n_paper"] == pytest.approx(0.505)
    assert b["W2"]["chi2_n"] == pytest.approx(0.5) and b["W2"]["chi2_n_paper"] == pytest.approx(0.045)
    assert b["W3"]["chi2_n"] == pytest.approx(0.125) and b["W3"]["chi2_n_paper"] == pytest.approx(0.01125)
    assert b["W4"]["chi2_n"] == pytest.approx(2.125) and b["W4"]["chi2_n_paper"] == pytest.approx(0.505)
    # colour W1-W2 of galaxy 0: residual 0.02 - 0.09 = -0.07, sigma = sqrt(0.04^2 + 0.09^2)
    s0, s1 = np.hypot(0.04, 0.09), np.hypot(0.25, 0.16)
    c = r["colors"]["W1-W2"]
    assert c["chi2_n"] == pytest.approx(((-0.07 / s0) ** 2 + (-0.5 / s1) ** 2) / 2)
    assert c["chi2_n_paper"] == pytest.approx(((-0.07) ** 2 / s0 + 0.25 / s1) / 2)
    # the same numbers per class
    table = {"class_label": np.array(["quenched", "quenched"]), "truth_agn_type": np.array([0.0, 0.0])}
    by = chi2_by_class(_point_posterior(pred), tg, table, np.arange(2), pred="mean")
    assert by["W1"]["quenched"]["chi2_n_paper"] == pytest.approx(0.505)
    assert by["W1"]["quenched"]["chi2_n"] == pytest.approx(2.125)


def test_acceptance_compares_with_table3_and_the_paper_mlp_in_both_conventions():
    from explorer.ml.evaluate import PAPER_TABLE3_CHI2_N, acceptance, ceiling_ratios

    assert PAPER_TABLE3_CHI2_N == {"W1": 1.33, "W2": 1.17, "W3": 2.23, "W4": 1.41}
    ours = {
        w: {"chi2_n": 3.0, "chi2_n_paper": 1.0, "coverage68": 0.68, "coverage95": 0.95} for w in WISE_BANDS
    }
    ours["W2"]["chi2_n_paper"] = 1.2  # above the paper's 1.17
    pm = {w: {"chi2_n": 10.0, "chi2_n_paper": 2.0} for w in WISE_BANDS}
    pm["W3"]["chi2_n_paper"] = 0.5  # the paper MLP wins W3 in the paper's convention only
    a = acceptance({"bands": ours, "baselines": {"paper_mlp": {"bands": pm}}})
    assert a["W1_chi2_n_paper<=paper_table3"] and not a["W2_chi2_n_paper<=paper_table3"]
    assert a["W3_beats_paper_mlp"] and not a["W3_beats_paper_mlp_paper_convention"]
    assert a["W4_beats_paper_mlp_paper_convention"]
    assert not any("<=1.2" in k for k in a)
    c = ceiling_ratios({"bands": ours}, {"bands": {"W1": {"chi2_n": 2.0}}}, "test")
    assert c["ratio_chi2_n_to_ceiling"]["W1"] == pytest.approx(1.5)
    assert ceiling_ratios({"bands": ours}, None, "not applicable") == {"source": "not applicable"}


def test_model_card_shows_both_conventions_the_paper_values_and_the_training_log():
    from explorer.ml.evaluate import PAPER_TABLE3_CHI2_N, PAPER_TABLE3_SOURCE
    from explorer.ml.model_card import CHI_DEFINITIONS, render_model_card

    bands = {w: {"n": 10, "chi2_n": 3.0, "chi2_n_paper": 0.25} for w in WISE_BANDS}
    log = {
        "epochs_run": 12345, "wall_seconds": 2700.0, "ms_per_epoch": 218.7, "n_threads": 2, "n_train": 40000,
        "best_valid_loss": -0.41234, "best_epoch": 12340, "final_lr": 4e-3, "stopped_by": "wall_clock_cap",
        "max_minutes": 45.0, "recipe": {"early_stop_checks": 1000}, "checks_without_improvement_at_end": 0,
    }  # fmt: skip
    sel = {
        "rule": "lowest mean chi2_n_paper",
        "chosen": "paper_recipe",
        "candidates": {"paper_recipe": {"score": 0.5, "valid_chi2_n_paper": {"W1": 0.5}}},
    }
    result = {
        "meta": {"split": "test", "catalog": "x.h5", "n": 10},
        "bands": bands,
        "paper_table3": {"chi2_n_paper": PAPER_TABLE3_CHI2_N, "source": PAPER_TABLE3_SOURCE},
        "paper_mlp_training": {"recipe_log": log, "selection": sel},
        "ceiling": {
            "source": "c.json",
            "ceiling_chi2_n": {"W1": 2.0},
            "ratio_chi2_n_to_ceiling": {"W1": 1.5},
        },
    }
    card = render_model_card({"name": "t", "components": {}}, result)
    for d in CHI_DEFINITIONS:
        assert d in card
    assert "reproducing-jespersen-25" in card
    assert "| W1 | 3.00 | 0.25 | 1.33 |" in card and "| 2.00 | 1.50 |" in card
    assert "12345 full-batch epochs in 45.0 min" in card and "wall-clock cap of 45.0 min bound" in card
    assert "-0.41234 at epoch 12340" in card and "shipped: **paper_recipe**" in card
    assert "1.2" not in card


def test_a_ceiling_file_applies_only_to_its_own_catalog_split_and_size(tmp_path):
    import json

    from explorer.ml.acceptance import load_ceiling

    path = tmp_path / "ceiling_v2.json"
    path.write_text(json.dumps({"training": {"catalog": "runs/sim50k_v2.h5", "split": "test", "n_scored": 5000},
                                "bands": {"W1": {"chi2_n": 2.0}}}))  # fmt: skip
    c, src = load_ceiling("/elsewhere/sim50k_v2.h5", "test", 5000, path=path)
    assert c["bands"]["W1"]["chi2_n"] == 2.0 and src.endswith("ceiling_v2.json")
    for args in (
        ("runs/sim50k.h5", "test", 5000),
        ("runs/sim50k_v2.h5", "valid", 5000),
        ("runs/sim50k_v2.h5", "test", 10),
    ):
        c, why = load_ceiling(*args, path=path)
        assert c is None and why.startswith("not applicable") and "runs/sim50k_v2.h5" in why
    assert load_ceiling("x.h5", "test", 1, path=tmp_path / "none.json")[0] is None


def test_the_readme_block_is_written_from_the_evaluation_and_replaced_on_a_rerun(tmp_path):
    from explorer.markdown import replace_block
    from explorer.ml.model_card import readme_lines

    bands = {b: {"chi2_n": 2.0 + k, "chi2_n_paper": 0.5, "coverage68": 0.68, "coverage95": 0.95}
             for k, b in enumerate(("W1", "W2", "W3", "W4"))}  # fmt: skip
    result = {"meta": {"n": 10, "split": "test", "catalog": "c.h5"}, "bands": bands,
              "paper_table3": {"chi2_n_paper": {"W1": 1.33}}, "acceptance": {"a": True, "b": False}}  # fmt: skip
    lines = readme_lines(result, "python -m explorer evaluate c.h5")
    text = "\n".join(lines)
    assert "`python -m explorer evaluate c.h5`" in text and "N = 10" in text
    row = next(line for line in lines if line.startswith("| χ²_N (ours)"))
    assert row.split(" | ")[1:5] == ["2.00", "3.00", "4.00", "5.00"]
    assert "| paper's Table 3 (their MLP on **real** galaxies) | 1.33 | – | – | – |" in text  # absent: a dash
    assert "1 of 2 acceptance checks pass" in text
    readme = tmp_path / "README.md"
    readme.write_text(
        "# t\n\nbefore\n<!-- evaluation:start -->\nold numbers\n<!-- evaluation:end -->\nafter\n"
    )
    replace_block(readme, "evaluation", text)
    replace_block(readme, "evaluation", text)  # idempotent
    new = readme.read_text()
    assert "old numbers" not in new and new.count(text) == 1 and new.endswith("after\n") and "before" in new


def test_evaluation_diff_puts_two_evaluations_side_by_side(tmp_path, capsys):
    import json

    from explorer.cli import main

    def ev(x):
        return {"bands": {b: {"chi2_n": x, "chi2_n_paper": x / 10, "coverage68": 0.68} for b in ("W1", "W2", "W3", "W4")},
                "acceptance": {"a": True, "b": x < 5}}  # fmt: skip

    old, new, readme = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "R.md"
    old.write_text(json.dumps(ev(3.66)))
    new.write_text(json.dumps(ev(24.0)))
    assert (
        main(
            [
                "evaluation-diff",
                str(old),
                str(new),
                "--old-name",
                "v1",
                "--new-name",
                "v2",
                "--readme",
                str(readme),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert (
        "| | v1 | v2 |" in out and "| W3 χ²_N | 3.66 | 24.0 |" in out and "| W3 χ²_N ceiling | – | – |" in out
    )
    assert "| acceptance checks passed | 2 of 2 | 1 of 2 |" in out
    assert "<!-- evaluation-diff:start -->" in readme.read_text() and "evaluation-diff" in readme.read_text()
