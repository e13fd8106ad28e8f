"""The information ladder's inputs (explorer.ml.ladder): which truth each rung sees."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ModelError
from explorer.ml.ladder import HIDDEN, MEASUREMENT_NOISE, VISIBLE, truth_features


def _table(n=50, seed=0):
    rng = np.random.default_rng(seed)
    t = {name: rng.uniform(0.1, 2.0, n) for name, _ in VISIBLE + HIDDEN}
    t["truth_burst_frac"][:10] = 0.0  # no burst -> NaN after the log
    t["truth_log_loiii_agn"][10:30] = np.nan  # no AGN
    return t


def test_rungs_see_the_right_columns_and_flags():
    t = _table()
    idx = np.arange(50)
    vis = truth_features(t, idx, "truth_visible")
    allx = truth_features(t, idx, "truth_all")
    assert vis.shape == (50, len(VISIBLE) + 2) and allx.shape == (50, len(VISIBLE) + len(HIDDEN) + 2)
    # the two flags: no burst, no AGN
    np.testing.assert_array_equal(vis[:, -2], np.r_[np.ones(10), np.zeros(40)])
    np.testing.assert_array_equal(vis[:, -1], np.r_[np.zeros(10), np.ones(20), np.zeros(20)])
    # exact truth: the visible block of truth_all is the same numbers
    np.testing.assert_array_equal(allx[:, : len(VISIBLE)], vis[:, : len(VISIBLE)])


def test_measured_rung_adds_the_stated_noise_only_to_measured_columns():
    t = _table(n=20000, seed=1)
    idx = np.arange(20000)
    exact = truth_features(t, idx, "truth_visible")
    noisy = truth_features(t, idx, "truth_measured", np.random.default_rng(3))
    names = [n for n, _ in VISIBLE]
    for k, name in enumerate(names):
        d = noisy[:, k] - exact[:, k]
        ok = np.isfinite(d)
        expect = MEASUREMENT_NOISE.get(name, 0.0)
        assert np.std(d[ok]) == pytest.approx(expect, abs=0.01 + 0.05 * expect), name


def test_a_catalog_without_truth_is_refused_by_name():
    with pytest.raises(ModelError, match="truth_bulge_to_total"):
        truth_features({"z": np.zeros(3)}, np.arange(3), "truth_visible")


def test_the_ladder_table_names_its_command_and_every_rung():
    from explorer.ml.ladder import ladder_markdown

    m = {"chi2_n": 36.04, "chi2_n_paper": 1.17}
    res = {"bands": {b: m for b in ("W1", "W2", "W3", "W4")}, "by_class": {"W3": {"quenched": {"chi2_n": 8.7}}},
           "train_seconds": 300.0}  # fmt: skip
    out = {"catalog": "runs/sim50k_v2.h5", "split": "test", "n_train": 40000,
           "rungs": {"truth_visible": res, "spectrum": {"bands": {"W1": m}}}}  # fmt: skip
    text = ladder_markdown(out, "python -m explorer ladder runs/sim50k_v2.h5")
    assert "`python -m explorer ladder runs/sim50k_v2.h5` (40000 training galaxies" in text
    assert (
        "| exact visible truth" in text
        and "| 36.0 / 1.17 | 36.0 / 1.17 | 36.0 / 1.17 | 36.0 / 1.17 | 300.0 |" in text
    )
    assert "| the spectrum and photometry (`ceiling`) | 36.0 / 1.17 | – | – | – | – |" in text
    assert "| *the paper's model on real galaxies (Table 3)* | – / 1.33 |" in text
    assert "| truth_visible | 8.70 |" in text and "| spectrum | – |" in text
