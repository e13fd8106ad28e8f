"""Inputs cut into partitions, and a catalog-like view of one partition read on the worker.

Three inputs, told apart by the path:

- our HDF5 catalog (``.h5``, spectra or latents): partitions are row ranges of
  ``rows_per_partition`` rows; a worker reads only its rows (h5py slices of ``/table``, the
  spectra or the latents);
- a paper-layout table (``sdss_wise_cross_reg*.csv(.gz)``): imported once on the client into a
  latent HDF5 catalog (:func:`explorer.io.paper_table.import_paper_table`) in the run's work
  folder, then as above;
- a HATS catalog of latents (a folder with ``hats.properties`` or ``collection.properties``):
  one partition per HEALPix pixel (one Parquet file). Its columns are ours (``id``, ``ra_deg``,
  ``dec_deg``, ``z``, ``spec_norm``, ``mag_<b>_total``, ...) with the latents as ``latent_<k>``
  (as :func:`explorer.survey.output.write_latent_hats` writes them) or ``spender_<k>``.

A :class:`PartitionView` has what :func:`explorer.ml.predict.predict_rows` reads from a
:class:`~explorer.catalog.Catalog` (``n``, ``table``, ``bad_rows``, ``has_spectra``, ``latents``,
``spectra``, ``attrs``, ``path``, ``simulated``), indexed 0..n-1 within the partition;
:attr:`PartitionView.seeds` are the rows' numbers in the whole catalog (the Monte Carlo seeds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalog import Catalog, validate_table
from ..errors import CatalogError

LATENT_PREFIXES = ("latent_", "spender_")
#: column holding the row's number in the catalog the HATS catalog was made from (the MC seed)
ROW_COLUMN = "catalog_row"


@dataclass(frozen=True)
class Partition:
    """One unit of work: ``kind`` "h5" (rows ``start``..``stop`` of ``path``) or "hats" (one
    pixel file ``path``). ``bad_rows`` (h5 only): validation flags of these rows, local index ->
    reason, computed once on the client over the whole catalog (duplicate ids span partitions)."""

    number: int
    kind: str
    path: str
    start: int = 0
    stop: int = 0
    pixel: str = ""
    bad_rows: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def name(self) -> str:
        if self.kind == "hats":
            return f"part-{self.number:05d} ({self.pixel}: {self.path})"
        return f"part-{self.number:05d} (rows {self.start}-{self.stop - 1} of {self.path})"

    @property
    def file_stem(self) -> str:
        return f"part-{self.number:05d}"

    def key(self) -> dict:
        """What identifies the partition's input (for resuming)."""
        p = Path(self.path)
        st = p.stat() if p.exists() else None
        return {
            "kind": self.kind, "path": str(p.resolve()), "start": self.start, "stop": self.stop,
            "bytes": st.st_size if st else -1, "mtime_ns": st.st_mtime_ns if st else -1,
        }  # fmt: skip


def input_kind(path) -> str:
    """ "h5", "paper" or "hats" from the path."""
    p = Path(path)
    if p.is_dir():
        if (p / "hats.properties").is_file() or (p / "collection.properties").is_file():
            return "hats"
        raise CatalogError(
            f"{p} is a folder without hats.properties or collection.properties: not a HATS catalog"
        )
    name = p.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "paper"
    return "h5"


def plan_hdf5(path, rows_per_partition: int, limit: int | None = None) -> tuple[list[Partition], Catalog]:
    """Row-range partitions of an HDF5 catalog (validated once here). Returns (partitions, catalog)."""
    if rows_per_partition < 1:
        raise CatalogError(f"rows per partition must be >= 1, got {rows_per_partition}")
    cat = Catalog(path)
    n = cat.n if limit is None else min(cat.n, int(limit))
    bad = cat.bad_rows
    parts = []
    for k, s in enumerate(range(0, n, rows_per_partition)):
        e = min(n, s + rows_per_partition)
        flags = {i - s: r for i, r in bad.items() if s <= i < e}
        parts.append(Partition(k, "h5", str(cat.path), s, e, bad_rows=flags))
    return parts, cat


def hats_catalog_dir(path) -> Path:
    """The catalog folder of a HATS collection (or the catalog folder itself)."""
    p = Path(path)
    coll = p / "collection.properties"
    if coll.is_file() and not (p / "hats.properties").is_file():
        for line in coll.read_text().splitlines():
            if line.startswith("hats_primary_table_url="):
                return p / line.split("=", 1)[1].strip()
    return p


def plan_hats(path, limit: int | None = None) -> list[Partition]:
    """One partition per HEALPix pixel file of a HATS catalog."""
    import hats
    from hats.io.paths import pixel_catalog_file

    base = hats_catalog_dir(path)
    cat = hats.read_hats(base)
    parts = []
    for k, pix in enumerate(sorted(cat.get_healpix_pixels())):
        f = pixel_catalog_file(base, pix)
        parts.append(Partition(k, "hats", str(f), pixel=f"Norder={pix.order}/Npix={pix.pixel}"))
    return parts[:limit] if limit is not None else parts


class PartitionView:
    """What :func:`explorer.ml.predict.predict_rows` needs of one partition, read lazily."""

    def __init__(self, part: Partition):
        self.part = part
        self.path = Path(part.path)
        self.seeds: np.ndarray
        if part.kind == "h5":
            self._open_h5(part)
        elif part.kind == "hats":
            self._open_hats(part)
        else:
            raise CatalogError(f"unknown partition kind {part.kind!r}")

    def _open_h5(self, part: Partition) -> None:
        self._cat = Catalog(part.path)
        h5 = self._cat._h5
        s, e = part.start, part.stop
        self.n = e - s
        self.table = {}
        for name, ds in h5["table"].items():
            arr = ds[s:e]
            self.table[name] = arr.astype(str) if arr.dtype.kind == "S" else arr
        self.has_spectra = self._cat.has_spectra
        self.latents = h5["latents"][s:e].astype(np.float32) if "latents" in h5 else None
        self.attrs = self._cat.attrs
        self.simulated = self._cat.simulated
        self.bad_rows = dict(part.bad_rows)
        self.seeds = np.arange(s, e)

    def _open_hats(self, part: Partition) -> None:
        import pandas as pd

        try:
            df = pd.read_parquet(part.path)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise CatalogError(
                f"{part.path}: not a readable Parquet file: {type(exc).__name__}: {exc}"
            ) from None
        self._cat = None
        lat_cols = _latent_columns(df.columns, part.path)
        self.n = len(df)
        self.latents = df[lat_cols].to_numpy(np.float32)
        self.table = {c: _plain(df[c]) for c in df.columns if c not in lat_cols}
        for need in ("id", "z", "spec_norm"):
            if need not in self.table:
                raise CatalogError(f"{part.path}: column {need!r} missing (have {sorted(self.table)})")
        self.table["id"] = self.table["id"].astype(str)
        self.has_spectra = False
        self.attrs = {"optical_photometry": "mag_r_total" in self.table}
        self.simulated = False
        try:
            self.bad_rows = validate_table(self.table)
        except KeyError:  # no WISE columns: nothing to validate them against
            self.bad_rows = {}
        self.seeds = (
            np.asarray(self.table[ROW_COLUMN], np.int64)
            if ROW_COLUMN in self.table
            else _id_seeds(self.table["id"])
        )

    def spectra(self, idx):
        """(flux, weight) of local rows ``idx`` (rows start + idx of the catalog)."""
        return self._cat.spectra(np.asarray(idx, int) + self.part.start)

    @property
    def good(self) -> np.ndarray:
        mask = np.ones(self.n, bool)
        mask[list(self.bad_rows)] = False
        return mask

    def close(self) -> None:
        if self._cat is not None:
            self._cat.close()


def _plain(series) -> np.ndarray:
    """A pandas column as a plain NumPy array (pyarrow strings -> str, nullable -> float NaN)."""
    if series.dtype.kind in "fiub":
        return series.to_numpy()
    try:
        return series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        return series.astype(str).to_numpy()


def _latent_columns(columns, path) -> list[str]:
    for prefix in LATENT_PREFIXES:
        cols = [c for c in columns if c.startswith(prefix) and c[len(prefix) :].isdigit()]
        if cols:
            return sorted(cols, key=lambda c: int(c[len(prefix) :]))
    raise CatalogError(f"{path}: no latent columns ({' or '.join(p + '<k>' for p in LATENT_PREFIXES)})")


def _id_seeds(ids) -> np.ndarray:
    """Stable per-galaxy seeds from the ids when the HATS catalog has no catalog_row column."""
    import hashlib

    return np.array([int(hashlib.sha256(str(g).encode()).hexdigest()[:15], 16) for g in ids], np.int64)


def hats_properties(path) -> dict:
    """The ``irox_*`` entries of a HATS catalog's properties (JSON-decoded)."""
    f = hats_catalog_dir(path) / "hats.properties"
    out = {}
    for line in f.read_text().splitlines() if f.is_file() else []:
        k, _, v = line.partition("=")
        if k.startswith("irox_"):
            try:
                out[k] = json.loads(v.replace("\\:", ":").replace("\\=", "="))
            except json.JSONDecodeError:
                out[k] = v
    return out
