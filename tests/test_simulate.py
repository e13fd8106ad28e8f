"""Tests of the simulator (explorer.simulate): a tiny end-to-end run plus known-answer unit tests.

The end-to-end tests share one module fixture (24 galaxies simulated twice, with 2 workers and
with 1) that takes ~15-25 s on 2 cores, so they are marked slow; the unit tests take < 1 s.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("bagpipes", reason="bagpipes (optional 'simulate' extra) is needed to simulate")

from explorer.catalog import REQUIRED, Catalog  # noqa: E402
from explorer.constants import WAVE_OBS_VAC_AA, WISE_DEPTH_5SIGMA_MJY, WISE_F0_JY  # noqa: E402
from explorer.simulate import observe  # noqa: E402
from explorer.simulate.agn import torus_flam  # noqa: E402
from explorer.simulate.demo import make_demo_catalog  # noqa: E402
from explorer.simulate.population import HIDDEN_SCATTER, hidden_scatter_floors, tremonti04_oh  # noqa: E402
from explorer.simulate.run import assign_splits, simulate_catalog  # noqa: E402

N_SMALL = 24
SEED = 3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same 24 galaxies simulated with 2 workers (plus report) and with 1 worker."""
    d = tmp_path_factory.mktemp("sim")
    two = simulate_catalog(N_SMALL, SEED, d / "two.h5", workers=2, progress=False, report_dir=d / "report")
    one = simulate_catalog(N_SMALL, SEED, d / "one.h5", workers=1, progress=False, chunk_size=7)
    return {"two": two, "one": one, "report": d / "report", "dir": d}


@pytest.mark.slow
def test_catalog_is_valid(runs):
    with Catalog(runs["two"]) as cat:
        assert cat.n == N_SMALL and cat.simulated
        assert cat.bad_rows == {}
        t = cat.table
        for col in REQUIRED + (
            "class_label",
            "ph_qual",
            "truth_log_mstar",
            "truth_w2_torus_frac",
            "truth_line_ha",
        ):
            assert col in t, col
        assert t["id"][5] == "SIM-0000005"
        assert set(t["split"]) <= {"train", "valid", "test"}
        assert set(t["class_label"]) <= {"star-forming", "quenched", "agn"}
        # AGN convention: type 0 <=> NaN luminosity
        none = t["truth_agn_type"] == 0
        assert np.all(np.isnan(t["truth_log_lbol_agn"][none]))
        assert np.all(np.isfinite(t["truth_log_lbol_agn"][~none]))
        # "agn" = an AGN gives most of the fiber's [OIII] (LINER-like nuclei may not)
        agn = t["class_label"] == "agn"
        assert np.all(~none[agn])
        np.testing.assert_array_equal(agn, ~none & (t["truth_agn_oiii_share"] > 0.5))
        # upper limits carry NaN errors, detections finite ones
        for b in ("w1", "w2", "w3", "w4"):
            ul = t[f"{b}_is_ul"]
            assert np.all(np.isnan(t[f"{b}_sigma_mag"][ul]))
            assert np.all(np.isfinite(t[f"{b}_sigma_mag"][~ul]))
        prov = cat.provenance
        assert prov["seed"] == SEED and prov["n"] == N_SMALL
        for pkg in ("bagpipes", "numpy", "astropy", "explorer"):
            assert pkg in prov["versions"]
        assert "created" in prov and "command" in prov
        # the spectrum is normalized: median in rest 5300-5850 A ~ 1
        sp = cat.spectrum(0)
        assert sp.flux.shape == (3921,) and np.all(sp.weight >= 0)
        wr = WAVE_OBS_VAC_AA / (1 + sp.z)
        sel = (wr > 5300) & (wr < 5850) & (sp.weight > 0)
        assert np.median(sp.flux[sel]) == pytest.approx(1.0, abs=1e-3)
        assert np.isclose(sp.norm, t["spec_norm"][0])


@pytest.mark.slow
def test_deterministic_for_any_worker_count(runs):
    with Catalog(runs["one"]) as a, Catalog(runs["two"]) as b:
        ta, tb = a.table, b.table
        assert sorted(ta) == sorted(tb)
        for k in ta:
            if ta[k].dtype.kind == "f":
                np.testing.assert_array_equal(ta[k], tb[k], err_msg=k)
            else:
                assert np.all(ta[k] == tb[k]), k
        fa, wa = a.spectra(np.arange(N_SMALL))
        fb, wb = b.spectra(np.arange(N_SMALL))
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(wa, wb)
        ia, ib = a.ir_rest(np.arange(N_SMALL)), b.ir_rest(np.arange(N_SMALL))
        for k in ia:
            np.testing.assert_array_equal(ia[k], ib[k], err_msg=k)


@pytest.mark.slow
def test_physics_sanity_small_sample(runs):
    t = Catalog(runs["two"]).table
    lab = t["class_label"]
    assert {"star-forming", "quenched"} <= set(lab)
    w23 = t["truth_w2_mag_vega"] - t["truth_w3_mag_vega"]
    w12 = t["truth_w1_mag_vega"] - t["truth_w2_mag_vega"]
    assert np.median(w23[lab == "quenched"]) < np.median(w23[lab == "star-forming"]) - 1.0
    assert 0.0 < np.median(w12[lab != "agn"]) < 0.4
    # star-forming galaxies have higher sSFR than quenched ones
    assert t["truth_log_ssfr"][lab == "star-forming"].min() > t["truth_log_ssfr"][lab == "quenched"].max()
    # WISE sees the whole galaxy, the fiber only part of it
    assert np.all(t["mag_r_fiber"] > t["mag_r_total"] - 0.1)
    assert np.all((t["truth_fiber_frac"] > 0) & (t["truth_fiber_frac"] <= 1))
    floors = hidden_scatter_floors(t)
    assert floors["design"] == HIDDEN_SCATTER
    # PAHs, dust heating and tori scatter the mid-IR more than the stellar-dominated W1
    assert 0 < floors["w1_hidden_mag"] < floors["w3_hidden_mag"]
    # the fiber sees the bulge: redder g-r than the whole galaxy (noiseless magnitudes)
    gr_fib = t["truth_mag_g_fiber"] - t["truth_mag_r_fiber"]
    gr_tot = t["truth_mag_g_total"] - t["truth_mag_r_total"]
    assert np.median(gr_fib - gr_tot) > 0.0


@pytest.mark.slow
def test_rest_ir_spectrum_reproduces_the_wise_truth(runs):
    """The stored 1-40 micron spectrum, seen through the WISE filters, gives the catalog's noiseless
    WISE fluxes (so a model of the spectrum and the WISE columns describe the same galaxy)."""
    from explorer.simulate.irspec import IR_COMPONENTS, IR_WAVE_UM

    with Catalog(runs["two"]) as cat:
        t = cat.table
        ir = cat.ir_rest(np.arange(N_SMALL))
    np.testing.assert_array_equal(ir["wave_um"], IR_WAVE_UM)
    assert all(ir[c].shape == (N_SMALL, IR_WAVE_UM.size) for c in IR_COMPONENTS)
    assert all(np.all(np.isfinite(ir[c])) and np.all(ir[c] >= 0) for c in IR_COMPONENTS)
    wave_aa = IR_WAVE_UM * 1e4
    phot = observe.Photometer(wave_aa, observe.WISE_FILTERS)
    for i in range(N_SMALL):
        z = t["z"][i]
        fnu = sum(ir[c][i] for c in IR_COMPONENTS) * 1e-26  # erg/s/cm^2/Hz
        flam = fnu * observe.C_AA_S / (wave_aa * (1 + z)) ** 2  # per observed A, at rest wavelengths
        _, mjy = observe.wise_fnu_to_vega_mjy(observe.Photometer.fnu(phot.weights(z), flam))
        truth = np.array([t[f"truth_w{b}_flux_mjy"][i] for b in range(1, 5)])
        np.testing.assert_allclose(mjy, truth, rtol=0.05, err_msg=f"galaxy {i}")


@pytest.mark.slow
def test_report_pngs_written(runs):
    summary = json.loads((runs["report"] / "summary.json").read_text())
    assert summary["landmarks"]["n"] == N_SMALL
    pngs = sorted(runs["report"].glob("*.png"))
    names = {p.name for p in pngs}
    assert names == {
        "wise_colors.png",
        "bpt.png",
        "sfms.png",
        "mass_metallicity.png",
        "qpah_metallicity.png",
        "example_spectra.png",
    }
    for p in pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000


@pytest.mark.slow
def test_demo_catalog_from_test_split(runs):
    out = make_demo_catalog(runs["two"], runs["dir"] / "demo.h5", n=2, seed=1)
    with Catalog(runs["two"]) as big, Catalog(out) as demo:
        n_test = big.split_indices("test").size
        assert demo.n == min(2, n_test)
        assert set(demo.table["split"]) == {"test"}
        assert demo.provenance["parent_provenance"]["seed"] == SEED
        assert demo._h5["spectra/flux"].dtype == np.float16
        assert demo.has_ir_rest
        np.testing.assert_array_equal(
            demo.ir_rest([0])["dust"], big.ir_rest([big.index_of(demo.table["id"][0])])["dust"]
        )
        i = big.index_of(demo.table["id"][0])
        np.testing.assert_allclose(demo.spectrum(0).flux, big.spectrum(i).flux, rtol=2e-3, atol=2e-3)


# -------------------------------------------------------------------------------------------------
# known-answer unit tests (no bagpipes model needed)
# -------------------------------------------------------------------------------------------------
def test_photometry_of_flat_fnu_is_ab_zero():
    wave = np.geomspace(1000.0, 4e5, 20000)
    phot = observe.Photometer(wave, observe.SDSS_FILTERS + observe.WISE_FILTERS)
    for z in (0.0, 0.1, 0.3):
        # f_nu = 3631 Jy at every observed wavelength, as f_lambda per observed A at rest wavelengths
        wo = wave * (1 + z)
        flam = 3631e-23 * observe.C_AA_S / wo**2
        ab = observe.fnu_to_ab(observe.Photometer.fnu(phot.weights(z), flam))
        np.testing.assert_allclose(ab, 0.0, atol=2e-3)


def test_wise_vega_conversion_matches_zero_points():
    # a source whose AB magnitude equals the AB-Vega offset has Vega mag 0 and flux F0
    vega0, mjy0 = observe.wise_fnu_to_vega_mjy(3631e-23 * 10 ** (-0.4 * observe.WISE_AB_MINUS_VEGA))
    # (AB zero point 48.6 is 3630.8 Jy rather than 3631 Jy: 6.6e-5 mag)
    np.testing.assert_allclose(vega0, 0.0, atol=1e-4)
    np.testing.assert_allclose(mjy0, WISE_F0_JY * 1e3, rtol=1e-4)


def test_fiber_fraction_limits():
    # a point source: the enclosed fraction of a Gaussian PSF, 1 - exp(-a^2 / 2 s^2)
    s = 1.5 / 2.3548
    expect = 1 - np.exp(-(1.5**2) / (2 * s**2))
    assert observe.fiber_fraction(0.02, 1.0, 1.5) == pytest.approx(expect, abs=0.01)
    # a huge disk: tiny fraction; larger galaxies and worse seeing lose more light
    assert observe.fiber_fraction(60.0, 1.0, 1.5) < 0.01
    assert observe.fiber_fraction(3.0, 1.0, 1.5) > observe.fiber_fraction(6.0, 1.0, 1.5)
    assert observe.fiber_fraction(0.5, 4.0, 1.2) > observe.fiber_fraction(0.5, 4.0, 2.2)


def test_render_lines_conserves_flux():
    spec = observe.render_lines(np.array([5000.0, 7000.0]), np.array([1.0, 2.5]), np.array([80.0, 300.0]))
    dlam = np.diff(10 ** (np.log10(WAVE_OBS_VAC_AA[0]) - 0.5e-4 + 1e-4 * np.arange(WAVE_OBS_VAC_AA.size + 1)))
    assert np.sum(spec * dlam) == pytest.approx(3.5, rel=1e-6)
    assert WAVE_OBS_VAC_AA[np.argmax(spec)] == pytest.approx(5000.0, abs=1.2)


def test_air_to_vacuum_halpha():
    # Halpha: 6562.80 A in air is 6564.61 A in vacuum (Morton 1991)
    assert observe.air_to_vac(6562.80) == pytest.approx(6564.61, abs=0.02)
    assert observe.air_to_vac(1500.0) == 1500.0


def test_wise_quality_flags_and_upper_limits():
    rng = np.random.default_rng(0)
    bright = observe.observe_wise(np.array([100.0, 100.0, 500.0, 2000.0]), rng)
    assert bright["ph_qual"] == "AAAA" and not bright["is_ul"].any()
    dark = observe.observe_wise(np.zeros(4), rng)
    assert dark["is_ul"].all() and dark["ph_qual"] == "UUUU"
    assert np.all(np.isnan(dark["sigma_mag"]))
    # the upper limit is max(measured flux, 0) + 2 sigma, sigma >= depth / 5
    assert np.all(dark["flux_mjy"] >= 2 * WISE_DEPTH_5SIGMA_MJY / 5)
    np.testing.assert_allclose(dark["mag_vega"], -2.5 * np.log10(dark["flux_mjy"] / (WISE_F0_JY * 1e3)))


def test_pure_torus_is_stern_red():
    wave = np.geomspace(1000.0, 4e6, 20000)
    phot = observe.Photometer(wave, observe.WISE_FILTERS)
    for agn_type, alpha in ((1, 2.3), (2, 2.8)):
        f = torus_flam(wave, 0.1, 45.0, 0.5, alpha, agn_type)
        vega, _ = observe.wise_fnu_to_vega_mjy(observe.Photometer.fnu(phot.weights(0.1), f))
        assert vega[0] - vega[1] > 0.8


def test_splits_are_exact_and_seeded():
    s = assign_splits(1000, 5)
    assert (s == "train").sum() == 800 and (s == "valid").sum() == 100 and (s == "test").sum() == 100
    assert np.all(s == assign_splits(1000, 5)) and not np.all(s == assign_splits(1000, 6))


def test_tremonti_relation_value():
    # Tremonti et al. (2004) eq. 3 at log M* = 10
    assert tremonti04_oh(10.0) == pytest.approx(-1.492 + 18.47 - 8.026, abs=1e-9)


# -------------------------------------------------------------------------------------------------
# simulation v2 relations (explorer.simulate.host, .nuclei): known answers
# -------------------------------------------------------------------------------------------------
def test_host_dust_relations_known_answers():
    from explorer.simulate import host

    # solar metallicity (direct scale 8.69 = T04 9.14): gas-to-dust 162 (Remy-Ruyer et al. 2014)
    assert host.dust_to_gas(8.69 + host.T04_MINUS_DIRECT_DEX) == pytest.approx(1 / 162)
    # gamma = 0: U_min is the mean intensity; gamma > 0 lowers U_min at fixed <U>
    assert host.umin_of_mean_u(3.0, 0.0) == pytest.approx(3.0, rel=1e-4)
    assert host.umin_of_mean_u(3.0, 0.05) < 3.0
    # <U> = L_dust / (125 M_dust)
    assert host.mean_u(125e8, 1e8) == pytest.approx(1.0)
    # more dust, more attenuation; a bigger galaxy spreads it thinner
    assert host.av_of_dust(2e7, 5.0) == pytest.approx(2 * host.av_of_dust(1e7, 5.0))
    assert host.av_of_dust(1e7, 10.0) == pytest.approx(host.av_of_dust(1e7, 5.0) / 4)
    # q_PAH: saturates near solar, falls to the grid floor at low metallicity, scales with old stars
    assert host.qpah_visible(9.1, 1.0) == pytest.approx(4.0, abs=0.05)
    assert host.qpah_visible(8.0, 1.0) < 0.6
    assert host.qpah_visible(9.1, 0.5) == pytest.approx(0.5 * host.qpah_visible(9.1, 1.0))
    # an old disk is nearly all older than 0.5 Gyr; a young burst lowers that fraction
    f_old = host.old_fraction(10.0, 3.0, float("nan"), 0.0)
    assert 0.9 < f_old < 1.0
    assert host.old_fraction(10.0, 3.0, 0.05, 0.1) == pytest.approx(f_old / 1.1)


def test_agn_demographics_known_answers():
    from explorer.simulate import nuclei

    # young hosts: lognormal at a few per cent of Eddington (Kauffmann & Heckman 2009)
    assert nuclei.draw_log_edd(0.5, 0.0, young=True) == nuclei.LOG_EDD_YOUNG_PEAK
    # old hosts: a power law inside its range, most draws at low Eddington ratio
    lo, hi = nuclei.LOG_EDD_OLD_RANGE
    draws = [nuclei.draw_log_edd(u, 0.0, young=False) for u in np.linspace(0, 1, 101)]
    assert lo - 1e-9 <= min(draws) and max(draws) <= hi + 1e-9 and np.median(draws) < -3.5
    # Seyferts keep their torus, faint radiatively inefficient nuclei lose it
    assert nuclei.torus_fade(44.0, -1.5) > 0.99
    assert nuclei.torus_fade(41.0, -4.5) < 0.01
    # a broad-line nucleus brighter than the host in the fiber is a quasar target, not a galaxy
    assert not nuclei.passes_galaxy_selection(45.0, 1, 1e43)
    assert nuclei.passes_galaxy_selection(45.0, 2, 1e43)
    assert nuclei.passes_galaxy_selection(42.0, 1, 1e43)
