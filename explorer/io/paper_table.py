"""The paper's released crossmatch tables <-> a *latent catalog* (no spectra).

Jespersen et al. (2025) release, with their demo notebook (``IR_optical_demo``), two CSV tables
``sdss_wise_cross_reg0.csv(.gz)`` (252,139 rows) and ``sdss_wise_cross_reg1.csv(.gz)``
(512,012 rows) and ``test_ids.csv`` (row indices into reg1: their test set). Columns, as read by
the public reproduction KoslickiLab/reproducing-jespersen-25 (``our_model_their_data.py``,
``train_their_data.py``)::

    spender_0 .. spender_5     the 6 latents of the official spender sdss_II encoder
    Z                          SDSS spectroscopic redshift
    reg                        the spender normalization of the spectrum
    w1mpro .. w4mpro           AllWISE profile-fit Vega magnitudes
    w1sigmpro .. w4sigmpro     their errors; 9999 marks a non-detection

Assumptions (documented because the release has no data model):

- ``reg`` is the spender normalization (median flux in rest frame 5300-5850 A, in
  1e-17 erg/s/cm^2/A, *linear*): the reproduction calls it the "V-band normalisation constant
  (same role as our norm_const)". It becomes our ``spec_norm``. If a release turns out to store
  log10 of it, ``reg_scale="log10"`` reads it so; a non-positive ``reg`` read as linear is an
  error that says so.
- A sigma >= 5 mag (the reproduction's threshold; the release uses 9999) is a non-detection; its
  magnitude is kept as a 95% upper limit (``w?_is_ul``), the AllWISE meaning of ``w?mpro``
  without ``w?sigmpro``.
- ``test_ids.csv`` holds integer row indices (0-based) into the reg1 table: one column, with or
  without a header; a pandas-written file whose first column is just 0..n-1 uses its second.
  "reg0"/"reg1" in the names are the two parts of the release; which input is reg1 is taken from
  the file name (else the last file given).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import WISE_BANDS
from ..errors import CatalogError
from .build import sha256_of

__all__ = [
    "PAPER_COLUMNS",
    "LATENT_COLUMNS",
    "NONDETECTION_SIGMA",
    "PaperTable",
    "read_paper_tables",
    "import_paper_table",
    "export_paper_table",
    "read_test_ids",
]

N_LATENT = 6
LATENT_COLUMNS = [f"spender_{i}" for i in range(N_LATENT)]
MAG_COLUMNS = [f"w{k}mpro" for k in range(1, 5)]
SIGMA_COLUMNS = [f"w{k}sigmpro" for k in range(1, 5)]
PAPER_COLUMNS = LATENT_COLUMNS + ["Z", "reg"] + MAG_COLUMNS + SIGMA_COLUMNS
#: the release's marker of a non-detection in ``w?sigmpro``
NONDETECTION_SIGMA = 9999.0
#: sigma at and above which a band is a non-detection (KoslickiLab reproduction: sigma < 5 = detected)
NONDETECTION_THRESHOLD_MAG = 5.0
LATENT_SOURCE = "spender sdss_II latents from the paper's release (Jespersen et al. 2025)"


@dataclass
class PaperTable:
    """Rows of one or more release tables, checked.

    Attributes
    ----------
    latents : (N, 6) float32
    table : dict of column -> (N,) array, in the catalog's column names
    sources : list of dict (path, rows, sha256)
    rejected : list of str, one line per dropped row group (file, rows, reason)
    """

    latents: np.ndarray
    table: dict
    sources: list = field(default_factory=list)
    rejected: list = field(default_factory=list)


def _read_csv(path: Path):
    import pandas as pd

    if not path.is_file():
        raise CatalogError(f"{path}: paper table does not exist")
    try:
        df = pd.read_csv(path)
    except Exception as exc:  # pandas raises many types on bad bytes / bad gzip
        raise CatalogError(f"{path}: not a readable CSV table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in PAPER_COLUMNS if c not in df.columns]
    if missing:
        raise CatalogError(f"{path}: paper table is missing columns {missing} (has {list(df.columns)[:20]})")
    return df


def read_test_ids(path) -> np.ndarray:
    """Integer row indices from ``test_ids.csv`` (see module notes for the accepted layouts)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"{path}: test-ids file does not exist")
    try:
        df = pd.read_csv(path, header=None)
    except Exception as exc:
        raise CatalogError(f"{path}: not a readable CSV file ({type(exc).__name__}: {exc})") from None
    if len(df) and not np.all(pd.to_numeric(df.iloc[0], errors="coerce").notna()):
        df = df.iloc[1:]  # a header line
    vals = df.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if vals.ndim != 2 or vals.shape[1] == 0:
        raise CatalogError(f"{path}: no columns of row indices")
    col = vals[:, 0]
    if vals.shape[1] >= 2 and np.array_equal(col, np.arange(len(col))):
        col = vals[:, 1]  # pandas index column, then the ids
    if not np.all(np.isfinite(col)) or np.any(col < 0) or np.any(col != np.round(col)):
        raise CatalogError(f"{path}: test ids must be non-negative integers")
    return col.astype(np.int64)


def read_paper_tables(paths, *, reg_scale: str = "linear") -> PaperTable:
    """Read release tables (in order) into latents + catalog columns.

    Rows with a non-finite latent, Z or reg are dropped and listed in ``rejected`` (file and
    row numbers); they never stop the other rows. A missing column or an unreadable file
    raises :class:`~explorer.errors.CatalogError` naming the file.

    Parameters
    ----------
    paths : sequence of path
    reg_scale : {"linear", "log10"}
        How ``reg`` is stored (see module notes).
    """
    from ..constants import vega_mag_to_mjy

    if reg_scale not in ("linear", "log10"):
        raise CatalogError(f"reg_scale must be 'linear' or 'log10', got {reg_scale!r}")
    lat_parts, cols_parts, sources, rejected = [], [], [], []
    for p in map(Path, paths):
        df = _read_csv(p)
        lat = df[LATENT_COLUMNS].to_numpy(dtype=float)
        z = df["Z"].to_numpy(dtype=float)
        reg = df["reg"].to_numpy(dtype=float)
        keep = np.all(np.isfinite(lat), axis=1) & np.isfinite(z) & np.isfinite(reg)
        for what, bad in (
            ("NaN/inf latents", ~np.all(np.isfinite(lat), axis=1)),
            ("NaN/inf Z", ~np.isfinite(z)),
            ("NaN/inf reg", ~np.isfinite(reg)),
        ):
            rows = np.flatnonzero(bad)
            if rows.size:
                shown = rows[:20].tolist()
                more = f" ... (+{rows.size - 20})" if rows.size > 20 else ""
                rejected.append(f"{p}: {rows.size} row(s) dropped, {what}: rows {shown}{more}")
        if reg_scale == "linear":
            nonpos = np.flatnonzero(keep & (reg <= 0))
            if nonpos.size:
                raise CatalogError(
                    f"{p}: reg <= 0 in {nonpos.size} rows (first {nonpos[:5].tolist()}): not a linear "
                    "normalization; if the file stores log10, use reg_scale='log10' (--reg-log10)"
                )
            spec_norm = reg
        else:
            spec_norm = 10.0**reg
        rows = np.flatnonzero(keep)
        c = {
            "id": np.array([f"{p.name.split('.')[0]}:{r}" for r in rows], dtype=str),
            "paper_row": rows.astype(np.int64),
            "paper_file": np.full(rows.size, len(sources), dtype=np.int16),
            "z": z[rows],
            "spec_norm": spec_norm[rows],
        }
        quals = [[] for _ in rows]
        for k, w in enumerate(WISE_BANDS):
            b = w.lower()
            mag = df[MAG_COLUMNS[k]].to_numpy(dtype=float)[rows]
            sig = df[SIGMA_COLUMNS[k]].to_numpy(dtype=float)[rows]
            ul = ~(np.isfinite(sig) & (sig < NONDETECTION_THRESHOLD_MAG))
            sigma = np.where(ul, np.nan, sig)
            flux = vega_mag_to_mjy(mag, k)
            c[f"{b}_mag_vega"] = mag
            c[f"{b}_sigma_mag"] = sigma
            c[f"{b}_is_ul"] = ul
            c[f"{b}_flux_mjy"] = flux
            c[f"{b}_flux_err_mjy"] = np.where(ul, np.nan, flux * 0.4 * np.log(10.0) * sigma)
            for q, u in zip(quals, ul, strict=True):
                q.append("U" if u else "?")
        c["ph_qual"] = np.array(["".join(q) for q in quals], dtype="<U4")
        sources.append({"path": str(p), "rows": int(len(df)), "kept": int(rows.size), "sha256": sha256_of(p)})
        lat_parts.append(lat[rows].astype(np.float32))
        cols_parts.append(c)
    if not lat_parts:
        raise CatalogError("no paper tables given")
    table = {k: np.concatenate([c[k] for c in cols_parts]) for k in cols_parts[0]}
    return PaperTable(np.concatenate(lat_parts), table, sources, rejected)


def _reg1_index(paths) -> int:
    names = [Path(p).name for p in paths]
    hits = [i for i, n in enumerate(names) if "reg1" in n]
    return hits[0] if hits else len(names) - 1


def import_paper_table(
    paths,
    out,
    *,
    test_ids=None,
    test_ids_into: str | None = None,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    reg_scale: str = "linear",
    command: str = "",
) -> dict:
    """Write a latent catalog from the release tables.

    Parameters
    ----------
    paths : sequence of path
        ``sdss_wise_cross_reg0.csv(.gz)``, ``sdss_wise_cross_reg1.csv(.gz)`` (either or both).
    out : path
        Output catalog ``.h5``.
    test_ids : path, optional
        ``test_ids.csv``: those rows of the reg1 table form the test split; without it a random
        ``test_fraction`` of all rows does.
    test_ids_into : str, optional
        The input the test ids index into (default: the file whose name contains "reg1", else
        the last one).
    valid_fraction : float
        Random share of the non-test rows put in the validation split.

    Returns
    -------
    dict: path, counts per split, rejected rows (one line per file and reason), sources.
    """
    from ..catalog import write_catalog

    paths = [Path(p) for p in paths]
    pt = read_paper_tables(paths, reg_scale=reg_scale)
    n = len(pt.latents)
    rng = np.random.default_rng(seed)
    split = np.full(n, "train", dtype="<U5")
    notes = []
    if test_ids is not None:
        ids = read_test_ids(test_ids)
        into = (
            [i for i, p in enumerate(paths) if p.name == Path(test_ids_into).name or str(p) == test_ids_into]
            if test_ids_into
            else [_reg1_index(paths)]
        )
        if not into:
            raise CatalogError(
                f"--test-ids-into {test_ids_into!r} is none of the inputs {[str(p) for p in paths]}"
            )
        fi = into[0]
        n_rows = pt.sources[fi]["rows"]
        out_of_range = ids[ids >= n_rows]
        if out_of_range.size:
            raise CatalogError(
                f"{test_ids}: {out_of_range.size} test ids >= {n_rows}, the row count of {paths[fi]} "
                f"(first {out_of_range[:5].tolist()})"
            )
        in_file = pt.table["paper_file"] == fi
        is_test = in_file & np.isin(pt.table["paper_row"], ids)
        split[is_test] = "test"
        lost = ids.size - int(np.count_nonzero(is_test))
        if lost:
            notes.append(f"{lost} test ids point at rows dropped for bad values")
        test_src = {"path": str(test_ids), "n_ids": int(ids.size), "into": str(paths[fi])}
    else:
        split[rng.random(n) < test_fraction] = "test"
        test_src = f"random {test_fraction:g} of all rows (seed {seed})"
    rest = np.flatnonzero(split != "test")
    split[rest[rng.random(rest.size) < valid_fraction]] = "valid"
    table = dict(pt.table)
    table["split"] = split
    provenance = {
        "command": command,
        "kind": "paper release table (latents, no spectra)",
        "inputs": pt.sources,
        "test_ids": test_src if isinstance(test_src, str) else {**test_src, "sha256": sha256_of(test_ids)},
        "reg_scale": reg_scale,
        "nondetection": f"w?sigmpro >= {NONDETECTION_THRESHOLD_MAG:g} (release: 9999) -> upper limit",
        "rejected": pt.rejected,
        "notes": notes,
        "seed": seed,
    }
    path = write_catalog(
        out,
        table,
        None,
        None,
        simulated=False,
        provenance=provenance,
        latents=pt.latents,
        latent_source=LATENT_SOURCE,
        extra_attrs={"optical_photometry": False},
    )
    counts = {s: int(np.count_nonzero(split == s)) for s in ("train", "valid", "test")}
    return {"path": str(path), "n_galaxies": n, "splits": counts, "rejected": pt.rejected, "notes": notes}


def export_paper_table(catalog, out, *, latents=None, test_ids_out=None, rows: int | None = None) -> dict:
    """Write a catalog in the release's exact layout (round trip of :func:`import_paper_table`).

    Parameters
    ----------
    catalog : path or Catalog
        A latent catalog (its stored latents are written), or a spectral one with ``latents``.
    out : path
        ``.csv`` or ``.csv.gz``, columns :data:`PAPER_COLUMNS`; upper limits get sigma 9999.
    latents : (n_good, 6) array, optional
        Latents of the catalog's good rows, in order (the CLI encodes spectral catalogs with a
        model's encoder; this layer does not load models).
    test_ids_out : path, optional
        Also write the test split's row indices into ``out`` (``test_ids`` header).
    rows : int, optional
        Write only the first ``rows`` good rows (e.g. a 20k-row file from a 50k catalog).

    Only rows that pass validation (:attr:`Catalog.good`) are written, in catalog order.
    """
    from ..catalog import Catalog

    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    idx = export_rows(cat, rows)
    if latents is None:
        if cat.latents is None:
            raise CatalogError(f"{cat.path} holds spectra, not latents: encode them first (--models)")
        latents = cat.latents[idx]
    latents = np.asarray(latents, dtype=float)
    if latents.shape[0] != idx.size:
        raise CatalogError(f"{cat.path}: {latents.shape[0]} latents for {idx.size} good rows")
    return _write_paper_csv(cat, idx, latents, out, test_ids_out)


def export_rows(cat, rows: int | None = None) -> np.ndarray:
    """Catalog rows :func:`export_paper_table` writes: the good ones, at most ``rows``."""
    idx = np.flatnonzero(cat.good)
    return idx if rows is None else idx[: max(0, int(rows))]


def _write_paper_csv(cat, idx, lat, out, test_ids_out) -> dict:
    import pandas as pd

    if lat.shape[1] != N_LATENT:
        raise CatalogError(
            f"{cat.path}: the release layout has {N_LATENT} latents, these have {lat.shape[1]}"
        )
    t = cat.table
    data = {c: lat[:, i] for i, c in enumerate(LATENT_COLUMNS)}
    data["Z"] = np.asarray(t["z"], float)[idx]
    data["reg"] = np.asarray(t["spec_norm"], float)[idx]
    for k, w in enumerate(WISE_BANDS):
        b = w.lower()
        ul = np.asarray(t[f"{b}_is_ul"], bool)[idx]
        data[MAG_COLUMNS[k]] = np.asarray(t[f"{b}_mag_vega"], float)[idx]
        data[SIGMA_COLUMNS[k]] = np.where(ul, NONDETECTION_SIGMA, np.asarray(t[f"{b}_sigma_mag"], float)[idx])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(data, columns=PAPER_COLUMNS).to_csv(out, index=False)
    result = {"path": str(out), "n_rows": int(len(idx))}
    if test_ids_out is not None:
        split = np.asarray(t["split"]).astype(str)[idx]
        rows = np.flatnonzero(split == "test")
        Path(test_ids_out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"test_ids": rows}).to_csv(test_ids_out, index=False)
        result["test_ids"] = {"path": str(test_ids_out), "n": int(rows.size)}
    return result
