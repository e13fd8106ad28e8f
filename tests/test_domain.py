"""Out-of-domain scoring: exact answers on a known reference, and ppxf's two z ~ 0.004 spectra."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.ml.domain import DomainReference, load_domain, save_domain, score_domain


@pytest.fixture
def ref() -> DomainReference:
    rng = np.random.default_rng(0)
    n = 20000
    table = {
        "z": rng.uniform(0.02, 0.3, n),
        "spec_norm": 10 ** rng.uniform(0.0, 2.0, n),
        "mag_r_total": rng.uniform(14.0, 17.7, n),
    }
    return DomainReference.from_training(table, np.arange(n), rng.normal(size=(n, 6)), source="test")


def test_reference_summarizes_training_set(ref):
    assert ref.z_range[0] == pytest.approx(0.02, abs=1e-3) and ref.z_range[1] == pytest.approx(0.3, abs=1e-3)
    np.testing.assert_allclose(ref.latent_cov, np.eye(6), atol=0.05)
    assert ref.d2_threshold == pytest.approx(22.458, abs=1e-3)  # chi2.ppf(0.999, 6)
    assert set(ref.mag_ranges) == {"r"}


def test_flags_and_reasons(ref):
    lat = np.zeros((4, 6))
    lat[1, 0] = 6.0  # d^2 = 36 > 22.46
    z = np.array([0.1, 0.1, 0.004, 0.1])
    norm = np.array([10.0, 10.0, 10.0, 1e4])
    mags = np.full((4, 5), np.nan)
    mags[0, 2] = 12.0  # r too bright; NaN bands are not checked
    s = score_domain(ref, z, norm, lat, mags)
    assert s.ood.tolist() == [True, True, True, True]
    assert s.ood_mag.tolist() == [True, False, False, False]
    assert s.ood_latent.tolist() == [False, True, False, False]
    assert s.mahalanobis_d2[1] == pytest.approx(36.0, rel=0.05)
    assert s.ood_z.tolist() == [False, False, True, False]
    assert s.ood_norm.tolist() == [False, False, False, True]
    assert "z=0.004 outside training range" in s.reason[2]
    assert "r mag=12 outside" in s.reason[0]
    inside = score_domain(ref, [0.1], [10.0], np.zeros((1, 6)))
    assert not inside.ood[0] and inside.reason[0] == ""


def test_round_trip_through_model_directory(ref, tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": "irox-models", "files": {}, "components": {}}')
    save_domain(tmp_path, ref)
    back = load_domain(tmp_path)
    np.testing.assert_allclose(back.latent_cov, ref.latent_cov)
    assert back.z_range == ref.z_range and back.d2_threshold == ref.d2_threshold


def test_ppxf_spectra_are_out_of_domain(sdss_ngc3073, sdss_ngc3522):
    """The shipped model's training set starts at z = 0.012; both ppxf galaxies are at z ~ 0.004."""
    from explorer.catalog import Catalog
    from explorer.io.sdss import read_sdss_spectrum
    from explorer.ml.registry import load_models
    from explorer.paths import DEMO_CATALOG

    bundle = load_models("default", components=["encoder"])
    with Catalog(DEMO_CATALOG) as cat:
        idx = np.arange(0, cat.n, 10)
        ref = DomainReference.from_training(cat.table, idx, bundle.catalog_latents(cat, idx))
    specs = [read_sdss_spectrum(p) for p in (sdss_ngc3073, sdss_ngc3522)]
    lat = bundle.encode(np.stack([s.flux for s in specs]))
    s = score_domain(ref, [sp.z for sp in specs], [sp.norm for sp in specs], lat)
    assert s.ood.all() and s.ood_z.all()
    assert all("outside training range" in r for r in s.reason)
