"""The catalog-offset model of the mid-IR conditioning (explorer/ml/midir_offset.py): its sigma scale
is fitted on the validation split and saved with it."""

from __future__ import annotations

import numpy as np

from explorer.ml.data import Scaler
from explorer.ml.midir_offset import WiseOffsetModel, band_scales
from explorer.ml.threads import torch_threads


def test_band_scales_recover_a_known_factor_and_leave_thin_bands_alone():
    rng = np.random.default_rng(0)
    n = 20000
    t, s = np.full((n, 3), 0.04), np.full((n, 3), 0.03)
    true_k = np.array([0.5, 1.0, 2.0])
    r = rng.normal(size=(n, 3)) * np.sqrt(true_k**2 * 0.04 + 0.03**2)
    r[10:, 2] = np.nan  # a band with 10 detections: too few to calibrate
    k = band_scales(r, t, s)
    np.testing.assert_allclose(k[:2], true_k[:2], rtol=0.03)
    assert k[2] == 1.0


def test_heavy_tailed_offsets_get_a_narrower_core_and_the_scale_is_saved():
    """Laplace-distributed offsets: the Gaussian fit's sigma (their rms) is wider than their core,
    so the validation scale shrinks it until 68% fall inside; the scale survives state()."""
    rng = np.random.default_rng(1)

    def rows(n):
        x = rng.normal(size=(n, 2)).astype(np.float32)
        d = rng.laplace(scale=0.1, size=(n, 4)) + 0.05 * x[:, :1]
        return x, d, np.full((n, 4), 0.01)

    (xt, dt, st), (xv, dv, sv), (xs, ds, ss) = rows(3000), rows(1000), rows(2000)
    with torch_threads(1):
        model = WiseOffsetModel.fit(xt, dt, st, xv, dv, sv, Scaler.fit(xt), epochs=30)
    assert np.all(model.scale < 0.95) and np.all(model.scale > 0.6)
    for calibrated, lo, hi in ((False, 0.74, 0.85), (True, 0.64, 0.72)):
        mu, cov = model.predict(xs, calibrated=calibrated)
        inside = np.abs(ds - mu) <= np.sqrt(np.diagonal(cov, axis1=1, axis2=2) + ss**2)
        assert lo < inside.mean() < hi, (calibrated, inside.mean())
    back = WiseOffsetModel.from_state(model.state())
    np.testing.assert_allclose(back.predict(xs[:3])[1], model.predict(xs[:3])[1], rtol=1e-6)
