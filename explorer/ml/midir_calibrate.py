"""Quantile recalibration of the mid-IR spectrum's bands (issue 15's calibration item).

The posterior is a Gaussian mixture whose widths are fitted to the variance of the errors; the
errors have heavier tails than that, so the central 68% band held 0.70-0.74 of the true spectra
per wavelength bin while the 95% band held 0.94-0.97 (``models/default``, before this step).
Following Kuleshov, Fenner & Ermon (2018, ICML, "Accurate uncertainties for deep learning using
calibrated regression"), the *levels* are recalibrated rather than the widths: on the validation
split, the probability integral transform u of every true f_nu (3-35 micron) under its posterior
draws gives the empirical coverage of each central interval, coverage(p) = P(|u - 1/2| <= p / 2);
the band shown as "68%" is then the draws' central interval of level p' = 2 Q_{0.68}(|u - 1/2|),
the one that held 68% of the validation truths. Medians are unchanged (p = 0 maps to 0).

One map for the prior and one for the conditioned posterior of every model (a galaxy whose WISE
photometry could not be used keeps the prior's map), stored in ``MidIRModel.band_levels``.
"""

from __future__ import annotations

import numpy as np

#: nominal central levels at which the map is stored (interpolated between; 0 -> 0 and 1 -> 1)
NOMINAL = np.round(np.linspace(0.01, 0.99, 99), 2)


def pit(draws_log: np.ndarray, truth_log: np.ndarray) -> np.ndarray:
    """(N, W) fraction of the draws (N, n, W) below the truth (N, W), ties counted half."""
    below = (draws_log < truth_log[:, None]).mean(1)
    ties = (draws_log == truth_log[:, None]).mean(1)
    return below + 0.5 * ties


def fit_levels(u: np.ndarray) -> list[float]:
    """Calibrated central levels p' at :data:`NOMINAL` from PIT values ``u`` (any shape)."""
    a = np.abs(np.asarray(u, float).ravel() - 0.5)
    a = a[np.isfinite(a)]
    levels = np.clip(2 * np.quantile(a, NOMINAL), 0.0, 1.0)
    return [float(v) for v in np.maximum.accumulate(levels)]


def map_probs(q, levels) -> np.ndarray:
    """Quantile probabilities ``q`` of the draws that the calibrated levels ask for: q = 1/2 +- p/2
    of a nominal central level p becomes 1/2 +- p'/2. ``levels`` None or empty: unchanged."""
    q = np.asarray(q, float)
    if not levels:
        return q
    p = np.abs(2 * q - 1)
    grid = np.concatenate([[0.0], NOMINAL, [1.0]])
    cal = np.concatenate([[0.0], np.asarray(levels, float), [1.0]])
    return 0.5 + np.sign(q - 0.5) * np.interp(p, grid, cal) / 2


def fit_band_levels(
    models: dict, data: dict, n_draws: int = 300, seed: int = 0, range_um=None, chunk: int = 128
) -> dict:
    """Fit and set ``band_levels`` of the ``optical`` and ``photometry`` models on the rows of
    ``data`` (validation rows with true spectra; :func:`.midir_eval.midir_data`). Returns, per
    model and kind, the calibrated levels of the nominal 68% and 95% bands."""
    from .midir import OUTPUT_RANGE_UM, in_range
    from .midir_condition import condition_on_wise

    sel = in_range(data["wave_um"], range_um or OUTPUT_RANGE_UM)
    truth = data["log_fnu"][:, sel]
    summary = {}
    for key, model in models.items():
        prior = model.predict(data[f"x_{key}"], data["z"])
        cond = condition_on_wise(prior, data["wise_mag"], data["wise_sigma"], data["wise_is_ul"])
        used = np.array([n.startswith("conditioned") for n in cond.notes])
        maps = {}
        for kind, post, rows in (("prior", prior, np.ones(len(used), bool)), ("conditioned", cond, used)):
            u = [pit(post.part(slice(s, s + chunk)).sample_log(n_draws, seed + s)[:, :, sel], truth[s : s + chunk])
                 for s in range(0, len(post), chunk)]  # fmt: skip
            maps[kind] = fit_levels(np.concatenate(u)[rows])
        model.band_levels = maps
        summary[key] = {kind: {f"{int(100 * p)}%": float(np.interp(p, NOMINAL, lv)) for p in (0.68, 0.95)}
                        for kind, lv in maps.items()}  # fmt: skip
    return summary
