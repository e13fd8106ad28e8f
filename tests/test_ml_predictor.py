"""IR posterior machinery: censored likelihood, mixture moments, sampling, training on a planted relation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from explorer.ml.data import WiseTargets
from explorer.ml.evaluate import ir_metrics
from explorer.ml.predictor import (
    IRConfig,
    IRPosterior,
    censored_gaussian_nll,
    fit_cov_scale,
    train_ir_ensemble,
)

torch.set_num_threads(1)


def _t(a):
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)[None]


@pytest.fixture
def gauss4():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4))
    chol = np.linalg.cholesky(a @ a.T + 0.5 * np.eye(4))
    mu = rng.normal(size=4)
    y = mu + rng.normal(size=4)
    noise = np.array([0.1, 0.2, 0.3, 0.4])
    return mu, chol, y, noise, chol @ chol.T + np.diag(noise**2)


def test_censored_nll_all_detected_equals_multivariate_normal(gauss4):
    mu, chol, y, noise, cov = gauss4
    got = censored_gaussian_nll(
        _t(mu), _t(chol), _t(y), _t(noise), _t(np.ones(4, bool)), _t(np.zeros(4, bool))
    )
    assert float(got) == pytest.approx(-multivariate_normal(mu, cov).logpdf(y), rel=1e-10)


def test_censored_nll_one_dimensional_limit_is_gaussian_tail():
    # 1-D: model N(mu, s_m^2), noise s_n, upper limit l (source fainter: m > l)
    mu, s_m, s_n, lim = 15.0, 0.3, 0.4, 15.2
    got = censored_gaussian_nll(
        torch.tensor([[mu]], dtype=torch.float64),
        torch.tensor([[[s_m]]], dtype=torch.float64),
        torch.tensor([[lim]], dtype=torch.float64),
        torch.tensor([[s_n]], dtype=torch.float64),
        torch.tensor([[False]]),
        torch.tensor([[True]]),
    )
    expected = -np.log(1 - norm.cdf(lim, mu, math.hypot(s_m, s_n)))
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_censored_nll_conditions_on_detected_bands(gauss4):
    mu, chol, y, noise, cov = gauss4
    det, cen = np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 0], bool)  # band 4 missing
    d, c = [0, 1], 2
    s_dd = cov[np.ix_(d, d)]
    cmean = mu[c] + cov[c, d] @ np.linalg.solve(s_dd, y[d] - mu[d])
    cvar = cov[c, c] - cov[c, d] @ np.linalg.solve(s_dd, cov[d, c])
    expected = -(multivariate_normal(mu[d], s_dd).logpdf(y[d]) + norm.logsf(y[c], cmean, np.sqrt(cvar)))
    got = censored_gaussian_nll(_t(mu), _t(chol), _t(y), _t(noise), _t(det), _t(cen))
    assert float(got) == pytest.approx(expected, rel=1e-10)
    # dropping the limit instead of censoring changes the answer (the term matters)
    dropped = censored_gaussian_nll(_t(mu), _t(chol), _t(y), _t(noise), _t(det), _t(np.zeros(4, bool)))
    assert abs(float(dropped) - float(got)) > 1e-3


def _random_mixture(n=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(12, 1, (n, k, 4))
    a = rng.normal(size=(n, k, 4, 4)) * 0.2
    covs = a @ np.swapaxes(a, -1, -2) + 0.01 * np.eye(4)
    return means, covs


def test_mixture_moments_match_numpy():
    means, covs = _random_mixture()
    post = IRPosterior(means, covs)
    for i in range(len(post)):
        m = means[i].mean(0)
        second = np.mean(
            [covs[i, k] + np.outer(means[i, k], means[i, k]) for k in range(means.shape[1])], axis=0
        )
        np.testing.assert_allclose(post.mean_mag[i], m, rtol=1e-12)
        np.testing.assert_allclose(post.cov_mag[i], second - np.outer(m, m), atol=1e-12)


def test_mixture_samples_quantiles_fluxes_and_colours_agree():
    means, covs = _random_mixture(n=2, seed=1)
    post = IRPosterior(means, covs)
    s = post.sample(200_000, np.random.default_rng(0))
    assert s.shape == (2, 200_000, 4)
    np.testing.assert_allclose(s.mean(1), post.mean_mag, atol=0.01)
    np.testing.assert_allclose(np.cov(s[0].T), post.cov_mag[0], atol=0.01)
    q = post.quantiles([0.16, 0.5, 0.84])
    np.testing.assert_allclose(q, np.quantile(s, [0.16, 0.5, 0.84], axis=1).transpose(1, 0, 2), atol=0.03)
    # the CDF at the quantiles gives back the levels
    np.testing.assert_allclose(post.cdf(q[:, 1]), 0.5, atol=1e-8)
    # fluxes: analytic log-normal mixture mean vs samples
    f = post.sample_mjy(200_000, np.random.default_rng(1))
    np.testing.assert_allclose(f.mean(1), post.mean_mjy, rtol=5e-3)
    # colours use the full covariance
    col = s[:, :, 0] - s[:, :, 1]
    np.testing.assert_allclose(post.color_sigma(0, 1), col.std(1), rtol=5e-3)
    np.testing.assert_allclose(post.color_mean(0, 1), col.mean(1), atol=0.01)


def test_single_gaussian_quantiles_are_exact():
    cov = np.diag([0.04, 0.09, 0.16, 0.25])[None, None]
    post = IRPosterior(np.full((1, 1, 4), 10.0), cov)
    lo, hi = post.interval(0.68)
    np.testing.assert_allclose(hi[0] - 10, norm.ppf(0.84) * np.sqrt(np.diag(cov[0, 0])), rtol=1e-6)
    obs = post.observed(np.full((1, 4), 0.3))
    np.testing.assert_allclose(obs.sigma_mag[0], np.sqrt(np.diag(cov[0, 0]) + 0.09))


def _planted(n, rng, w, c, cov_int, sigma_range=(0.05, 0.15)):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    true = x @ w + c + rng.multivariate_normal(np.zeros(4), cov_int, n)
    sigma = rng.uniform(*sigma_range, (n, 4))
    obs = true + sigma * rng.standard_normal((n, 4))
    return x, WiseTargets(mag=obs, sigma=sigma, is_ul=np.zeros((n, 4), bool))


def test_ensemble_recovers_planted_linear_relation_and_is_calibrated():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4))
    c = np.array([14.0, 13.5, 11.0, 9.0])
    sd = np.array([0.05, 0.05, 0.1, 0.1])
    cov_int = (0.6 * np.ones((4, 4)) + 0.4 * np.eye(4)) * np.outer(sd, sd)
    x_tr, t_tr = _planted(3000, rng, w, c, cov_int)
    x_va, t_va = _planted(1000, rng, w, c, cov_int)
    x_te, t_te = _planted(2000, rng, w, c, cov_int)
    cfg = IRConfig(
        hidden=(32, 32), n_members=2, epochs=60, lr=5e-3, patience=15, feature_names=["a", "b", "c"]
    )
    ens = train_ir_ensemble(x_tr, t_tr, x_va, t_va, cfg, progress=False)
    ens.cov_scale = fit_cov_scale(ens, x_va, t_va)
    post = ens.predict(x_te)
    truth_mean = x_te @ w + c
    rms = np.sqrt(np.mean((post.mean_mag - truth_mean) ** 2, axis=0))
    assert np.all(rms < 0.5 * sd + 0.02), rms  # mean function recovered well below the intrinsic scatter
    # learned intrinsic covariance ~ planted one (sd within 35%, correlation sign and size)
    learned = np.median(post.cov_mag, axis=0)
    np.testing.assert_allclose(np.sqrt(np.diag(learned)), sd, rtol=0.35)
    corr = learned[0, 1] / np.sqrt(learned[0, 0] * learned[1, 1])
    assert 0.3 < corr < 0.85
    m = ir_metrics(post, t_te)
    # chi2_n with the catalog error only: 1 + <intrinsic var / sigma^2> for a perfect mean
    expected = 1 + np.mean(np.diag(cov_int)[None, :] / t_te.sigma**2, axis=0)
    for b, band in enumerate(("W1", "W2", "W3", "W4")):
        assert m["bands"][band]["chi2_n"] == pytest.approx(expected[b], rel=0.2)
        assert 0.62 < m["bands"][band]["coverage68"] < 0.74
        assert 0.92 < m["bands"][band]["coverage95"] < 0.98
    for col in ("W1-W2", "W2-W3", "W3-W4"):
        assert 0.62 < m["colors"][col]["coverage68"] < 0.74


def test_censoring_beats_dropping_upper_limits():
    """With faint W4 replaced by limits, censoring keeps the W4 mean unbiased; dropping biases it bright."""
    rng = np.random.default_rng(1)
    w = np.zeros((3, 4))
    w[0] = [0.3, 0.3, 0.5, 1.0]
    c = np.array([14.0, 13.5, 11.0, 9.0])
    cov_int = np.diag([0.05, 0.05, 0.1, 0.3]) ** 2
    x, t = _planted(4000, rng, w, c, cov_int)
    lim = 9.3
    ul = t.mag[:, 3] > lim
    mag = t.mag.copy()
    mag[ul, 3] = lim
    sig = t.sigma.copy()
    sig[ul, 3] = np.nan
    censored = WiseTargets(mag, sig, np.column_stack([np.zeros((len(x), 3), bool), ul]))
    dropped = WiseTargets(mag.copy(), sig.copy(), censored.is_ul.copy())
    dropped.mag[ul, 3] = np.nan  # neither detected nor censored -> marginalized (= dropped)
    cfg = IRConfig(hidden=(32,), n_members=1, epochs=40, lr=5e-3, patience=40)
    xv, tv = x[:500], WiseTargets(mag[:500], sig[:500], censored.is_ul[:500])
    e_c = train_ir_ensemble(x, censored, xv, tv, cfg, progress=False)
    e_d = train_ir_ensemble(x, dropped, xv, tv, cfg, progress=False)
    xq = np.zeros((1, 3), np.float32)
    xq[0, 0] = 0.5  # true W4 mean 9.5: about 3/4 of such galaxies are upper limits
    truth = 9.5
    err_c = abs(e_c.predict(xq).mean_mag[0, 3] - truth)
    err_d = abs(e_d.predict(xq).mean_mag[0, 3] - truth)
    assert err_c < 0.15
    assert err_d > err_c + 0.1
