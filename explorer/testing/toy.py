"""A small catalog with a *planted*, known spectrum -> WISE relation, for tests and smoke runs.

Each toy galaxy has two hidden numbers: ``a`` (strength of an emission line at rest-frame
H-alpha, 6564.61 A vacuum) and ``b`` (continuum slope). Its normalized spectrum shows both;
its true WISE magnitudes are

    m_k = ZP_k - 2.5 log10(spec_norm) - ap_corr_r + A_k a + B_k b + hidden_k,

with ``ap_corr_r = mag_r_total - mag_r_fiber`` (negative: the galaxy is brighter than the fiber)
and a hidden Gaussian scatter of known covariance. Observations add catalog noise; faint W4
values become 95% upper limits. Truth columns (``truth_qpah``, ``truth_log_sfr``,
``truth_log_lbol_agn``, ``class_label``) follow simple known functions of (a, b).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..constants import N_PIX, WAVE_OBS_VAC_AA, WISE_BANDS

ZP = np.array([14.0, 13.8, 11.5, 9.5])
A_COEF = np.array([0.0, 0.1, -0.8, -1.0])
B_COEF = np.array([0.5, 0.4, 0.2, 0.1])
#: hidden (optically invisible) scatter of the true magnitudes, mag
HIDDEN_SD = np.array([0.02, 0.02, 0.05, 0.08])
HIDDEN_CORR = 0.5
HALPHA_AA = 6564.61


def hidden_cov() -> np.ndarray:
    """Covariance of the hidden magnitude scatter (correlation 0.5 between all bands)."""
    c = np.full((4, 4), HIDDEN_CORR) + (1 - HIDDEN_CORR) * np.eye(4)
    return c * HIDDEN_SD[:, None] * HIDDEN_SD[None, :]


def toy_spectra(
    a: np.ndarray, b: np.ndarray, z: np.ndarray, noise: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized spectra (N, 3921) and their inverse variance."""
    wave_rest = WAVE_OBS_VAC_AA[None, :] / (1 + z[:, None])
    cont = 1.0 + b[:, None] * (wave_rest / 5575.0 - 1.0)
    line = a[:, None] * np.exp(-0.5 * ((wave_rest - HALPHA_AA) / 3.0) ** 2)
    brk = 0.3 * (wave_rest < 4000.0)
    flux = cont + line - brk
    flux = flux + noise * rng.standard_normal(flux.shape)
    weight = np.full(flux.shape, 1.0 / noise**2)
    return flux.astype(np.float32), weight.astype(np.float32)


def toy_ir_rest(
    mag_true: np.ndarray, a: np.ndarray, labels: np.ndarray, z: np.ndarray, rng
) -> tuple[dict, dict]:
    """Planted rest-frame 1-40 micron spectra of toy galaxies: ``(ir_rest, truth columns)``.

    ``stars`` is a Rayleigh-Jeans tail scaled to the true W1 flux, ``dust`` a warm continuum scaled
    to the true W3 flux with PAH bands whose strength grows with ``a`` (the H-alpha line), ``agn``
    a power law for the ``agn`` class; f_nu in mJy as in :mod:`explorer.simulate.irspec`. The truth
    columns ``truth_w{1..4}_flux_mjy`` are the spectra's own W1-W4 (:func:`explorer.ml.midir.wise_matrix`).
    """
    from ..constants import WISE_F0_JY
    from ..ml.midir import PAH_UM, wise_matrix

    wave = np.geomspace(1.0, 40.0, 256)
    f_w1 = WISE_F0_JY[0] * 1e3 * 10 ** (-0.4 * mag_true[:, :1])
    f_w3 = WISE_F0_JY[2] * 1e3 * 10 ** (-0.4 * mag_true[:, 2:3])
    scatter = 10 ** (0.03 * rng.standard_normal((len(z), 1)))
    stars = f_w1 * (wave / 3.4) ** -2.0
    pah = sum(np.exp(-0.5 * ((wave - lam) / (0.03 * lam)) ** 2) for lam in PAH_UM)
    dust = f_w3 * scatter * ((wave / 12.0) ** 1.5 / (1 + (wave / 30.0) ** 3) + 0.3 * (a[:, None] / 3.0) * pah)
    agn = np.where((labels == "agn")[:, None], 0.3 * f_w3 * (wave / 10.0) ** 0.5, 0.0)
    total = stars + dust + agn
    flux = np.einsum("nbw,nw->nb", wise_matrix(wave, z), total)
    ir = {"wave_um": wave, "stars": stars, "dust": dust, "agn": agn}
    return ir, {f"truth_w{b + 1}_flux_mjy": flux[:, b] for b in range(4)}


def make_toy_catalog(
    path, n: int = 600, seed: int = 0, spectra_noise: float = 0.05, ir_rest: bool = False
) -> Path:
    """Write a toy catalog with ``n`` galaxies (70/15/15% train/valid/test). Returns its path.

    ``ir_rest``: also store planted rest-frame IR spectra (:func:`toy_ir_rest`, their own random
    stream: the other columns are the same with or without them).
    """
    from ..catalog import write_catalog

    rng = np.random.default_rng(seed)
    z = rng.uniform(0.02, 0.25, n)
    a = rng.uniform(0.0, 3.0, n)
    b = rng.uniform(-0.5, 0.5, n)
    flux, weight = toy_spectra(a, b, z, spectra_noise, rng)
    spec_norm = 10 ** rng.uniform(0.0, 1.0, n)
    ap_r = -rng.uniform(0.2, 1.5, n)
    mag_true = (
        ZP[None, :]
        - 2.5 * np.log10(spec_norm)[:, None]
        + ap_r[:, None]
        + A_COEF[None, :] * a[:, None]
        + B_COEF[None, :] * b[:, None]
        + rng.multivariate_normal(np.zeros(4), hidden_cov(), n)
    )
    sigma = np.column_stack(
        [
            rng.uniform(0.02, 0.05, n),
            rng.uniform(0.03, 0.08, n),
            rng.uniform(0.05, 0.15, n),
            rng.uniform(0.1, 0.3, n),
        ]
    )
    mag_obs = mag_true + sigma * rng.standard_normal((n, 4))
    is_ul = np.zeros((n, 4), bool)
    lim_w4 = 9.5 - 2.5 * np.log10(spec_norm.mean()) + 0.3
    is_ul[:, 3] = mag_obs[:, 3] > lim_w4
    mag_obs[is_ul[:, 3], 3] = lim_w4
    sigma_cat = np.where(is_ul, np.nan, sigma)
    split = np.array(["train"] * n, dtype=object)
    r = rng.permutation(n)
    split[r[: int(0.15 * n)]] = "valid"
    split[r[int(0.15 * n) : int(0.30 * n)]] = "test"
    labels = np.where(a > 2.2, "agn", np.where(b > 0, "star-forming", "quenched"))
    table = {
        "id": np.array([f"toy-{i:05d}" for i in range(n)]),
        "ra_deg": rng.uniform(0, 360, n),
        "dec_deg": rng.uniform(-10, 60, n),
        "z": z,
        "z_err": np.full(n, 1e-5),
        "spec_norm": spec_norm,
        "split": split.astype(str),
        "class_label": labels,
        "truth_qpah": 1.0 + 0.8 * a + 0.5 * b,
        "truth_log_sfr": 0.5 * a - b,
        "truth_log_lbol_agn": np.where(labels == "agn", 44.0 + 0.5 * a, np.nan),
        "truth_a": a,
        "truth_b": b,
    }
    for k, band in enumerate("ugriz"):
        fib = 18.0 + 0.3 * k + 0.1 * b
        table[f"mag_{band}_fiber"] = fib
        table[f"magerr_{band}_fiber"] = np.full(n, 0.02)
        table[f"mag_{band}_total"] = fib + ap_r
        table[f"magerr_{band}_total"] = np.full(n, 0.02)
    for k, w in enumerate(WISE_BANDS):
        lw = w.lower()
        table[f"{lw}_mag_vega"] = mag_obs[:, k]
        table[f"{lw}_sigma_mag"] = sigma_cat[:, k]
        table[f"{lw}_is_ul"] = is_ul[:, k]
    assert flux.shape == (n, N_PIX)
    ir = None
    if ir_rest:
        ir, truth = toy_ir_rest(mag_true, a, labels, z, np.random.default_rng([seed, 1]))
        table.update(truth)
    return write_catalog(
        path, table, flux, weight, simulated=True, provenance={"toy": True, "seed": seed, "n": n}, ir_rest=ir
    )
