"""Auxiliary heads of the mid-IR model (explorer/ml/midir_aux.py): out-of-fold stacking, the saved
file, and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import ModelError
from explorer.ml.midir_aux import fit_aux_heads
from explorer.ml.midir_fit import MidIRConfig, fit_midir
from explorer.ml.threads import torch_threads

WAVE = np.geomspace(1.0, 40.0, 128)


def _rows(n, rng):
    """Features, spectra whose amplitude is a nonlinear function of them (the 'dust luminosity'),
    and the catalog columns ``fit_midir`` reads (W1-W4, z, the truth of the head's target)."""
    x = rng.normal(size=(n, 3))
    ld = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] ** 2
    y = (
        0.5
        + 0.3 * ld[:, None]
        + 0.1 * x[:, 2:3] * np.log(WAVE) / np.log(40.0)
        + 0.01 * rng.normal(size=(n, WAVE.size))
    )
    phot = {"z": np.full(n, 0.1), "truth_mag": np.full((n, 4), 10.0), "wise_mag": 10 + 0.05 * rng.normal(size=(n, 4)),
            "wise_sigma": np.full((n, 4), 0.05), "wise_is_ul": np.zeros((n, 4), bool),
            "truth_log_ldust": ld + 0.05 * rng.normal(size=n)}  # fmt: skip
    return x.astype(np.float32), y, phot


def _config(aux=("truth_log_ldust",)):
    return MidIRConfig(design="pca", n_latent=3, epochs=30, n_members=2, member_hidden=(32,), batch_size=64,
                       aux_targets=aux)  # fmt: skip


def test_out_of_fold_inputs_carry_no_memory_of_their_own_target():
    """A target that is pure noise: the training rows' out-of-fold predictions must not correlate
    with it (a head that had seen the row could), while a real signal is recovered on new rows."""
    rng = np.random.default_rng(3)
    x, xv = rng.normal(size=(1200, 3)), rng.normal(size=(300, 3))
    noise, signal = rng.normal(size=1200), np.sin(2 * x[:, 0]) + 0.1 * rng.normal(size=1200)
    y = np.stack([noise, signal], 1)
    yv = np.stack([rng.normal(size=300), np.sin(2 * xv[:, 0])], 1)
    with torch_threads(1):
        heads, oof = fit_aux_heads(x, y, xv, yv, ["noise", "signal"], n_folds=3, hidden=(64, 64), epochs=40,
                                   batch_size=64)  # fmt: skip
    assert oof.shape == (1200, 4) and heads.names[:2] == ["aux_noise_mean", "aux_signal_mean"]
    assert abs(np.corrcoef(oof[:, 0], noise)[0, 1]) < 0.15
    assert np.corrcoef(oof[:, 1], signal)[0, 1] > 0.8
    pv = heads.predict(xv)
    assert np.corrcoef(pv[:, 1], yv[:, 1])[0, 1] > 0.8
    assert np.all(pv[:, 2] > pv[:, 3])  # the noise head is less sure (ln sigma) than the signal head


def test_a_model_with_a_head_uses_it_and_round_trips(tmp_path):
    from explorer.ml.midir_eval import load_midir, save_midir

    rng = np.random.default_rng(0)
    (xt, yt, pt), (xv, yv, pv), (xs, ys, _) = _rows(800, rng), _rows(200, rng), _rows(200, rng)
    with torch_threads(1):
        model, plain = (fit_midir(xt, yt, xv, yv, WAVE, "photometry", _config(aux), phot_train=pt, phot_valid=pv)
                        for aux in (("truth_log_ldust",), ()))  # fmt: skip
    assert model.inputs(xs).shape == (200, 5) and plain.inputs(xs).shape == (200, 3)
    assert model.n_features == plain.n_features == 3
    assert model.x_scaler.names[-2:] == ["aux_truth_log_ldust_mean", "aux_truth_log_ldust_lnsd"]

    def rms(m):
        med = np.median(m.predict(xs, np.full(200, 0.1)).sample_log(200, 0), axis=1)
        return np.sqrt(np.mean((med - ys) ** 2))

    # the small prior net alone underfits the nonlinear amplitude; the head draws it out
    assert rms(model) < 0.8 * rms(plain)
    save_midir(tmp_path, {"optical": model}, {"seed": 0})
    back = load_midir(tmp_path)["optical"]
    a, b = model.predict(xs[:5], np.full(5, 0.1)), back.predict(xs[:5], np.full(5, 0.1))
    np.testing.assert_allclose(a.means, b.means, atol=1e-6)


@pytest.mark.parametrize(
    "aux, phot, message",
    [
        (("truth_qpah",), True, "unknown auxiliary target(s) ['truth_qpah']"),
        (("truth_log_ldust",), False, "need the truth columns ['truth_log_ldust']"),
    ],
)
def test_bad_auxiliary_targets_are_refused_by_name(aux, phot, message):
    rng = np.random.default_rng(1)
    (xt, yt, pt), (xv, yv, pv) = _rows(50, rng), _rows(20, rng)
    with pytest.raises(ModelError) as err:
        fit_midir(xt, yt, xv, yv, WAVE, "photometry", _config(aux), phot_train=pt if phot else None,
                  phot_valid=pv if phot else None)  # fmt: skip
    assert message in str(err.value)
