"""A tiny SED-fit table without bagpipes, for tests of the table, the comparison and the app."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..sedfit.batch import combine, write_fit
from ..sedfit.fit import FitResult, FitSettings


def fake_result(
    galaxy_id: str, z: float, wise_mag, n_draws: int = 50, seed: int = 0, spread: float = 0.1
) -> FitResult:
    """A :class:`FitResult` whose W1-W4 draws scatter by ``spread`` mag around ``wise_mag``."""
    rng = np.random.default_rng(seed)
    wise = np.asarray(wise_mag, float)[None, :] + spread * rng.standard_normal((n_draws, 4))
    qpah = rng.uniform(0.5, 4.5, n_draws)
    return FitResult(
        id=str(galaxy_id),
        z=float(z),
        wise_mag_draws=wise,
        log_sfr_draws=rng.normal(0.0, 0.2, n_draws),
        log_mstar_draws=rng.normal(10.0, 0.1, n_draws),
        qpah_draws=qpah,
        params={"qpah": qpah},
        wall_s=1.0,
        cpu_s=1.0,
        n_like=100,
        log_z=-10.0,
        best_chi2=1.0,
        n_data=10,
        settings=FitSettings().to_dict(),
    )


def write_fixture_table(catalog, indices, out: str | Path, work: str | Path, offset_mag: float = 0.5) -> Path:
    """A combined table of fake fits of catalog rows ``indices``: draws around the catalog's own
    noiseless WISE magnitudes (or the observed ones) plus ``offset_mag``."""
    from ..ml.registry import sha256_file

    sha = sha256_file(catalog.path)
    fits = Path(work, "fits")
    fits.mkdir(parents=True, exist_ok=True)
    for i in indices:
        row = catalog.row(int(i))
        mag = [row.get(f"truth_w{k}_mag_vega", row.get(f"w{k}_mag_vega")) for k in range(1, 5)]
        res = fake_result(row["id"], row["z"], np.asarray(mag, float) + offset_mag, seed=int(i))
        meta = {"index": int(i), "class_label": str(row.get("class_label", "")), "catalog_sha256": sha,
                "settings": res.settings}  # fmt: skip
        write_fit(fits / f"{row['id']}.npz", res, meta)
    return combine(work, out, catalog_name=Path(catalog.path).name, command="fixture")
