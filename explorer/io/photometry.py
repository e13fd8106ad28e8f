"""Reader for SDSS optical photometry exported from SkyServer / CasJobs.

A user runs, for their spectra, a query such as::

    SELECT s.specObjID, s.plate, s.mjd, s.fiberID,
           p.cModelMag_u, ..., p.cModelMagErr_u, ..., p.modelMag_u, ..., p.modelMagErr_u, ...,
           p.fiberMag_u, ..., p.fiberMagErr_u, ..., p.extinction_u, ...
    FROM SpecObj AS s JOIN PhotoObj AS p ON s.bestObjID = p.objID

and saves the result as CSV (or FITS / VOTable). Rows are keyed by ``specObjID`` or by
``plate``, ``mjd``, ``fiberID`` (column names are matched case-insensitively).

Total magnitude: ``cModelMag`` when present (SDSS's recommended total magnitude for galaxies;
SDSS DR7 photometry notes, "Which magnitudes should I use?"), else ``modelMag``. Fiber
magnitude: ``fiberMag`` (3 arcsec diameter, the spectroscopic fiber of SDSS-I/II). By default
both are corrected for Galactic extinction (``extinction_*``, Schlegel, Finkbeiner & Davis
1998 as tabulated by SDSS) when those columns exist: the simulated training set has no Milky
Way extinction. SDSS sentinel values (-9999, 9999) and errors <= 0 become NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CatalogError
from .sdss import sdss_id

BANDS = "ugriz"
_FORMATS = {".csv": "ascii.csv", ".fits": "fits", ".fit": "fits", ".xml": "votable", ".vot": "votable"}


@dataclass
class PhotometryTable:
    """SDSS ugriz photometry, keyed by spectrum.

    Attributes
    ----------
    source : str
    by_specobjid, by_sdss_id : dict of key -> row index
    columns : dict of catalog column (``mag_u_total``, ``magerr_u_total``, ``mag_u_fiber``...) -> array
    notes : list of str (which magnitudes were used, extinction)
    """

    source: str
    by_specobjid: dict
    by_sdss_id: dict
    columns: dict
    notes: list = field(default_factory=list)

    def lookup(self, specobjid: str | None, galaxy_id: str) -> int | None:
        if specobjid and specobjid in self.by_specobjid:
            return self.by_specobjid[specobjid]
        return self.by_sdss_id.get(galaxy_id)


def _float(table, name, sentinels: bool = True) -> np.ndarray:
    col = table[name]
    out = np.asarray(np.ma.getdata(col), dtype=float).copy()
    out[np.ma.getmaskarray(col)] = np.nan
    if sentinels:  # SDSS writes -9999 / 9999 for a missing magnitude
        out[(out <= -9000) | (out >= 9000)] = np.nan
    return out


def read_photometry_table(path, *, deredden: bool = True) -> PhotometryTable:
    """Read a SkyServer/CasJobs photometry export.

    Raises
    ------
    CatalogError
        The file is missing or unreadable, has no key (``specObjID`` or plate/mjd/fiberID) or
        no total magnitudes; the message names the file and the problem.
    """
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: photometry table does not exist")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    try:
        # SkyServer CSV exports begin with a "#Table1" line: '#' lines are comments
        kw = {"comment": "#"} if fmt == "ascii.csv" else {}
        t = Table.read(path, format=fmt, **kw) if fmt else Table.read(path)
    except Exception as exc:
        raise CatalogError(
            f"{path}: photometry table unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    lower = {c.lower(): c for c in t.colnames}
    n = len(t)
    by_sid: dict = {}
    by_id: dict = {}
    if "specobjid" in lower:
        col = t[lower["specobjid"]]
        by_sid = {str(v).strip(): i for i, v in enumerate(np.ma.getdata(col))}
    if all(k in lower for k in ("plate", "mjd", "fiberid")):
        p, m, f = (_float(t, lower[k], sentinels=False) for k in ("plate", "mjd", "fiberid"))
        by_id = {sdss_id(p[i], m[i], f[i]): i for i in range(n) if np.isfinite(p[i] + m[i] + f[i])}
    if not by_sid and not by_id:
        raise CatalogError(f"{path}: photometry table has no specObjID nor plate/mjd/fiberID columns")
    notes = []
    kind = "cmodelmag" if all(f"cmodelmag_{b}" in lower for b in BANDS) else "modelmag"
    if not all(f"{kind}_{b}" in lower for b in BANDS):
        raise CatalogError(f"{path}: photometry table has no cModelMag_[ugriz] or modelMag_[ugriz] columns")
    notes.append(f"total magnitudes: {'cModelMag' if kind == 'cmodelmag' else 'modelMag'}_*")
    has_fiber = all(f"fibermag_{b}" in lower for b in BANDS)
    has_ext = all(f"extinction_{b}" in lower for b in BANDS)
    if not has_fiber:
        notes.append("no fiberMag_* columns: fiber magnitudes (aperture corrections) missing")
    if deredden and has_ext:
        notes.append("corrected for Galactic extinction (extinction_*)")
    elif deredden:
        notes.append("no extinction_* columns: magnitudes NOT corrected for Galactic extinction")
    cols = {}
    for b in BANDS:
        ext = _float(t, lower[f"extinction_{b}"]) if (deredden and has_ext) else 0.0
        cols[f"mag_{b}_total"] = _float(t, lower[f"{kind}_{b}"]) - ext
        err = lower.get(f"{kind}err_{b}")
        cols[f"magerr_{b}_total"] = _float(t, err) if err else np.full(n, np.nan)
        if has_fiber:
            cols[f"mag_{b}_fiber"] = _float(t, lower[f"fibermag_{b}"]) - ext
            err = lower.get(f"fibermagerr_{b}")
            cols[f"magerr_{b}_fiber"] = _float(t, err) if err else np.full(n, np.nan)
    for k, v in cols.items():
        if k.startswith("magerr"):
            v[v <= 0] = np.nan
    return PhotometryTable(str(path), by_sid, by_id, cols, notes)
