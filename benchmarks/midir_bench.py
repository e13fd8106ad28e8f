"""Speed of one galaxy's mid-IR spectrum posterior (issue 15): 1,000 draws, and its conditioning on W1-W4.

Target (issue 15): the posterior with 1,000 draws and its conditioning <= 50 ms. The model is the
``midir.pt`` of a model directory when there is one, otherwise untrained models of the default
size (the arithmetic does not depend on the weights). The inputs are random features; the "observed"
W1-W4 are one catalog-magnitude draw of the galaxy's own prior with errors of 0.03, 0.03, 0.05
and 0.15 mag (all detected), and the same with W4 an upper limit.

Usage::

    python -m benchmarks.midir_bench --json [--models NAME] [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

QS = [0.025, 0.16, 0.5, 0.84, 0.975]


def untrained_models(
    n_in: int = 18, n_latent: int = 12, n_members: int = 3, seed: int = 0, feature_kind: str = "spectrum"
) -> dict:
    """Default-size PCA and GLO models with random weights (for timing only; 18 inputs: the
    ``spectrum`` features of a 6-latent encoder)."""
    from explorer.ml.data import Scaler
    from explorer.ml.midir import CoefNet, GLODecoder, MidIRModel, PCABasis

    torch.manual_seed(seed)
    wave = np.geomspace(1.0, 40.0, 256)
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(wave.size, n_latent)))
    out = {}
    for design, dec in (("pca", PCABasis(0.1 * q.T)), ("glo", GLODecoder(n_latent, wave.size))):
        members = [CoefNet(n_in, n_latent + 1) for _ in range(n_members)]
        out[design] = MidIRModel(design, feature_kind, Scaler(np.zeros(n_in), np.ones(n_in)), members, dec, wave,
                                 np.zeros(wave.size), np.r_[1.0, np.zeros(n_latent)], np.r_[0.3, np.ones(n_latent)],
                                 np.full(wave.size, 0.003), np.full(4, 0.005))  # fmt: skip
    return out


def _time_one(model, x, z, mag, sig, ul, n_draws: int) -> tuple[float, float, str]:
    from explorer.ml.midir import draw_quantiles
    from explorer.ml.midir_condition import condition_on_wise

    t0 = time.perf_counter()
    prior = model.predict(x, z)
    draw_quantiles(prior.sample_log(n_draws, 0), prior.level_probs(QS))
    t1 = time.perf_counter()
    post = condition_on_wise(prior, mag, sig, ul)
    draw_quantiles(post.sample_log(n_draws, 0), post.level_probs(QS))
    return 1e3 * (t1 - t0), 1e3 * (time.perf_counter() - t1), post.notes[0]


def bench_midir(models: str | None = None, repeat: int = 30, n_draws: int = 1000, threads: int = 1) -> dict:
    """Median wall times (ms) per design: prior + 1,000 draws + quantiles, then conditioning + the same."""
    from explorer.ml.threads import torch_threads

    if models:
        from explorer.ml.midir_eval import load_midir

        loaded = load_midir(models)
        pairs = {f"{m.design} (shipped, {models})": m for m in [loaded["optical"]]}
    else:
        pairs = untrained_models()
    rng = np.random.default_rng(1)
    out = {}
    from threadpoolctl import threadpool_limits

    with torch_threads(threads), threadpool_limits(threads):
        for name, model in pairs.items():
            n_in = model.n_features
            res = {"prior_ms": [], "conditioned_ms": [], "conditioned_w4_limit_ms": []}
            for i in range(repeat + 1):
                x = rng.normal(size=(1, n_in)).astype(np.float32)
                z = np.array([rng.uniform(0.02, 0.3)])
                mag = model.predict(x, z).wise_mag_draws(1, i, catalog=True)[:, 0]
                sig = np.array([[0.03, 0.03, 0.05, 0.15]])
                for ul, key in (
                    (np.zeros((1, 4), bool), "conditioned_ms"),
                    (np.array([[0, 0, 0, 1]], bool), "conditioned_w4_limit_ms"),
                ):
                    tp, tc, _ = _time_one(model, x, z, mag, np.where(ul, np.nan, sig), ul, n_draws)
                    if i:  # the first galaxy warms up
                        res[key].append(tc)
                        if key == "conditioned_ms":
                            res["prior_ms"].append(tp)
            out[name] = {k: round(float(np.median(v)), 2) for k, v in res.items()}
            out[name]["prior_plus_conditioned_ms"] = round(
                out[name]["prior_ms"] + out[name]["conditioned_ms"], 2
            )
    return {
        "designs": out,
        "n_draws": n_draws,
        "repeat": repeat,
        "threads": threads,
        "note": "torch and BLAS threads both limited to `threads` (two BLAS threads on a busy 2-core machine wait for each other)",
        "models": models
        or "untrained models of the default size (the arithmetic does not depend on the weights; the number of Gauss-Newton steps can)",
        "target_ms": 50.0,
        "method": "MidIRModel.predict + sample_log(1000) + 5 quantiles; condition_on_wise (iterated EKF, 3 "
        "mixture components) + the same; median over galaxies after one warm-up",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--models", default=None, help="model directory with midir.pt (default: untrained models)"
    )
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    print(json.dumps(bench_midir(args.models, args.repeat), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
