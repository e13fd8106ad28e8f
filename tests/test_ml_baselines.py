"""Baselines: the paper's demo MLP (architecture, parameter count, loss) and feature sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.ml.baselines import (
    PAPER_MLP_N_PARAMETERS,
    PaperMLP,
    fixed_variance_nll,
    paper_mlp_n_parameters,
    train_paper_mlp,
)
from explorer.ml.data import Scaler, WiseTargets, build_features, feature_names
from explorer.ml.evaluate import ir_metrics

torch.set_num_threads(1)


def test_paper_mlp_has_4884_parameters_with_8_inputs():
    net = PaperMLP()
    assert net.n_parameters == PAPER_MLP_N_PARAMETERS == 4884
    assert [m.out_features for m in net if isinstance(m, torch.nn.Linear)] == [20, 50, 50, 20, 4]
    assert sum(isinstance(m, torch.nn.ReLU) for m in net) == 4
    # 20 n + 4724: only n = 8 inputs gives 4,884
    assert [n for n in range(1, 30) if paper_mlp_n_parameters(n) == 4884] == [8]
    assert len(feature_names("paper", 6)) == 8


def test_fixed_variance_nll_is_half_chi2_on_detected_bands():
    pred = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    y = torch.tensor([[1.5, 2.0, float("nan"), 3.0]])
    sig = torch.tensor([[0.5, 1.0, float("nan"), 2.0]])
    det = torch.tensor([[True, True, False, True]])
    assert float(fixed_variance_nll(pred, y, sig, det)) == pytest.approx(0.5 * (1.0 + 0.0 + 0.25))


def test_paper_mlp_learns_planted_relation_and_has_observation_only_intervals():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, 4)) * 0.5

    def make(n):
        x = rng.normal(size=(n, 8)).astype(np.float32)
        sig = np.full((n, 4), 0.05)
        mag = x @ w + 12 + sig * rng.standard_normal((n, 4))
        return x, WiseTargets(mag, sig, np.zeros((n, 4), bool))

    (xt, tt), (xv, tv), (xe, te) = make(4000), make(1000), make(2000)
    m = train_paper_mlp(xt, tt, xv, tv, epochs=80, patience=20, progress=False)
    res = ir_metrics(m.predict(xe), te)
    for band in ("W1", "W2", "W3", "W4"):
        assert res["bands"][band]["chi2_n"] < 2.0  # linear relation learned close to the noise
    # a point estimate: its predictive interval is the catalog error only
    post = m.predict(xe[:3])
    assert np.all(post.cov_mag == 0)
    np.testing.assert_allclose(post.observed(np.full((3, 4), 0.05)).sigma_mag, 0.05)


def test_feature_sets_and_scaler_handle_missing_photometry():
    n = 5
    table = {
        "z": np.linspace(0.05, 0.25, n),
        "spec_norm": np.array([1.0, 10.0, 100.0, 5.0, 2.0]),
        **{f"mag_{b}_total": np.full(n, 17.0) for b in "ugriz"},
        **{f"mag_{b}_fiber": np.full(n, 18.0) for b in "ugriz"},
    }
    table["mag_u_total"] = np.array([17.0, np.nan, 17.0, 17.0, 17.0])
    lat = np.arange(n * 6, dtype=float).reshape(n, 6)
    x = build_features("spectrum", table, np.arange(n), lat)
    assert x.shape == (n, len(feature_names("spectrum")))
    np.testing.assert_allclose(x[:, 7], np.log10(table["spec_norm"]), rtol=1e-6)
    np.testing.assert_allclose(x[[0, 2], 8], -1.0)  # u aperture correction
    assert np.isnan(x[1, 8])
    s = Scaler.fit(x)
    xs = s.transform(x)
    assert np.all(np.isfinite(xs)) and xs[1, 8] == 0.0
    assert build_features("photometry", table, np.arange(n)).shape == (n, 6)


def _planted(rng, n, w, ul_frac=(0.0, 0.0, 0.1, 0.4)):
    x = rng.normal(size=(n, 8)).astype(np.float32)
    sig = np.full((n, 4), 0.05)
    mag = x @ w + 12 + sig * rng.standard_normal((n, 4))
    ul = rng.random((n, 4)) < np.array(ul_frac)
    return x, WiseTargets(np.where(ul, mag - 1.0, mag), np.where(ul, np.nan, sig), ul)


def test_demo_loss_is_gaussian_nll_with_variance_sqrt_sigma_and_1e4_for_non_detections():
    from explorer.ml.paper_recipe import NONDET_SIGMA_MAG, demo_loss, demo_targets

    t = WiseTargets(
        np.array([[10.0, 11.0, 9.0, 8.0]]),
        np.array([[0.04, 0.25, 0.09, np.nan]]),
        np.array([[0, 0, 0, 1]], bool),
    )
    mag, sigma = demo_targets(t)
    assert NONDET_SIGMA_MAG == 1e4 and sigma[0, 3] == 1e4 and mag[0, 3] == 8.0  # the upper limit stays
    pred = torch.tensor([[10.1, 11.0, 8.7, 9.0]])
    var = np.sqrt(sigma[0]).astype(float)  # 0.2, 0.5, 0.3, 100
    r = np.array([0.1, 0.0, -0.3, 1.0])
    want = np.mean(0.5 * (np.log(var) + r**2 / var))
    assert float(demo_loss(pred, torch.from_numpy(mag), torch.from_numpy(sigma))) == pytest.approx(
        want, rel=1e-5
    )


def test_paper_recipe_trains_logs_and_reports_the_binding_stop():
    from explorer.ml.paper_recipe import train_paper_recipe

    rng = np.random.default_rng(1)
    w = rng.normal(size=(8, 4)) * 0.5
    (xt, tt), (xv, tv) = _planted(rng, 2000, w), _planted(rng, 500, w)
    m = train_paper_recipe(xt, tt, xv, tv, max_epochs=1500, max_minutes=None, log=lambda s: None)
    log = m.meta
    assert log["stopped_by"] == "max_epochs" and log["epochs_run"] == 1500
    assert log["best_epoch"] % 10 == 0 and np.isfinite(log["best_valid_loss"])
    assert log["recipe"]["lr"] == 4e-3 and log["recipe"]["early_stop_checks"] == 1000
    # raw inputs and outputs: identity scaling
    assert np.all(m.x_scaler.mean == 0) and np.all(m.x_scaler.std == 1) and np.all(m.y_std == 1)
    res = ir_metrics(m.predict(xv), tv)
    assert all(res["bands"][b]["chi2_n_paper"] < 0.5 for b in ("W1", "W2", "W3", "W4"))
    # the wall-clock cap is reported when it ends the run
    capped = train_paper_recipe(xt, tt, xv, tv, max_minutes=0.0, log=lambda s: None)
    assert capped.meta["stopped_by"] == "wall_clock_cap" and capped.meta["epochs_run"] == 1
    # early stopping: 3 checks without improvement once the loss has flattened
    es = train_paper_recipe(xt, tt, xv, tv, max_minutes=None, early_stop_checks=3, log=lambda s: None)
    assert es.meta["stopped_by"] == "early_stopping" and es.meta["checks_without_improvement_at_end"] == 3


def test_choose_paper_mlp_keeps_the_lower_validation_chi2_n_paper():
    from explorer.ml.paper_recipe import choose_paper_mlp, selection_score, train_paper_recipe

    rng = np.random.default_rng(2)
    w = rng.normal(size=(8, 4)) * 0.5
    (xt, tt), (xv, tv) = _planted(rng, 2000, w), _planted(rng, 500, w)
    good = train_paper_recipe(xt, tt, xv, tv, max_epochs=1000, max_minutes=None, log=lambda s: None)
    bad = train_paper_mlp(xt, tt, xv, tv, epochs=1, progress=False)
    chosen, report = choose_paper_mlp({"minibatch": bad, "paper_recipe": good}, xv, tv)
    assert chosen == "paper_recipe"
    assert report["paper_recipe"]["score"] < report["minibatch"]["score"]
    assert selection_score({"W1": 1.0, "W2": 3.0, "W3": None}) == 2.0


def test_adopt_components_copies_file_and_manifest_entry(tmp_path):
    from explorer.ml.paper_recipe import ABLATION_COMPONENT, ABLATION_FILE, adopt_components
    from explorer.ml.registry import read_manifest, register_file, verify

    src, dst = tmp_path / "stage", tmp_path / "default"
    src.mkdir()
    dst.mkdir()
    (src / ABLATION_FILE).write_bytes(b"weights")
    register_file(
        src, ABLATION_FILE, component=ABLATION_COMPONENT, config={"a": 1}, info={"training_command": "x"}
    )
    (dst / "other.txt").write_text("keep")
    register_file(dst, "other.txt")
    assert adopt_components(src, dst, [ABLATION_COMPONENT], catalog="runs/c.h5") == [ABLATION_FILE]
    man = verify(dst)  # checksums of the copied file match
    entry = read_manifest(dst)["components"][ABLATION_COMPONENT]
    assert entry["config"] == {"a": 1} and entry["recorded_command"] == "x"
    assert entry["training_command"].startswith("python -m explorer.ml.paper_recipe runs/c.h5 --name default")
    assert set(man["files"]) == {"other.txt", ABLATION_FILE}
