"""The truth-flux reference of the evaluation: the lowest chi2_n the paper's metric allows."""

from __future__ import annotations

import numpy as np

from explorer.constants import WISE_BANDS, vega_mag_to_mjy
from explorer.ml.data import wise_targets
from explorer.ml.evaluate import truth_flux_reference


def _table(n=20000, sigma=0.05, seed=0, bias_mag=0.0):
    rng = np.random.default_rng(seed)
    t = {}
    for b, w in enumerate(WISE_BANDS):
        true_mag = rng.uniform(8, 12, n)
        t[f"truth_{w.lower()}_flux_mjy"] = vega_mag_to_mjy(true_mag, b)
        t[f"{w.lower()}_mag_vega"] = true_mag + bias_mag + rng.normal(0, sigma, n)
        t[f"{w.lower()}_sigma_mag"] = np.full(n, sigma)
        t[f"{w.lower()}_is_ul"] = np.zeros(n, bool)
    return t


def test_truth_reference_is_one_for_gaussian_noise():
    t = _table()
    idx = np.arange(20000)
    ref = truth_flux_reference(t, idx, wise_targets(t, idx))
    for w in WISE_BANDS:
        assert abs(ref["bands"][w]["chi2_n"] - 1.0) < 0.05
        assert "coverage68" not in ref["bands"][w]
    # colours: sigma_c^2 = 2 sigma^2 and independent noise -> also 1
    assert abs(ref["colors"]["W1-W2"]["chi2_n"] - 1.0) < 0.05


def test_truth_reference_sees_a_biased_catalog():
    # observations 0.1 mag (2 sigma) fainter than the truth -> chi2_n ~ 1 + 2^2
    t = _table(bias_mag=0.1)
    idx = np.arange(20000)
    ref = truth_flux_reference(t, idx, wise_targets(t, idx))
    assert abs(ref["bands"]["W3"]["chi2_n"] - 5.0) < 0.3
    assert ref["bands"]["W3"]["mean_chi"] < -1.9  # pred - obs is negative


def test_no_reference_without_truth_columns():
    t = _table(n=10)
    for w in WISE_BANDS:
        del t[f"truth_{w.lower()}_flux_mjy"]
    assert truth_flux_reference(t, np.arange(10), wise_targets(t, np.arange(10))) is None
