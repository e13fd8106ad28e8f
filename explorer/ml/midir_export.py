"""The mid-IR spectrum posterior as a table with units (ECSV or FITS), one row per galaxy and wavelength."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .midir import OUTPUT_RANGE_UM, SpectrumPosterior, draw_quantiles, in_range

#: quantile column -> probability
QUANTILES = {
    "fnu_p2_5_mjy": 0.025,
    "fnu_p16_mjy": 0.16,
    "fnu_p50_mjy": 0.5,
    "fnu_p84_mjy": 0.84,
    "fnu_p97_5_mjy": 0.975,
}
TABLE_FORMATS = {".ecsv": "ascii.ecsv", ".fits": "fits"}


def midir_table(post: SpectrumPosterior, ids, mode: str, n_draws: int = 1000, seed: int = 0,
                range_um=OUTPUT_RANGE_UM, truth_log_fnu=None, chunk: int = 64):  # fmt: skip
    """astropy Table: id, z, mode, wave_rest_um, wave_obs_um, the f_nu quantiles (mJy), note.

    Parameters
    ----------
    post : SpectrumPosterior (N galaxies)
    ids : (N,) galaxy identifiers
    mode : the mode that made ``post`` (written in every row and in the metadata)
    n_draws : draws per galaxy behind the quantiles
    range_um : rest-frame wavelength range written (micron)
    truth_log_fnu : (N, W), optional, the noiseless truth (simulated catalogs): a ``fnu_true_mjy`` column
    """
    import astropy.units as u
    from astropy.table import Table

    sel = in_range(post.wave_um, range_um)
    wave = post.wave_um[sel]
    n, w = len(post), int(sel.sum())
    qs = np.empty((len(QUANTILES), n, w))
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        part = post.part(sl)
        probs = part.level_probs(list(QUANTILES.values()))  # recalibrated levels (midir_calibrate)
        q = draw_quantiles(part.sample_log(n_draws, seed + s)[:, :, sel], probs)
        qs[:, sl] = 10.0**q
    cols = {
        "id": np.repeat(np.asarray(ids).astype(str), w),
        "z": np.repeat(post.z, w),
        "mode": np.full(n * w, mode),
        "wave_rest_um": np.tile(wave, n) * u.um,
        "wave_obs_um": (np.tile(wave, n) * np.repeat(1 + post.z, w)) * u.um,
    }
    for k, name in enumerate(QUANTILES):
        cols[name] = qs[k].ravel() * u.mJy
    if truth_log_fnu is not None:
        cols["fnu_true_mjy"] = (10.0 ** np.asarray(truth_log_fnu)[:, sel]).ravel() * u.mJy
    cols["note"] = np.repeat(np.asarray(post.notes, dtype=str), w)
    tab = Table(cols)
    tab.meta.update(
        description="posterior of the rest-frame mid-IR spectrum (stars + dust + AGN), f_nu as observed at wave_obs_um",
        mode=mode, n_draws=n_draws, design=post.model.design, quantiles=dict(QUANTILES),
        band_levels_recalibrated=bool(post.model.band_levels),
    )  # fmt: skip
    return tab


def write_table(tab, out) -> Path:
    """Write ECSV or FITS (from the suffix)."""
    out = Path(out)
    fmt = TABLE_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ModelError(
            f"{out}: the mid-IR table is written as {' or '.join(TABLE_FORMATS)} (from the suffix)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "fits":
        tab = tab.copy()
        tab.meta = {k.upper()[:8]: str(v)[:60] for k, v in tab.meta.items()}
    tab.write(out, format=fmt, overwrite=True)
    return out
