"""Throughput hooks for ``benchmarks/run.py``: encode+predict rate, one posterior, model load time.

Targets (issue): >= 500 spectra/s encode+predict on 2 threads; one galaxy's posterior with
1,000 samples <= 50 ms; model load <= 2 s. Inputs are random spectra on the spender grid; the
models are either a trained model directory or freshly initialized ones of the default size
(speed does not depend on the weights).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from explorer.constants import N_PIX


def random_model_dir(out_dir: str | Path, n_members: int = 5, seed: int = 0) -> Path:
    """Write an untrained model directory of the default architecture (encoder + predictor)."""
    from explorer.ml.data import Scaler, feature_names
    from explorer.ml.encoder import EncoderConfig, SpectrumEncoderModel, build_autoencoder
    from explorer.ml.predictor import IRConfig, IREnsemble, IRNet
    from explorer.ml.registry import register_file, save_component

    torch.manual_seed(seed)
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    cfg = EncoderConfig()
    SpectrumEncoderModel(build_autoencoder(cfg), cfg).save(d / "encoder.pt")
    register_file(d, "encoder.pt", component="encoder", config=cfg.to_dict())
    names = feature_names("spectrum", cfg.n_latent)
    icfg = IRConfig(feature_names=names, n_members=n_members)
    members = [IRNet(len(names), icfg.hidden) for _ in range(n_members)]
    ens = IREnsemble(
        members, Scaler(np.zeros(len(names)), np.ones(len(names)), names), np.full(4, 12.0), np.ones(4), icfg
    )
    save_component(d, "predictor", ens.state(), config=icfg.to_dict())
    return d


def cold_load_seconds(models: str | Path, repeat: int = 3) -> dict:
    """Model load time in fresh Python processes (median of ``repeat``).

    Each process imports torch first (not timed: every torch program pays it), then times
    importing :mod:`explorer.ml.registry` (and through it spender's modules) plus
    ``load_models(models, components=["encoder", "predictor"])`` with checksums verified:
    what a user waits for when a script or the dashboard loads a model.
    """
    import subprocess
    import sys

    code = (
        "import time, torch\n"
        "t = time.perf_counter()\n"
        "from explorer.ml.registry import load_models\n"
        f"load_models({str(models)!r}, components=['encoder', 'predictor'])\n"
        "print(time.perf_counter() - t)\n"
    )
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return {"model_load_cold_s": float(np.median(times)), "model_load_cold_runs_s": times}


def measure_throughput(
    models: str | Path | None = None, n: int = 4096, n_threads: int = 2, seed: int = 0
) -> dict:
    """Measure the three speeds.

    Parameters
    ----------
    models : model name/directory, optional
        Default: an untrained directory of the default architecture in a temporary folder.
    n : int
        Spectra in the batch throughput test.
    n_threads : int
        torch threads (the project machine has 2 cores).

    Returns
    -------
    dict with ``encode_predict_spectra_per_s``, ``single_posterior_1000_samples_ms`` (median of
    20), ``model_load_s`` (checksums verified, this process) and ``model_load_cold_s`` (fresh
    processes, :func:`cold_load_seconds`), their targets and the setup.
    """
    from explorer.ml.registry import load_models

    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    tmp = None
    try:
        if models is None:
            tmp = tempfile.TemporaryDirectory()
            models = random_model_dir(Path(tmp.name) / "random")
        t0 = time.perf_counter()
        b = load_models(models, components=["encoder", "predictor"])
        load_s = time.perf_counter() - t0
        rng = np.random.default_rng(seed)
        flux = (1.0 + 0.1 * rng.standard_normal((n, N_PIX))).astype(np.float32)
        z = rng.uniform(0.02, 0.3, n)
        norm = 10 ** rng.uniform(0, 1.5, n)
        tot = rng.uniform(14, 17.7, (n, 5))
        fib = tot + rng.uniform(0.2, 1.5, (n, 5))
        b.predict(flux[:64], z=z[:64], spec_norm=norm[:64], mag_total=tot[:64], mag_fiber=fib[:64])  # warm-up
        t0 = time.perf_counter()
        post = b.predict(flux, z=z, spec_norm=norm, mag_total=tot, mag_fiber=fib)
        _ = post.mean_mag, post.cov_mag
        batch_s = time.perf_counter() - t0
        times = []
        for i in range(21):
            t0 = time.perf_counter()
            p1 = b.predict(
                flux[i : i + 1],
                z=z[i : i + 1],
                spec_norm=norm[i : i + 1],
                mag_total=tot[i : i + 1],
                mag_fiber=fib[i : i + 1],
            )
            s = p1.sample(1000, rng)
            _ = p1.quantiles([0.16, 0.5, 0.84])
            times.append(time.perf_counter() - t0)
        assert s.shape == (1, 1000, 4)
        cold = cold_load_seconds(models if tmp is None else b.path)
        return {
            **cold,
            "encode_predict_spectra_per_s": n / batch_s,
            "encode_predict_target_per_s": 500,
            "single_posterior_1000_samples_ms": 1e3 * float(np.median(times[1:])),
            "single_posterior_target_ms": 50,
            "model_load_s": load_s,
            "model_load_note": "model_load_s: in this process (modules already imported); "
            "model_load_cold_s: fresh process, torch already imported, checksums verified",
            "model_load_target_s": 2.0,
            "n_spectra": n,
            "n_threads": n_threads,
            "models": str(b.path) if tmp is None else "untrained default architecture",
            "encoder_widths": list(b.encoder.config.widths),
            "n_members": len(b.predictor.members),
            "method": "random spectra; encode (batch 1024) + ensemble predict + moments; single galaxy: "
            "encode + predict + 1000 mixture samples + 3 quantiles",
        }
    finally:
        torch.set_num_threads(before)
        if tmp is not None:
            tmp.cleanup()
