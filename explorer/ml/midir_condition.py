"""Sharpen a mid-IR spectrum posterior with observed W1-W4 photometry (issue 15, item 2).

The W1-W4 flux densities of a spectrum are linear in f_nu (:func:`~explorer.ml.midir.wise_matrix`)
but the model's coefficients act on log10 f_nu, so the magnitudes m(c) are a smooth nonlinear
function of the coefficients. Each Gaussian component N(mu, P) of the prior is updated by the
iterated extended Kalman filter (Gauss-Newton on the log posterior; Bell & Cathey 1993):

    x_{i+1} = mu + K_i (y_i - m(x_i) - J_i (mu - x_i)),  K_i = P J_i^T (J_i P J_i^T + R_i)^-1,

ending with the Laplace covariance (I - K J) P. For a linear observation this is exact Gaussian
conditioning after one step (tested against the closed form).

* Detected band: y = the catalog magnitude, R = sigma^2 + floor^2 (the catalog error and the
  model's photometric error, :attr:`MidIRModel.floor_mag`).
* Upper limit l (the source is fainter than l, as the predictor's censored likelihood): the factor
  Phi((m - l) / s), s = :data:`~explorer.ml.data.UL_SIGMA_MAG`. Each iteration replaces log Phi by
  its second-order expansion at the current m (the Laplace approximation of a probit factor),
  a Gaussian pseudo-observation with precision kappa / s^2 and value m + s lambda / kappa
  (lambda = phi/Phi, kappa = lambda (t + lambda)). Far fainter than the limit it carries no
  information; far brighter it pulls m to the limit with width s; the mode is exact.

The mixture weights are updated with each component's evidence: the linearised Gaussian
predictive density of the detections times, per limit, P(m_u > l_u) under the component's
marginal predictive (the correlation of the limits given the detections is ignored, as in the
predictor's likelihood).

Bad photometry (a NaN magnitude, an error that is not positive, every band an upper limit)
is not guessed at: the galaxy keeps its prior (the optical-only answer) and its note says why.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr, ndtr

from ..constants import WISE_BANDS
from .data import UL_SIGMA_MAG
from .midir import SpectrumPosterior, wise_matrix

_PHI0 = 1.0 / np.sqrt(2 * np.pi)


def check_photometry(mag, sigma, is_ul) -> str:
    """'' if W1-W4 can be conditioned on, else a one-line reason.

    Parameters
    ----------
    mag : (4,) Vega magnitudes (detections) or 95% limiting magnitudes (upper limits)
    sigma : (4,) magnitude errors of the detections (ignored for upper limits)
    is_ul : (4,) bool
    """
    try:
        mag, sigma = np.asarray(mag, float).reshape(4), np.asarray(sigma, float).reshape(4)
        is_ul = np.asarray(is_ul, bool).reshape(4)
    except (TypeError, ValueError):
        return "W1-W4 photometry must be four magnitudes, four errors and four upper-limit flags"
    problems = []
    for b, name in enumerate(WISE_BANDS):
        if not np.isfinite(mag[b]):
            problems.append(f"{name} {'upper limit' if is_ul[b] else 'magnitude'} is NaN")
        elif not is_ul[b] and not (np.isfinite(sigma[b]) and sigma[b] > 0):
            problems.append(f"{name} error must be a positive number of magnitudes, got {sigma[b]}")
    if not problems and is_ul.all():
        problems.append("all four bands are upper limits: no detection to condition on")
    return "; ".join(problems)


def _ul_pseudo(h, lim, s):
    """Gaussian pseudo-observation (value, variance) of the factor Phi((h - lim)/s) at h."""
    t = (h - lim) / s
    lam = np.exp(-0.5 * t**2 - log_ndtr(t)) * _PHI0
    kappa = np.maximum(lam * (t + lam), 1e-9)
    return h + s * lam / kappa, s**2 / kappa


def iterated_update(mu, cov, observe, y, r_var, ul_mask=None, ul_sigma=UL_SIGMA_MAG, n_iter: int = 8):
    """Iterated-EKF / Laplace update of N(mu, cov) by observations y = h(x) + noise.

    Parameters
    ----------
    mu : (K,), cov : (K, K) prior
    observe : callable x (K,) -> (h (D,), J (D, K))
    y : (D,) observations (limits where ``ul_mask``)
    r_var : (D,) noise variances of the detections (ignored where ``ul_mask``)
    ul_mask : (D,) bool, censored bands (true value above y)
    ul_sigma : float, width of the censoring factor
    n_iter : int, Gauss-Newton steps (one suffices for a linear h without limits)

    Returns
    -------
    mean (K,), cov (K, K), log_evidence (float)
    """
    ul = np.zeros(len(y), bool) if ul_mask is None else np.asarray(ul_mask, bool)

    def linearise(x):
        h, jac = observe(x)
        yy, rr = np.array(y, float), np.array(r_var, float)
        if ul.any():
            yy[ul], rr[ul] = _ul_pseudo(h[ul], yy[ul], ul_sigma)
        gain = np.linalg.solve(jac @ cov @ jac.T + np.diag(rr), jac @ cov).T
        return h, jac, yy, gain, rr

    x = np.array(mu, float)
    for _ in range(max(n_iter, 1)):
        h, jac, yy, gain, _ = linearise(x)
        x_new = mu + gain @ (yy - h - jac @ (mu - x))
        step = np.max(np.abs(x_new - x))
        x = x_new
        if step < 1e-5:  # standardized units: far below the posterior widths
            break
    h, jac, _, gain, rr = linearise(x)
    pred = h + jac @ (mu - x)  # the linearised prior predictive mean
    s_full = jac @ cov @ jac.T
    ikj = np.eye(len(x)) - gain @ jac
    cov_post = ikj @ cov @ ikj.T + (gain * rr) @ gain.T  # Joseph form: positive definite
    det = ~ul
    logev = 0.0
    if det.any():
        sd_ = s_full[np.ix_(det, det)] + np.diag(np.asarray(r_var, float)[det])
        r = np.asarray(y, float)[det] - pred[det]
        sign, logdet = np.linalg.slogdet(sd_)
        logev += -0.5 * (r @ np.linalg.solve(sd_, r) + logdet + det.sum() * np.log(2 * np.pi))
    if ul.any():
        sd_u = np.sqrt(np.diag(s_full)[ul] + ul_sigma**2)
        logev += float(np.sum(log_ndtr((pred[ul] - np.asarray(y, float)[ul]) / sd_u)))
    return x, 0.5 * (cov_post + cov_post.T), float(logev)


def _observer(model, a_wise: np.ndarray):
    """x = (a, u, Delta) -> (catalog W1-W4 magnitudes of the decoded spectrum, their Jacobian)."""
    k = model.n_coef

    def observe(x):
        c = x[None, :k]
        f = 10.0 ** model.decode(c)[0]
        flux = a_wise @ f
        dm_dy = -2.5 * a_wise * f / flux[:, None]  # (4, W)
        jac = np.concatenate([dm_dy @ model.jacobian(c)[0], np.eye(4)], axis=1)
        return -2.5 * np.log10(flux / _f0_mjy()) + x[k:], jac

    return observe


def _f0_mjy():
    from ..constants import WISE_F0_JY

    return WISE_F0_JY * 1e3


def condition_on_wise(post: SpectrumPosterior, mag, sigma, is_ul, n_iter: int = 8) -> SpectrumPosterior:
    """The posterior of every galaxy updated with its observed W1-W4 (see the module docstring).

    Parameters
    ----------
    post : SpectrumPosterior (N galaxies)
    mag, sigma, is_ul : (N, 4) catalog Vega magnitudes (limits where ``is_ul``), errors, flags

    Returns
    -------
    SpectrumPosterior whose ``notes`` say, per galaxy, which bands were used or why none were.
    """
    mag = np.atleast_2d(np.asarray(mag, float))
    sigma = np.atleast_2d(np.asarray(sigma, float))
    is_ul = np.atleast_2d(np.asarray(is_ul, bool))
    model = post.model
    means, covs, weights = post.means.copy(), post.covs.copy(), post.weights.copy()
    notes = list(post.notes)
    a_all = wise_matrix(model.wave_um, post.z)
    for i in range(len(post)):
        why = check_photometry(mag[i], sigma[i], is_ul[i])
        if why:
            notes[i] = f"WISE not used ({why}): optical-only answer"
            continue
        observe = _observer(model, a_all[i])
        r_var = np.where(is_ul[i], 0.0, np.nan_to_num(sigma[i]) ** 2 + model.floor_mag**2)
        logw = np.log(np.maximum(weights[i], 1e-300))
        for m in range(means.shape[1]):
            means[i, m], covs[i, m], ev = iterated_update(
                post.means[i, m], post.covs[i, m], observe, mag[i], r_var, is_ul[i], n_iter=n_iter
            )
            logw[m] += ev
        w = np.exp(logw - logw.max())
        weights[i] = w / w.sum()
        used = [f"{n}{'<' if u else ''}" for n, u in zip(WISE_BANDS, is_ul[i], strict=True)]
        notes[i] = "conditioned on " + " ".join(used) + " ('<': upper limit)"
    return SpectrumPosterior(means, covs, weights, model, post.z, notes)


def censored_factor(m, lim, s=UL_SIGMA_MAG):
    """Phi((m - lim) / s): the probability that a source of magnitude m is measured fainter than lim."""
    return ndtr((np.asarray(m, float) - lim) / s)
