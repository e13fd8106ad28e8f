"""Reading a combined SED-fit table (:func:`explorer.sedfit.batch.combine`); no bagpipes needed."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import vega_mag_to_mjy
from ..errors import ExplorerError
from ..paths import DATA_DIR

#: The shipped table of SED fits of the demo catalog.
DEMO_SEDFIT_TABLE = DATA_DIR / "sedfit_demo.h5"


@dataclass(frozen=True, eq=False)
class SedFitDraws:
    """One galaxy's SED-fit posterior, as the dashboard and the comparison use it.

    Attributes
    ----------
    wise_mag_draws : (n_draws, 4) W1-W4 Vega mag
    log_sfr_draws, qpah_draws : (n_draws,)
    """

    id: str
    wise_mag_draws: np.ndarray
    log_sfr_draws: np.ndarray
    qpah_draws: np.ndarray
    source: str = ""

    @property
    def wise_mjy_draws(self) -> np.ndarray:
        return vega_mag_to_mjy(self.wise_mag_draws, np.arange(4))

    @property
    def mag_mean(self) -> np.ndarray:
        return self.wise_mag_draws.mean(axis=0)

    @property
    def mag_sigma(self) -> np.ndarray:
        return self.wise_mag_draws.std(axis=0, ddof=1)


class SedFitTable:
    """A combined table of SED fits: summary columns, posterior draws and provenance."""

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        try:
            with h5py.File(self.path, "r") as h5:
                if h5.attrs.get("format") != "irox-sedfit":
                    raise ExplorerError(f"{self.path}: not an SED-fit table (format attribute missing)")
                self.attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
                self.table = {k: h5["table"][k][()] for k in h5["table"]}
                self.draws = {
                    k: h5[k][()] for k in ("wise_mag_draws", "log_sfr_draws", "qpah_draws", "log_mstar_draws")
                }
        except OSError as err:
            raise ExplorerError(f"{self.path}: cannot read the SED-fit table ({err})") from err
        self.ids = [s.decode() if isinstance(s, bytes) else str(s) for s in self.table["id"]]
        self._row = {g: k for k, g in enumerate(self.ids)}

    @property
    def catalog_sha256(self) -> str:
        return str(self.attrs.get("catalog_sha256", ""))

    @property
    def settings(self) -> dict:
        return json.loads(self.attrs.get("settings", "{}"))

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, galaxy_id) -> bool:
        return str(galaxy_id) in self._row

    def get(self, galaxy_id) -> SedFitDraws | None:
        """The posterior of one galaxy, None when the table has no fit of it."""
        k = self._row.get(str(galaxy_id))
        if k is None:
            return None
        return SedFitDraws(
            id=str(galaxy_id),
            wise_mag_draws=np.asarray(self.draws["wise_mag_draws"][k], float),
            log_sfr_draws=np.asarray(self.draws["log_sfr_draws"][k], float),
            qpah_draws=np.asarray(self.draws["qpah_draws"][k], float),
            source=self.path.name,
        )


@functools.lru_cache(maxsize=8)
def _sha_cached(path: str, mtime_ns: int, size: int) -> str:
    from ..ml.registry import sha256_file

    return sha256_file(path)


def catalog_sha256(path: str | Path) -> str:
    """sha256 of a catalog file (cached per path, modification time and size)."""
    p = Path(path)
    st = p.stat()
    return _sha_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)


def fits_for_catalog(catalog_path, candidates=None) -> tuple[SedFitTable | None, str]:
    """The SED-fit table made from this catalog file, and a note for the page.

    ``candidates`` default to the shipped demo table and ``<catalog>.sedfit.h5`` beside the
    catalog. A table made from another catalog (another checksum, e.g. a regenerated demo) is
    not used, and the note says so.
    """
    if catalog_path is None:
        return None, "no catalog file"
    cat = Path(catalog_path)
    if candidates is None:
        candidates = [cat.with_suffix(".sedfit.h5"), DEMO_SEDFIT_TABLE]
    existing = [Path(c) for c in candidates if Path(c).is_file()]
    if not existing:
        return None, "no SED-fit table for this catalog"
    sha = catalog_sha256(cat)
    stale = []
    for c in existing:
        try:
            t = SedFitTable(c)
        except ExplorerError:
            continue
        if t.catalog_sha256 == sha:
            return t, f"SED fits from {c.name} ({len(t)} galaxies)"
        stale.append(c.name)
    return None, f"{', '.join(stale)} was made from another catalog file (checksum differs): not shown"
