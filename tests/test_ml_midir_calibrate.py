"""Quantile recalibration of the mid-IR bands (explorer/ml/midir_calibrate.py): a posterior whose
bands are too wide is brought to its nominal coverage, per galaxy by its kind, and saved."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.ml.data import Scaler
from explorer.ml.midir import CoefNet, MidIRModel, PCABasis, SpectrumPosterior, draw_quantiles
from explorer.ml.midir_calibrate import NOMINAL, fit_levels, map_probs, pit

WAVE = np.geomspace(1.0, 40.0, 32)


def _coverage(draws, truth, probs):
    q = draw_quantiles(draws, probs)
    return float(np.mean((truth >= q[0]) & (truth <= q[1])))


def test_heavy_tailed_errors_get_their_nominal_coverage_back():
    """Truths from a Student-t (3 dof), draws from a Gaussian of the same variance: the 68% band
    holds more than 68% of them, and the levels fitted on one sample fix it on a fresh one."""
    rng = np.random.default_rng(0)

    def sample(n):
        truth = rng.standard_t(3, size=(n, 4)) / np.sqrt(3.0)  # unit variance
        return rng.normal(size=(n, 400, 4)), truth

    (d_fit, t_fit), (d_new, t_new) = sample(1500), sample(1500)
    levels = fit_levels(pit(d_fit, t_fit))
    assert len(levels) == len(NOMINAL) and np.all(np.diff(levels) >= 0)
    assert _coverage(d_new, t_new, [0.16, 0.84]) > 0.72  # as drawn: too wide
    for nominal, lo, hi in ((0.68, 0.66, 0.70), (0.95, 0.935, 0.965)):
        probs = map_probs([0.5 - nominal / 2, 0.5 + nominal / 2], levels)
        assert lo < _coverage(d_new, t_new, probs) < hi
    np.testing.assert_allclose(map_probs([0.5, 0.16], None), [0.5, 0.16])  # no map: as drawn
    assert map_probs([0.5], levels)[0] == 0.5  # the median is not moved


def _model():
    net = CoefNet(2, 1, (4,))
    return MidIRModel("pca", "photometry", Scaler(np.zeros(2), np.ones(2)), [net], PCABasis(np.zeros((0, WAVE.size))),
                      WAVE, np.zeros(WAVE.size), [0.0], [1.0], np.zeros(WAVE.size), np.zeros(4), {"member_hidden": [4]})  # fmt: skip


def test_each_galaxy_gets_the_map_of_its_kind_and_the_maps_are_saved():
    model = _model()
    model.band_levels = {"prior": list(NOMINAL * 0.5), "conditioned": list(NOMINAL)}
    n = 2
    means, covs = np.zeros((n, 1, 5)), np.tile(np.eye(5), (n, 1, 1, 1))
    post = SpectrumPosterior(means, covs, np.ones((n, 1)), model, np.full(n, 0.1),
                             ["", "conditioned on W1 W2 W3 W4< ('<': upper limit)"])  # fmt: skip
    probs = post.level_probs([0.16, 0.5, 0.84])
    np.testing.assert_allclose(
        probs[0], [0.5 - 0.17, 0.5, 0.5 + 0.17], atol=1e-9
    )  # the prior's: half the level
    np.testing.assert_allclose(probs[1], [0.16, 0.5, 0.84], atol=1e-9)  # the conditioned one: identity
    back = MidIRModel.from_state(model.state())
    assert back.band_levels == model.band_levels
    assert post.part(slice(1, 2)).notes == [post.notes[1]]


def test_calibrate_only_fits_the_shipped_model_and_keeps_its_training_record(tmp_path):
    from explorer.ml.midir_eval import load_midir
    from explorer.ml.midir_train import recalibrate_midir
    from explorer.ml.registry import read_manifest
    from explorer.testing.models import write_random_models, write_tiny_midir
    from explorer.testing.toy import make_toy_catalog

    cat = make_toy_catalog(tmp_path / "toy_ir.h5", n=200, seed=0, ir_rest=True)
    models = write_random_models(tmp_path / "models")
    write_tiny_midir(models, cat)
    for m in load_midir(models).values():  # train-midir fits the maps
        assert set(m.band_levels) == {"prior", "conditioned"}
    doc = recalibrate_midir(
        cat, models, progress=False, command="python -m explorer train-midir x --calibrate-only"
    )
    entry = read_manifest(models)["components"]["midir"]
    assert entry["training_command"] == "explorer.testing.models.write_tiny_midir"
    assert entry["band_levels_fitted_by"].endswith("--calibrate-only")
    assert set(doc["designs"]["pca"]["band_levels"]) == {"optical", "photometry"}
    assert "coverage_as_drawn" in doc["designs"]["pca"]["test"]["optical"]
    other = make_toy_catalog(tmp_path / "other.h5", n=200, seed=1, ir_rest=True)
    with pytest.raises(Exception, match="not the catalog"):
        recalibrate_midir(other, models, progress=False)
