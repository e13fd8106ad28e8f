"""Official spender weights, end to end (issue 13, road 3).

A checkpoint written in exactly the layout of ``spender.sdss.paperII-c273bb69.pt`` — as spender's
``train/train_sdss_paperII.py`` writes it: spender's own ``SpectrumAutoencoder`` on spender's own
``SDSS`` instrument, S = 6 latents, ``n_hidden=(64, 256, 1024)`` (its ``n_aux=0`` is the default of the installed spender 0.3, which has no such argument), rest frame
``linspace(2359, 9332, 7000)`` A, saved as ``{"model": [state_dict], "losses": ndarray (2, 1,
n_epoch, 3)}`` — with random weights is imported, encodes ppxf's two real SDSS DR18 spectra, gets
an IR predictor trained on a small catalog of its latents, and the dashboard opens with it. The
real file differs only in the weights' values. (The numpy "losses" array is what made torch >=
2.6's default ``weights_only=True`` refuse such files: this test caught it.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def official_layout_checkpoint(tmp_path_factory):
    from spender import SpectrumAutoencoder
    from spender.data.sdss import SDSS

    instrument = SDSS()
    wave_rest = torch.linspace(2359, 9332, 7000, dtype=torch.float32)
    torch.manual_seed(0)
    model = SpectrumAutoencoder(instrument, wave_rest, n_latent=6, n_hidden=(64, 256, 1024))
    path = tmp_path_factory.mktemp("official") / "spender.sdss.paperII-random.pt"
    torch.save({"model": [model.state_dict()], "losses": np.zeros((2, 1, 3, 3))}, path)
    return path, model


def test_official_checkpoint_end_to_end(
    official_layout_checkpoint, tmp_path, sdss_ngc3073, sdss_ngc3522, toy_catalog_path
):
    from explorer.io.sdss import read_sdss_spectrum
    from explorer.ml.registry import load_models
    from explorer.ml.train import import_encoder, train_predictor

    path, spender_model = official_layout_checkpoint
    model_dir = tmp_path / "spender-official"
    info = import_encoder(path, str(model_dir))
    assert info["n_latent"] == 6 and info["widths"] == [128, 256, 512]

    # the two real spectra encode exactly as spender itself encodes them
    spectra = [read_sdss_spectrum(p) for p in (sdss_ngc3073, sdss_ngc3522)]
    flux = np.stack([s.flux for s in spectra]).astype(np.float32)
    bundle = load_models(model_dir, check=True)
    latents = bundle.encode(flux)
    assert latents.shape == (2, 6) and np.isfinite(latents).all()
    with torch.no_grad():
        ref = spender_model.encode(torch.from_numpy(flux)).numpy()
    np.testing.assert_allclose(latents, ref, rtol=1e-5, atol=1e-6)

    # an IR predictor on this encoder's latents, trained on a small catalog
    train_predictor(
        toy_catalog_path, str(model_dir), n_members=2, epochs=3, properties=False, baselines=False,
        calibrate=False, progress=False, n_threads=1,
    )  # fmt: skip
    bundle = load_models(model_dir)
    post = bundle.predict(flux, z=[s.z for s in spectra], spec_norm=[s.norm for s in spectra])
    assert post.mean_mag.shape == (2, 4) and np.isfinite(post.mean_mag).all()

    # the dashboard opens with it
    from explorer.app.build import build_app

    _, state, panels = build_app(toy_catalog_path, model_dir)
    assert state.models is not None and state.models.encoder.n_latent == 6
    d = panels["sed"].data()
    assert d["has_prediction"] and np.isfinite(d["q_mjy"]).all()
