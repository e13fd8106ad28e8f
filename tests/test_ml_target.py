"""The attribution bridge: the differentiable module reproduces the bundle's own predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.catalog import Catalog
from explorer.paths import DEMO_CATALOG


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from explorer.ml.registry import load_models
    from explorer.testing.models import write_random_models

    return load_models(write_random_models(tmp_path_factory.mktemp("models") / "random"))


@pytest.fixture(scope="module")
def demo():
    with Catalog(DEMO_CATALOG) as cat:
        yield cat


def _mags(row, kind):
    return np.array([[row[f"mag_{b}_{kind}"] for b in "ugriz"]])


def test_module_equals_bundle_predictions(bundle, demo):
    from explorer.ml.target import build_target_function

    torch.set_num_threads(1)
    for i in (0, 7):
        spec, row = demo.spectrum(i), demo.row(i)
        tf = build_target_function(bundle, spec, row)
        out = tf(torch.from_numpy(spec.flux[None])).detach().numpy()[0]
        kw = dict(
            z=[spec.z], spec_norm=[spec.norm], mag_total=_mags(row, "total"), mag_fiber=_mags(row, "fiber")
        )
        post = bundle.predict(flux=spec.flux[None], **kw)
        np.testing.assert_allclose(out[:4], post.mean_mag[0], rtol=0, atol=2e-4)
        np.testing.assert_allclose(out[4:7], post.mean_mag[0, :3] - post.mean_mag[0, 1:], atol=3e-4)
        if bundle.properties is not None:
            pp = bundle.predict_properties(flux=spec.flux[None], **kw)
            i_q = tf.targets.index("qpah")
            np.testing.assert_allclose(out[i_q], np.log(pp.qpah[0]), atol=2e-4)
            np.testing.assert_allclose(out[i_q + 1], pp.log_lbol_agn[0], atol=2e-3)


def test_gradients_reach_the_flux_and_references_sit_at_target_z(bundle, demo):
    from explorer.ml.target import ReferenceSpectra, build_target_function

    refs = ReferenceSpectra(bundle, demo, n=8, seed=1)
    spec = demo.spectrum(3)
    ref = refs(spec.z)
    assert ref.shape == (8, 3921) and np.isfinite(ref).all()
    assert refs(spec.z) is ref  # cached per redshift
    tf = build_target_function(bundle, spec, demo.row(3), refs)
    # the engine's contract, met without the models' layer importing the engine
    from explorer.attribution.engine import TargetFunctionLike, target_names

    assert isinstance(tf, TargetFunctionLike) and target_names(tf)[:4] == ["W1", "W2", "W3", "W4"]
    assert tf.reference_baselines is refs
    assert tf.model_id == bundle.manifest["files"]["predictor.pt"]["sha256"][:16]
    assert not hasattr(build_target_function(bundle, spec, demo.row(3)), "reference_baselines")
    x = torch.from_numpy(spec.flux[None]).requires_grad_(True)
    tf(x)[0, tf.targets.index("W3")].backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
