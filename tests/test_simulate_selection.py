"""Known-answer tests of the main-sample selection (explorer.simulate.selection) and of the old-star
dust of bulges and quenched disks (explorer.simulate.host)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("kcorrect", reason="kcorrect (optional 'simulate' extra) holds the real SDSS pool")

from explorer.simulate import host, selection  # noqa: E402
from explorer.simulate.population import galaxy_rng, load_real_pool  # noqa: E402


@pytest.fixture(scope="module")
def sample():
    pool = load_real_pool()
    rows = [selection.draw_main_sample(galaxy_rng(7, i), pool) for i in range(3000)]
    return pool, {k: np.array([r[k] for r in rows]) for k in rows[0]}


def test_schechter_peaks_at_mstar_for_alpha_minus_one():
    # alpha = -1: x^0 exp(-x) per magnitude is monotonic; alpha = -0.5 peaks where x = 0.5
    m = np.linspace(-24, -16, 8001)
    phi = selection.schechter_mag(m, -21.0, -0.5)
    x = 10 ** (0.4 * (-21.0 - m[np.argmax(phi)]))
    assert x == pytest.approx(0.5, rel=0.01)
    assert selection.MSTAR_01 == pytest.approx(-20.44 + 5 * np.log10(0.6766))


def test_pool_k_corrections_at_the_band_shift_redshift(sample):
    pool, _ = sample
    # K correction ^{0.1}r -> r at z = 0.1 is -2.5 log10(1.1) for every SED (Blanton & Roweis 2007)
    k = np.array([np.interp(0.1, selection.K_Z_GRID, row) for row in pool.k01_grid[:50]])
    assert np.allclose(k, -2.5 * np.log10(1.1), atol=2e-3)


def test_every_drawn_galaxy_passes_the_flux_limit(sample):
    _, s = sample
    assert np.all(s["r_petro"] <= selection.R_PETRO_LIMIT)
    assert np.all((s["z"] >= selection.Z_MIN) & (s["z"] <= selection.Z_MAX))


def test_main_sample_redshift_and_magnitude_distribution(sample):
    pool, s = sample
    # median z of the main sample ~0.10 (Strauss et al. 2002): the pool alone gives it too, but the
    # pool is brighter; counts of a flux-limited sample rise to the limit
    assert 0.085 < np.median(s["z"]) < 0.115
    assert np.median(s["r_petro"]) > np.median(pool.r_mag) + 0.3
    n_faint = np.sum(s["r_petro"] > 17.27)
    n_bright = np.sum((s["r_petro"] > 16.77) & (s["r_petro"] <= 17.27))
    assert n_faint > 1.3 * n_bright
    # the drawn luminosities follow the LF, not the pool: fainter than the pool at the median
    assert np.median(s["abs_r01"]) > np.median(pool.abs_r01) + 0.2


def test_old_star_dust_per_mass_follows_smith12():
    # means including non-detections: ellipticals -5.8, S0s -4.4 (Smith et al. 2012)
    assert np.log10(host.agb_dust_mass(1e11, 0.0, "bulge") / 1e11) == pytest.approx(-5.8)
    assert np.log10(host.agb_dust_mass(1e11, 0.0, "quenched_disk") / 1e11) == pytest.approx(-4.4)
    with pytest.raises(KeyError):
        host.agb_dust_mass(1e11, 0.0, "spiral")
