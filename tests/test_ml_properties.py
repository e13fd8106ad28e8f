"""Property heads on a planted relation: scatter reaches the planted noise, uncertainties are calibrated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.errors import ModelError
from explorer.ml.evaluate import property_metrics
from explorer.ml.properties import property_targets, train_property_ensemble

torch.set_num_threads(1)

QPAH_SD, LBOL_SD, SFR_SD = 0.05, 0.1, 0.15


def _table(n, rng):
    x = rng.normal(size=(n, 4)).astype(np.float32)
    agn = x[:, 3] > 0.8
    table = {
        "truth_qpah": np.exp(0.8 + 0.4 * x[:, 0] + QPAH_SD * rng.standard_normal(n)),
        "truth_log_lbol_agn": np.where(agn, 44 + 0.5 * x[:, 1] + LBOL_SD * rng.standard_normal(n), np.nan),
        "truth_log_sfr": 0.3 * x[:, 0] - 0.6 * x[:, 2] + SFR_SD * rng.standard_normal(n),
        "class_label": np.where(agn, "agn", "star-forming"),
    }
    return x, table


def test_property_heads_recover_planted_scatter():
    rng = np.random.default_rng(0)
    (xt, tt), (xv, tv), (xe, te) = _table(4000, rng), _table(1000, rng), _table(3000, rng)
    idx = lambda t: np.arange(len(t["truth_qpah"]))  # noqa: E731
    pt, pv, pe = property_targets(tt, idx(tt)), property_targets(tv, idx(tv)), property_targets(te, idx(te))
    assert np.isnan(pt["log_lbol_agn"][pt["agn"] == 0]).all()  # L_bol is a target for AGN only
    ens = train_property_ensemble(
        xt, pt, xv, pv, n_members=2, hidden=(32, 32), epochs=60, lr=3e-3, progress=False
    )
    from explorer.ml.properties import fit_sigma_scale

    ens.sigma_scale = fit_sigma_scale(ens, xv, pv)
    assert np.all((ens.sigma_scale > 0.7) & (ens.sigma_scale < 1.4))  # heads are roughly calibrated already
    m = property_metrics(ens.predict(xe), pe, {"qpah_frac": QPAH_SD, "lbol_agn_dex": LBOL_SD})
    assert m["qpah"]["frac_scatter"] == pytest.approx(QPAH_SD, rel=0.3)
    assert m["qpah"]["floor"] == QPAH_SD
    assert m["lbol_agn"]["scatter_dex"] == pytest.approx(LBOL_SD, rel=0.35)
    assert m["log_sfr"]["scatter_dex"] == pytest.approx(SFR_SD, rel=0.25)
    for k in ("qpah", "lbol_agn", "log_sfr"):
        assert 0.58 < m[k]["coverage68"] < 0.78, (k, m[k])
    assert m["agn_class"]["auc"] > 0.97


def test_observed_catalog_without_truth_is_refused_clearly():
    with pytest.raises(ModelError, match="no truth columns"):
        property_targets({"z": np.zeros(3), "class_label": np.array(["", "", ""])}, np.arange(3))


def test_scatter_floors_are_measured_on_a_simulated_catalog_else_design_values():
    from explorer.catalog import Catalog
    from explorer.paths import DEMO_CATALOG
    from explorer.simulate.population import HIDDEN_SCATTER, scatter_floors

    with Catalog(DEMO_CATALOG) as cat:
        fl, src = scatter_floors(cat.table)
    assert src.endswith("hidden_scatter_floors(catalog table)")
    assert 0 < fl["qpah_frac"] < 1.0 and 0 < fl["lbol_agn_dex"] < 1
    assert all(isinstance(v, int | float) for v in fl.values())
    fl, src = scatter_floors({"z": np.zeros(3)})  # an observed catalog: no truth columns
    assert {k: fl[k] for k in HIDDEN_SCATTER} == HIDDEN_SCATTER and "design values" in src
    assert fl["qpah_frac"] == pytest.approx(HIDDEN_SCATTER["qpah_dex"] * np.log(10))
