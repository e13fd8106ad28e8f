"""Integrated-gradient engine: exact answers on analytic models, masks, completeness loop, baselines."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.attribution.baselines import (
    DEFAULT_N_BASELINES,
    normalize_like_spender,
    reference_baselines,
    smooth_baseline,
)
from explorer.attribution.engine import (
    DEFAULT_MAX_STEPS,
    DEFAULT_N_STEPS,
    DEFAULT_TOL,
    TargetFunction,
    attribute,
    attribute_targets,
    prepare,
    settings_hash,
)
from explorer.attribution.toys import StandInIRModel, toy_spectrum
from explorer.catalog import GalaxySpectrum
from explorer.constants import N_PIX, NORM_WINDOW_REST_AA, WAVE_OBS_VAC_AA
from explorer.errors import AttributionError

torch.set_num_threads(1)


def _galaxy(seed=0, masked=()):
    rng = np.random.default_rng(seed)
    flux = 1.0 + 0.2 * rng.normal(size=N_PIX)
    weight = np.ones(N_PIX)
    weight[list(masked)] = 0.0
    return GalaxySpectrum(f"g{seed}", 0.1, flux, weight, 1.0)


class Linear(nn.Module):
    """F(x) = x @ W + b with two outputs (float64): the exact IG answer is w * (x - baseline)."""

    def __init__(self, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.w = nn.Parameter(torch.tensor(rng.normal(size=(N_PIX, 2))))
        self.b = nn.Parameter(torch.tensor([0.7, -1.3], dtype=torch.float64))
        self.targets = ["A", "B"]

    def forward(self, x):
        return x @ self.w + self.b


class Sine(nn.Module):
    """F(x) = sin(c * mean(x)): the path integrand oscillates through c * d radians."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.dummy = nn.Parameter(torch.zeros((), dtype=torch.float64))
        self.targets = ["S"]

    def forward(self, x):
        return torch.sin(self.c * x.mean(-1, keepdim=True) + self.dummy)


@pytest.mark.parametrize("backend", ["shared", "captum"])
def test_linear_single_baseline_exact(backend):
    gal = _galaxy()
    model = Linear()
    base = 1.0 + 0.2 * np.random.default_rng(9).normal(size=N_PIX)
    res = attribute(model, gal, "A", baselines=base, backend=backend)
    expected = model.w[:, 0].detach().numpy() * (gal.flux - base)
    np.testing.assert_allclose(res.attribution, expected, atol=1e-5, rtol=0)
    assert res.completeness_gap < 1e-6
    assert res.converged and res.n_steps == DEFAULT_N_STEPS and res.n_baselines == 1
    f = lambda v: float(v @ model.w[:, 0].detach().numpy() + 0.7)  # noqa: E731
    assert res.f_x == pytest.approx(f(gal.flux))
    assert res.f_baseline_mean == pytest.approx(f(base))


@pytest.mark.parametrize("backend", ["shared", "captum"])
def test_linear_several_baselines_mean(backend):
    gal = _galaxy(1)
    model = Linear(1)
    bases = 1.0 + 0.3 * np.random.default_rng(3).normal(size=(5, N_PIX))
    res = attribute_targets(model, gal, ["A", "B"], baselines=bases, backend=backend)
    for j, t in enumerate(["A", "B"]):
        expected = model.w[:, j].detach().numpy() * (gal.flux - bases.mean(0))
        np.testing.assert_allclose(res[t].attribution, expected, atol=1e-5, rtol=0)
        assert res[t].completeness_gap < 1e-6
        assert res[t].completeness_gap_per_baseline < 1e-6
        assert res[t].n_baselines == 5


def test_masked_pixels_get_exactly_zero_and_completeness_holds():
    masked = list(range(100, 180)) + [2000, 3500]
    gal = _galaxy(2, masked)
    gal.flux[masked] = 55.0  # junk under the mask must not matter to the attribution
    model = StandInIRModel(0.1, widths=(8, 16, 32)).double()
    bases = np.stack([toy_spectrum(0.1, seed=s).flux for s in range(3)]).astype(float)
    res = attribute_targets(model, gal, ["W1", "W3"], baselines=bases, max_steps=64)
    for r in res.values():
        assert np.all(r.attribution[masked] == 0.0)
        assert np.count_nonzero(r.attribution[~np.isin(np.arange(N_PIX), masked)]) > 3000
        assert not r.good[masked].any()
        # the masked junk is held fixed along the path, so completeness still holds
        assert r.converged and r.completeness_gap <= 0.05
    # exact version on a linear model: masked pixels drop out of both sides
    lin = Linear(2)
    r = attribute(lin, gal, "A", baselines=bases)
    keep = np.ones(N_PIX, bool)
    keep[masked] = False
    w = lin.w[:, 0].detach().numpy()
    np.testing.assert_allclose(r.attribution[keep], (w * (gal.flux - bases.mean(0)))[keep], atol=1e-8)
    assert np.all(r.attribution[masked] == 0.0)
    assert r.completeness_gap < 1e-8


def test_nan_in_baseline_is_held_at_galaxy_value():
    gal = _galaxy(3)
    model = Linear(3)
    base = np.ones(N_PIX)
    base[:50] = np.nan
    res = attribute(model, gal, "B", baselines=base)
    assert np.all(res.attribution[:50] == 0.0)
    expected = model.w[50:, 1].detach().numpy() * (gal.flux[50:] - 1.0)
    np.testing.assert_allclose(res.attribution[50:], expected, atol=1e-8)


def test_completeness_loop_raises_steps_and_reports_honestly():
    gal = _galaxy(4)
    d = 0.5
    model = Sine(c=120.0 / d)  # the path sweeps 120 radians: 32 Gauss-Legendre nodes fail, 64 suffice
    base = gal.flux - d
    res = attribute(model, gal, "S", baselines=base, n_steps=32, max_steps=256)
    assert [h["n_steps"] for h in res.history] == [32, 64]
    assert res.history[0]["gap"] > 0.05
    assert res.converged and res.n_steps == 64 and res.completeness_gap <= 0.05
    # capped below what it needs: it says so and carries the gap
    capped = attribute(model, gal, "S", baselines=base, n_steps=32, max_steps=32)
    assert not capped.converged
    assert capped.n_steps == 32 and capped.completeness_gap > 0.05
    assert capped.to_dict()["converged"] is False


def test_completeness_loop_on_tanh_network():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(N_PIX, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    with torch.no_grad():
        net[0].weight.mul_(40.0)  # steep tanh: a coarse Riemann sum misses the integral
    fn = TargetFunction(net, ["y"])
    gal = _galaxy(5)
    base = gal.flux + 0.05 * np.random.default_rng(1).normal(size=N_PIX)
    res = attribute(
        fn, gal, "y", baselines=base, n_steps=4, max_steps=512, method="riemann_trapezoid", tol=0.01
    )
    steps = [h["n_steps"] for h in res.history]
    assert steps[0] == 4 and len(steps) >= 2 and steps == sorted(steps)
    assert res.history[0]["gap"] > 0.01
    assert res.converged and res.completeness_gap <= 0.01


def test_shared_and_captum_backends_agree_on_nonlinear_model():
    gal = toy_spectrum(0.1, seed=1)
    model = StandInIRModel(0.1, widths=(8, 16, 32)).double()
    bases = np.stack([toy_spectrum(0.1, seed=s, line_scale={"Halpha": 0.2}).flux for s in (7, 8)])
    a = attribute_targets(model, gal, ["W2", "W2-W3"], baselines=bases, n_steps=16, max_steps=16)
    b = attribute_targets(
        model, gal, ["W2", "W2-W3"], baselines=bases, n_steps=16, max_steps=16, backend="captum"
    )
    for t in a:
        scale = np.abs(a[t].attribution).max()
        np.testing.assert_allclose(a[t].attribution, b[t].attribution, atol=1e-6 * scale)


def test_colour_attribution_is_difference_of_band_attributions():
    gal = toy_spectrum(0.1, seed=2)
    model = StandInIRModel(0.1, widths=(8, 16, 32)).double()
    bases = np.stack([toy_spectrum(0.1, seed=s).flux for s in (3, 4)])
    r = attribute_targets(model, gal, ["W1", "W2", "W1-W2"], baselines=bases, n_steps=16, max_steps=16)
    np.testing.assert_allclose(r["W1-W2"].attribution, r["W1"].attribution - r["W2"].attribution, atol=1e-10)


def test_default_baselines_use_target_function_references_then_smooth():
    gal = toy_spectrum(0.1, seed=3)
    refs = np.stack([toy_spectrum(0.1, seed=s).flux for s in range(20)])
    calls = []

    def ref_fn(z):
        calls.append(z)
        return refs

    model = Linear()
    model.reference_baselines = ref_fn
    res = attribute(model, gal, "A", n_baselines=6)
    assert calls == [pytest.approx(0.1)]
    assert res.settings["baseline_kind"] == "reference" and res.n_baselines == 6
    del model.reference_baselines
    res2 = attribute(model, gal, "A")
    assert res2.settings["baseline_kind"] == "smooth" and res2.n_baselines == 1


def test_eval_mode_is_used_and_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(N_PIX, 1).double()
            self.targets = ["p"]

        def forward(self, x):
            seen.append(self.training)
            return self.lin(x)

    m = Probe().train()
    attribute(m, _galaxy(), "p", baselines=np.ones(N_PIX))
    assert seen and not any(seen)
    assert m.training


def test_errors_name_the_problem():
    gal = _galaxy()
    model = Linear()
    with pytest.raises(AttributionError, match="unknown target 'W9'"):
        attribute(model, gal, "W9", baselines=np.ones(N_PIX))
    bad = _galaxy()
    bad.flux[10] = np.nan
    with pytest.raises(AttributionError, match="g0: non-finite flux"):
        attribute(model, bad, "A", baselines=np.ones(N_PIX))
    bad.weight[10] = 0.0  # NaN under the mask: allowed? the model input must stay finite
    with pytest.raises(AttributionError, match="non-finite outputs"):
        attribute(model, bad, "A", baselines=np.ones(N_PIX))
    with pytest.raises(AttributionError, match="baselines must have shape"):
        attribute(model, gal, "A", baselines=np.ones((2, 100)))
    with pytest.raises(AttributionError, match="no 'targets'"):
        attribute(lambda x: x[:, :1], gal, "A", baselines=np.ones(N_PIX))
    with pytest.raises(AttributionError, match="n_steps"):
        attribute(model, gal, "A", baselines=np.ones(N_PIX), n_steps=64, max_steps=32)


def test_settings_hash_tracks_baselines_not_batch_size():
    gal = _galaxy()
    model = Linear()
    p1 = prepare(model, gal, baselines=np.ones(N_PIX), internal_batch_size=16)
    p2 = prepare(model, gal, baselines=np.ones(N_PIX), internal_batch_size=64)
    p3 = prepare(model, gal, baselines=1.01 * np.ones(N_PIX))
    p4 = prepare(model, gal, baselines=np.ones(N_PIX), tol=0.01)
    assert p1.settings["settings_hash"] == p2.settings["settings_hash"] == settings_hash(p1.settings)
    assert p3.settings["settings_hash"] != p1.settings["settings_hash"]
    assert p4.settings["settings_hash"] != p1.settings["settings_hash"]


# --- baselines -------------------------------------------------------------------------------


def _rest_window(z):
    w = WAVE_OBS_VAC_AA / (1 + z)
    return (w >= NORM_WINDOW_REST_AA[0]) & (w <= NORM_WINDOW_REST_AA[1])


def test_reference_baselines_shift_observed_spectra_to_target_redshift():
    # one reference at z_ref = 0.05 with a narrow line at rest 6564.61 A (Halpha)
    z_ref, z = 0.05, 0.15
    wave_rest = WAVE_OBS_VAC_AA / (1 + z_ref)
    ref = 1.0 + 3.0 * np.exp(-0.5 * ((wave_rest - 6564.61) / 3.0) ** 2)
    out = reference_baselines(ref[None], z, k=4, z_ref=np.array([z_ref])).numpy()
    assert out.shape == (1, N_PIX)
    peak = np.nanargmax(out[0])
    assert WAVE_OBS_VAC_AA[peak] / (1 + z) == pytest.approx(6564.61, abs=2.0)
    # blue end of the target grid lies below the reference's coverage: undefined (NaN)
    assert np.isnan(out[0, 0]) and np.isfinite(out[0, -1])
    assert np.nanmedian(out[0][_rest_window(z)]) == pytest.approx(1.0, abs=1e-6)


def test_reference_baselines_rest_frame_callable_and_sampling():
    wave_rest = np.linspace(2500, 10000, 5000)
    spectra = np.stack([(1 + 0.1 * i) * (wave_rest / 5500.0) ** -1 for i in range(30)])
    out = reference_baselines(spectra, 0.1, k=8, wave_rest_aa=wave_rest, rng=1)
    assert out.shape == (8, N_PIX) and torch.isfinite(out).all()
    np.testing.assert_allclose(np.median(out.numpy()[:, _rest_window(0.1)], axis=1), 1.0, atol=1e-3)
    # different seeds draw different references; the same seed the same ones
    fn = lambda z: spectra[:, :N_PIX] * 0 + np.arange(30)[:, None] + 1.0  # noqa: E731
    a = reference_baselines(fn, 0.1, k=5, rng=1, normalize=False)
    b = reference_baselines(fn, 0.1, k=5, rng=1, normalize=False)
    c = reference_baselines(fn, 0.1, k=5, rng=2, normalize=False)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len(set(a[:, 0].tolist())) == 5  # without replacement
    with pytest.raises(AttributionError, match="3921"):
        reference_baselines(np.ones((3, 100)), 0.1)


def test_normalize_and_smooth_baseline():
    gal = toy_spectrum(0.1, seed=0)
    flux = 7.0 * np.asarray(gal.flux, dtype=float)
    np.testing.assert_allclose(normalize_like_spender(flux, 0.1), gal.flux, rtol=1e-5)
    sm = smooth_baseline(gal).numpy()[0]
    good = gal.weight > 0
    assert np.all(np.isnan(sm[~good])) and np.all(np.isfinite(sm[good]))
    # the Halpha emission peak is removed by the running median
    i_ha = np.argmin(np.abs(WAVE_OBS_VAC_AA - 6564.61 * 1.1))
    assert gal.flux[i_ha] > 1.8 and sm[i_ha] < 1.2


def _gl_error(c, u_x, u_b, n):
    """Quadrature error of n-node Gauss-Legendre IG for F = sin(c u) on the segment u_b -> u_x."""
    from captum.attr._utils.approximation_methods import approximation_parameters

    step_fn, alpha_fn = approximation_parameters("gausslegendre")
    w, a = np.array(step_fn(n)), np.array(alpha_fn(n))
    est = np.sum(w * c * np.cos(c * (u_b + a * (u_x - u_b)))) * (u_x - u_b)
    return est - (np.sin(c * u_x) - np.sin(c * u_b))


def test_per_baseline_criterion_is_not_fooled_by_cancelling_paths():
    """Two paths whose quadrature errors cancel in the mean: 'mean' accepts, 'per_baseline' refines."""
    from scipy.optimize import brentq

    gal = _galaxy(6)
    c = 240.0
    model = Sine(c)
    u_x = float(np.mean(gal.flux))
    d1 = 0.5  # 120 radians: 32 nodes are far off
    e1 = _gl_error(c, u_x, u_x - d1, 32)
    grid = np.linspace(0.3, 0.6, 601)
    g = np.array([_gl_error(c, u_x, u_x - d, 32) + e1 for d in grid])
    k = np.flatnonzero(np.sign(g[:-1]) != np.sign(g[1:]))[0]
    d2 = brentq(lambda d: _gl_error(c, u_x, u_x - d, 32) + e1, grid[k], grid[k + 1], xtol=1e-12)
    bases = np.stack([gal.flux - d1, gal.flux - d2])
    lenient = attribute(model, gal, "S", baselines=bases, n_steps=32, max_steps=256)
    strict = attribute(model, gal, "S", baselines=bases, n_steps=32, max_steps=256, criterion="per_baseline")
    assert lenient.n_steps == 32 and lenient.converged and lenient.completeness_gap < 1e-3
    assert lenient.completeness_gap_per_baseline > 0.05  # reported, even though the mean looks perfect
    assert strict.n_steps > 32 and strict.converged and strict.completeness_gap_per_baseline <= 0.05
    assert strict.settings["settings_hash"] != lenient.settings["settings_hash"]


class _Counting(nn.Module):
    """Wraps a model and counts the spectra it evaluates."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.targets = inner.targets
        self.rows = 0

    def forward(self, x):
        self.rows += x.shape[0]
        return self.inner(x)


@pytest.mark.parametrize("criterion", ["mean", "per_baseline"])
def test_only_badly_integrated_paths_are_refined(criterion):
    gal = _galaxy(7)
    model = _Counting(Sine(c=240.0))
    d_easy, d_hard = 0.004, 0.5  # ~1 radian (32 nodes exact) and 120 radians (32 fail, 64 suffice)
    bases = np.stack([gal.flux - d_easy, gal.flux - d_hard])
    res = attribute(model, gal, "S", baselines=bases, n_steps=32, max_steps=256, criterion=criterion)
    assert [(h["n_steps"], h["n_paths"]) for h in res.history] == [(32, 2), (64, 1)]
    assert list(res.n_steps_per_baseline) == [32, 64] and res.n_steps == 64 and res.converged
    assert res.completeness_gap <= 0.05 and res.completeness_gap_per_baseline <= 0.05
    # 3 plain evaluations (galaxy + 2 baselines) + 2 paths x 32 + 1 path x 64 (not 2 x 64)
    assert model.rows == 3 + 2 * 32 + 64
    # the same numbers as integrating each path on its own
    easy = attribute(Sine(240.0), gal, "S", baselines=bases[:1], n_steps=32, max_steps=32)
    hard = attribute(Sine(240.0), gal, "S", baselines=bases[1:], n_steps=64, max_steps=64)
    np.testing.assert_allclose(res.attribution, (easy.attribution + hard.attribution) / 2, rtol=0, atol=1e-12)
    assert res.to_dict()["n_steps_per_baseline"] == [32, 64]


def test_cli_defaults_are_the_engine_defaults():
    """The attribute flags are no second copy of the engine's defaults: left out, they are the engine's."""
    from explorer.cli import _engine_settings, build_parser

    args = build_parser().parse_args(["attribute"])
    assert (args.steps, args.max_steps, args.tol, args.baselines) == (None, None, None, None)
    assert _engine_settings(args) == {
        "n_baselines": DEFAULT_N_BASELINES, "n_steps": DEFAULT_N_STEPS, "max_steps": DEFAULT_MAX_STEPS,
        "tol": DEFAULT_TOL,
    }  # fmt: skip
    given = _engine_settings(build_parser().parse_args(["attribute", "--steps", "32", "--tol", "0.01"]))
    assert given["n_steps"] == 32 and given["tol"] == 0.01 and given["max_steps"] == DEFAULT_MAX_STEPS
