"""Spectrum autoencoder: spender compatibility, configurable widths, reduced chi^2, training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.constants import N_PIX
from explorer.errors import ModelError
from explorer.ml.encoder import (
    EncoderConfig,
    SpectrumEncoderModel,
    WidthSpectrumEncoder,
    build_autoencoder,
    load_encoder,
    rest_frame_grid,
    sdss_instrument,
)
from explorer.ml.encoder_training import fit_encoder
from explorer.testing.toy import make_toy_catalog

torch.set_num_threads(1)


def _spectra(n=4, seed=0):
    return np.random.default_rng(seed).normal(1.0, 0.1, (n, N_PIX)).astype(np.float32)


def test_spender_width_encoder_is_spenders_encoder():
    from spender.model import SpectrumEncoder

    inst = sdss_instrument()
    torch.manual_seed(0)
    ref = SpectrumEncoder(inst, 6)
    ours = WidthSpectrumEncoder(inst, 6, widths=(128, 256, 512))
    assert list(ref.state_dict()) == list(ours.state_dict())
    assert [v.shape for v in ref.state_dict().values()] == [v.shape for v in ours.state_dict().values()]
    ours.load_state_dict(ref.state_dict())
    x = torch.from_numpy(_spectra())
    with torch.no_grad():
        np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=1e-6)


def test_widths_are_configurable():
    small = WidthSpectrumEncoder(sdss_instrument(), 6, widths=(8, 16, 32))
    assert small.conv3[0].out_channels == 32 and small.n_feature == 16
    assert small(torch.from_numpy(_spectra(2))).shape == (2, 6)
    with pytest.raises(ModelError, match="even"):
        WidthSpectrumEncoder(sdss_instrument(), 6, widths=(8, 16, 33))


def test_load_official_spender_checkpoint_layout(tmp_path):
    """A fresh spender SpectrumAutoencoder saved the way spender's train scripts save it."""
    from spender import SpectrumAutoencoder

    torch.manual_seed(1)
    model = SpectrumAutoencoder(sdss_instrument(), rest_frame_grid(0.5), n_latent=6)
    path = tmp_path / "spender.sdss.fake.pt"
    torch.save({"model": model.state_dict(), "losses": [(1.0, 1.1)]}, path)
    enc = load_encoder(path)
    assert enc.config.widths == (128, 256, 512) and enc.n_latent == 6
    assert enc.config.decoder_hidden == (64, 256, 1024)
    assert enc.meta["format"] == "spender"
    x = _spectra()
    with torch.no_grad():
        np.testing.assert_allclose(enc.encode(x), model.encode(torch.from_numpy(x)).numpy(), atol=1e-6)
    # it can be imported as the encoder of a model directory (manifest + checksum)
    from explorer.ml.registry import load_models
    from explorer.ml.train import import_encoder

    import_encoder(path, str(tmp_path / "imported"))
    b = load_models(tmp_path / "imported")
    np.testing.assert_allclose(b.encode(x), enc.encode(x), atol=1e-6)
    # spender's list-of-models variant loads too
    path2 = tmp_path / "list.pt"
    torch.save({"model": [model.state_dict()], "losses": []}, path2)
    np.testing.assert_allclose(load_encoder(path2).encode(x), enc.encode(x), atol=1e-6)


def test_our_checkpoint_roundtrip_and_bad_files(tmp_path):
    cfg = EncoderConfig(widths=(8, 16, 32), decoder_hidden=(16, 32, 64), z_max=0.3, n_rest=int(N_PIX * 1.3))
    torch.manual_seed(2)
    m = SpectrumEncoderModel(build_autoencoder(cfg), cfg)
    p = m.save(tmp_path / "enc.pt")
    back = load_encoder(p)
    assert back.config.widths == (8, 16, 32) and back.config.z_max == pytest.approx(0.3)
    x = _spectra()
    np.testing.assert_allclose(back.encode(x), m.encode(x), atol=1e-6)
    with pytest.raises(ModelError, match="does not exist"):
        load_encoder(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="bad.pt"):
        load_encoder(bad)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="no 'model' entry"):
        load_encoder(tmp_path / "other.pt")


def test_reduced_chi2_known_answer():
    """Data = reconstruction + Gaussian noise of known variance -> reduced chi^2 ~ 1; exact data -> 0."""
    cfg = EncoderConfig(widths=(8, 16, 32), decoder_hidden=(16, 32, 64))
    torch.manual_seed(3)
    ae = build_autoencoder(cfg)
    last = [mod for mod in ae.encoder.mlp if isinstance(mod, torch.nn.Linear)][-1]
    with torch.no_grad():  # constant latents: the reconstruction depends on z only
        last.weight.zero_()
        last.bias.copy_(torch.linspace(-1, 1, 6))
    m = SpectrumEncoderModel(ae, cfg)
    z = np.array([0.05, 0.1, 0.2])
    recon = m.reconstruct(_spectra(3), z)
    np.testing.assert_allclose(m.reconstruct(_spectra(3, seed=9), z), recon)
    sd = 0.02
    w = np.full_like(recon, 1 / sd**2)
    w[:, :300] = 0  # masked pixels do not count, whatever their flux
    noisy = recon + sd * np.random.default_rng(0).standard_normal(recon.shape).astype(np.float32)
    noisy[:, :300] = 1e3
    chi2 = m.reduced_chi2(noisy, w, z)
    np.testing.assert_allclose(chi2, 1.0, atol=0.08)  # 3621 pixels: 1 +- 0.024 (1 sigma)
    np.testing.assert_allclose(m.reduced_chi2(recon, w, z), 0.0, atol=1e-9)
    np.testing.assert_allclose(m.reduced_chi2(recon + 2 * sd, w, z), 4.0, rtol=1e-4)


def test_training_reduces_fidelity_loss(tmp_path):
    cat = make_toy_catalog(tmp_path / "toy.h5", n=160, seed=1)
    m = fit_encoder(
        cat,
        widths=(8, 16, 32),
        decoder_hidden=(16, 32, 64),
        epochs=12,
        batch_size=16,
        lr=3e-3,
        max_minutes=None,
        progress=False,
        n_threads=1,
    )
    losses = m.meta["losses"]
    assert len(losses) == 12
    assert losses[-1][1] < 0.5 * losses[0][1]  # validation loss falls
    assert m.config.z_max == pytest.approx(0.25)  # max toy z (< 0.25) rounded up to 0.05


def test_one_cycle_schedule_and_wall_clock_budget(tmp_path):
    from explorer.ml.fit import one_cycle_lr

    assert one_cycle_lr(0.0, 1e-3) == pytest.approx(1e-3 / 25)
    assert one_cycle_lr(0.15, 1e-3) == pytest.approx(1e-3)
    assert one_cycle_lr(1.0, 1e-3) == pytest.approx(1e-7)
    lrs = [one_cycle_lr(f, 1.0) for f in np.linspace(0.15, 1, 50)]
    assert np.all(np.diff(lrs) <= 0)
    import time

    cat = make_toy_catalog(tmp_path / "toy.h5", n=120, seed=3)
    t0 = time.perf_counter()
    m = fit_encoder(
        cat, widths=(8, 16, 32), decoder_hidden=(16, 32, 64), epochs=10_000, batch_size=8,
        max_minutes=2 / 60, progress=False, n_threads=1,
    )  # fmt: skip
    assert time.perf_counter() - t0 < 12  # a 2 s budget (+ data loading, one validation pass)
    assert 0 < m.meta["n_steps"] < 10_000 * 10 and m.meta["train_minutes"] < 0.1


def test_sdss_instrument_equals_spenders_sdss_class():
    from explorer.ml.encoder import sdss_instrument

    ours, theirs = sdss_instrument(), sdss_instrument(official=True)
    assert type(theirs).__name__ == "SDSS"
    assert ours.lsf is None and theirs.lsf is None and ours.calibration is None
    sd_ours, sd_theirs = ours.state_dict(), theirs.state_dict()
    assert sd_ours.keys() == sd_theirs.keys() == {"wave_obs"}
    assert torch.equal(sd_ours["wave_obs"], sd_theirs["wave_obs"])


def test_spender_package_still_complete_after_light_import():
    import subprocess
    import sys

    code = (
        "from explorer.ml.encoder import sdss_instrument, spender_submodule\n"
        "import sys\n"
        "m = spender_submodule('model'); sdss_instrument()\n"
        "assert 'nflows' not in sys.modules\n"
        "import spender\n"
        "from spender import Instrument, SpectrumAutoencoder, load_model\n"
        "assert spender.model is m and SpectrumAutoencoder is m.SpectrumAutoencoder\n"
        "assert spender.NeuralDensityEstimator.__name__ == 'NeuralDensityEstimator'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
