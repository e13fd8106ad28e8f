"""The AllWISE-like error model and the SDSS spectrophotometric calibration (explorer.simulate.observe)."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.constants import N_PIX, WISE_CALIB_FRAC, WISE_DEPTH_5SIGMA_MJY, WISE_F0_JY
from explorer.simulate import observe


def test_zero_point_common_to_a_catalog_and_seeded():
    a, b = observe.catalog_zero_points(7), observe.catalog_zero_points(7)
    assert np.array_equal(a, b) and a.shape == (4,)
    assert not np.allclose(a, observe.catalog_zero_points(8))
    # the spread over many catalogs is the absolute calibration uncertainty (Jarrett et al. 2011)
    zp = np.array([observe.catalog_zero_points(s) for s in range(4000)])
    np.testing.assert_allclose(zp.std(axis=0), 1.0857 * WISE_CALIB_FRAC, rtol=0.06)


def test_zero_point_shifts_every_galaxy_alike_and_not_sigma():
    flux = np.array([5.0, 4.0, 30.0, 200.0])
    zp = np.array([0.03, -0.02, 0.05, 0.1])
    a = observe.observe_wise(flux, np.random.default_rng(3))
    b = observe.observe_wise(flux, np.random.default_rng(3), zero_point_mag=zp)
    np.testing.assert_allclose(b["mag_vega"] - a["mag_vega"], zp, atol=1e-12)
    np.testing.assert_allclose(b["sigma_mag"], a["sigma_mag"], rtol=1e-12)


def test_background_sigma_falls_as_one_over_sqrt_coverage():
    s12 = observe.wise_background_sigma_mjy(np.full(4, 12.0))
    s48 = observe.wise_background_sigma_mjy(np.full(4, 48.0))
    np.testing.assert_allclose(s12 / s48, 2.0)
    typical = observe.wise_background_sigma_mjy(observe.WISE_COVERAGE_SKY_MEDIAN)
    np.testing.assert_allclose(typical, WISE_DEPTH_5SIGMA_MJY / 5.0)
    # about the 4-band survey's ecliptic sensitivity, "better than 0.08, 0.11, 1, 6 mJy" (Wright et al. 2010)
    ecl = 5 * observe.wise_background_sigma_mjy(np.full(4, observe.WISE_COVERAGE_ECLIPTIC))
    np.testing.assert_allclose(ecl, [0.08, 0.11, 1.0, 6.0], rtol=0.22)
    assert np.all(ecl < 1.03 * np.array([0.08, 0.11, 1.0, 6.0]))


def test_measured_scatter_matches_sigma_and_halves_with_four_times_the_coverage():
    flux = np.array([0.05, 0.06, 0.5, 3.0])  # faint: background dominated
    spread = {}
    for cov in (12.0, 48.0):
        rng = np.random.default_rng(1)
        bkg = observe.wise_background_sigma_mjy(np.full(4, cov))
        # the measured flux is S/N x sigma (the reported flux of a non-detection is a limit)
        draws = [observe.observe_wise(flux, rng, coverage=np.full(4, cov)) for _ in range(3000)]
        f_meas = np.array([d["snr"] for d in draws]) * bkg
        spread[cov] = f_meas.std(axis=0)
        np.testing.assert_allclose(spread[cov], bkg, rtol=0.08)
    np.testing.assert_allclose(spread[12.0] / spread[48.0], 2.0, rtol=0.1)


def test_coverage_grows_towards_the_ecliptic_poles():
    on_ecliptic = observe.wise_coverage(90.0, 23.4393)  # ecliptic latitude 0, longitude 90
    lon, lat = observe.ecliptic_coordinates(90.0, 23.4393)
    assert lat == pytest.approx(0.0, abs=1e-6) and lon == pytest.approx(90.0, abs=1e-6)
    np.testing.assert_array_equal(on_ecliptic, [24, 24, 12, 12])
    lon60, lat60 = observe.ecliptic_coordinates(90.0, 23.4393 + 60.0)
    assert lat60 == pytest.approx(60.0, abs=1e-6)
    np.testing.assert_array_equal(observe.wise_coverage(90.0, 83.4393), [48, 48, 24, 24])
    # the twice-covered strip 26-40 deg in ecliptic longitude
    ra, dec = 33.0, 12.5  # ecliptic longitude ~ 35 deg, latitude ~ 0
    lon, lat = observe.ecliptic_coordinates(ra, dec)
    assert 26 < lon < 40 and abs(lat) < 3
    assert observe.wise_coverage(ra, dec)[3] >= 24


def test_upper_limits_follow_the_supplement():
    rng = np.random.default_rng(0)
    bright = observe.observe_wise(np.array([100.0, 100.0, 500.0, 2000.0]), rng)
    assert bright["ph_qual"] == "AAAA" and not bright["is_ul"].any()
    dark = observe.observe_wise(np.zeros(4), rng)
    assert dark["ph_qual"] == "UUUU" and dark["is_ul"].all()
    assert np.all(np.isnan(dark["sigma_mag"])) and np.all(np.isnan(dark["flux_err_mjy"]))
    sig = observe.wise_background_sigma_mjy(dark["coverage"])
    # 95 % upper limit: max(measured, 0) + 2 sigma, at least 2 sigma
    assert np.all(dark["flux_mjy"] >= 2 * sig - 1e-12)
    np.testing.assert_allclose(dark["mag_vega"], -2.5 * np.log10(dark["flux_mjy"] / (WISE_F0_JY * 1e3)))
    # detected exactly where S/N >= 2, and the letters follow the S/N
    for _ in range(200):
        d = observe.observe_wise(np.array([0.02, 0.03, 0.3, 2.0]), rng)
        assert np.array_equal(d["is_ul"], d["snr"] < 2)
        for q, s in zip(d["ph_qual"], d["snr"], strict=True):
            assert q == ("A" if s >= 10 else "B" if s >= 3 else "C" if s >= 2 else "U")


def test_sigmpro_includes_the_psf_model_floor():
    d = observe.observe_wise(np.array([1e4, 1e4, 1e4, 1e4]), np.random.default_rng(2))
    # S/N floored near 60 for very bright sources (All-Sky Supplement VI.3.b)
    assert np.all(d["snr"] < 70) and np.all(d["snr"] > 50)
    np.testing.assert_allclose(d["sigma_mag"], 1.0857 / observe.WPRO_SNR_MAX, rtol=0.02)


def test_w4_colour_term_sign():
    red = np.array([1.0, 1.0, 10.0, 40.0])  # rising mid-IR spectrum (star-forming galaxy)
    rj = np.array([1.0, 0.5, 1.0, 1.0 * (11.5608 / 22.0883) ** 2])  # Rayleigh-Jeans, like the calibrators
    assert observe.w4_colour_factor(red)[3] > 1.05
    assert observe.w4_colour_factor(rj)[3] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_array_equal(observe.w4_colour_factor(red)[:3], 1.0)


def test_resolved_galaxies_lose_profile_fit_flux():
    frac = observe.wpro_flux_fraction(np.array([0.0, 2.0, 6.0]))
    np.testing.assert_allclose(frac[0], 1.0)
    assert np.all(np.diff(frac, axis=0) < 0)  # larger galaxies lose more
    assert np.all(frac[1, 3] > frac[1, :3])  # the 12" W4 PSF loses least


def test_no_nan_leaks_into_observed_columns():
    rng = np.random.default_rng(5)
    for flux in (np.zeros(4), np.full(4, 1e-6), np.array([1.0, 0.5, 0.0, 0.0]), np.full(4, 1e5)):
        d = observe.observe_wise(flux, rng, zero_point_mag=observe.catalog_zero_points(1), r50_arcsec=3.0)
        assert np.all(np.isfinite(d["mag_vega"])) and np.all(np.isfinite(d["flux_mjy"]))
        assert np.array_equal(np.isnan(d["sigma_mag"]), d["is_ul"])


def test_spectrophotometric_calibration_is_smooth_with_the_cited_rms():
    rng = np.random.default_rng(0)
    c = np.array([observe.spectrophotometric_calibration(rng) for _ in range(2000)])
    assert c.shape == (2000, N_PIX)
    mag = -2.5 * np.log10(c)
    assert np.sqrt(np.mean(mag**2)) == pytest.approx(observe.SPECTRO_CALIB_MAG, rel=0.08)
    # linear in log wavelength: second differences vanish
    assert np.abs(np.diff(mag, 2, axis=1)).max() < 1e-9
    flux = np.full(N_PIX, 10.0)
    f, ivar = observe.observe_spectrum(flux, np.random.default_rng(1))
    assert np.all(np.isfinite(f)) and np.all(ivar >= 0)
