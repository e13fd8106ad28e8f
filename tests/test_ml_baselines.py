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
