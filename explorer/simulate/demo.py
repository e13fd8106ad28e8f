"""The embedded demo catalog: a small subset of the TEST split of a big simulated run."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from ..catalog import Catalog, write_catalog
from ..errors import CatalogError

#: float16 overflows above 65504; weights (ivar of the normalized flux, ~ (S/N)^2 per pixel)
#: are clipped below that (S/N ~ 250 per pixel, far above SDSS galaxies).
FLOAT16_WEIGHT_MAX = 6.0e4


def make_demo_catalog(big_catalog: Path, out: Path, n: int = 2000, seed: int = 0) -> Path:
    """Write ``n`` galaxies drawn from the test split of a big simulated catalog.

    Parameters
    ----------
    big_catalog : Path
        A simulated catalog (e.g. the 50,000-galaxy run).
    out : Path
        The demo catalog to write (spectra stored as float16).
    n : int
        Number of galaxies (all test galaxies if the split has fewer).
    seed : int
        Seed of the random selection.

    Returns
    -------
    Path
        ``out``. Every galaxy keeps its id, columns and the split label ``"test"``; the
        provenance records the parent run's provenance.
    """
    big_catalog = Path(big_catalog)
    with Catalog(big_catalog) as cat:
        if not cat.simulated:
            raise CatalogError(f"{big_catalog}: the demo catalog must come from a simulated catalog")
        test = cat.split_indices("test", good_only=True)
        if test.size == 0:
            raise CatalogError(f"{big_catalog}: no good galaxies in the test split")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xDE30]))
        pick = np.sort(rng.choice(test, size=min(int(n), test.size), replace=False))
        table = {k: np.asarray(v)[pick] for k, v in cat.table.items()}
        flux, weight = cat.spectra(pick)
        ir_rest = cat.ir_rest(pick) if cat.has_ir_rest else None
        parent = dict(cat.provenance)
    weight = np.clip(weight, 0.0, FLOAT16_WEIGHT_MAX)
    provenance = {
        "generator": "explorer.simulate.demo.make_demo_catalog",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "n": int(pick.size),
        "seed": int(seed),
        "selection": "random galaxies of the parent's test split",
        "parent_file": big_catalog.name,
        "parent_provenance": parent,
    }
    return write_catalog(
        out,
        table,
        flux,
        weight,
        simulated=True,
        provenance=provenance,
        spectra_dtype="float16",
        ir_rest=ir_rest,
    )
