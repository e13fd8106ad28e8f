"""Per-partition Parquet files, and the final output: one table file or a HATS catalog.

Each partition's rows go to ``<parts>/part-NNNNN.parquet``, written under a temporary name
(``.tmp-<pid>-<random>``) and renamed when complete (an atomic ``os.replace``): a worker killed
mid-write leaves only a temporary file, a task that runs twice (re-run after a worker died)
replaces the file with the same rows, so no row is lost or duplicated. The file's Parquet
metadata holds the run key (input partition + models + settings): a re-run skips a partition
whose file has the same key and the expected number of rows.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np

from ..errors import ExplorerError

RUN_KEY = b"irox_run_key"
N_ROWS = b"irox_n_rows"


def parts_dir_for(out: Path) -> Path:
    """Where the partition files of ``out`` live (beside it, so a HATS folder holds only HATS)."""
    return out.with_name(out.name + ".parts")


def write_part(parts_dir: Path, stem: str, cols: dict, run_key: str) -> Path:
    """Write one partition's columns to ``parts_dir/stem.parquet`` (temporary name, then rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts_dir.mkdir(parents=True, exist_ok=True)
    table = pa.table({c: np.asarray(v) for c, v in cols.items()})
    n = table.num_rows
    table = table.replace_schema_metadata({RUN_KEY: run_key.encode(), N_ROWS: str(n).encode()})
    final = parts_dir / f"{stem}.parquet"
    tmp = parts_dir / f"{stem}.parquet.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return final


def part_is_done(parts_dir: Path, stem: str, run_key: str) -> bool:
    """True when the partition's file exists, was written by the same run key and is readable."""
    import pyarrow.parquet as pq

    f = parts_dir / f"{stem}.parquet"
    if not f.is_file():
        return False
    try:
        md = pq.read_schema(f).metadata or {}
        n_meta = pq.read_metadata(f).num_rows
    except Exception:  # a damaged file is redone
        return False
    return md.get(RUN_KEY) == run_key.encode() and md.get(N_ROWS) == str(n_meta).encode()


def remove_temporaries(parts_dir: Path) -> int:
    """Delete temporary files left by killed tasks; returns how many."""
    n = 0
    for f in parts_dir.glob("*.parquet.tmp-*") if parts_dir.is_dir() else []:
        f.unlink(missing_ok=True)
        n += 1
    return n


def read_parts(parts_dir: Path, stems: list[str]):
    """The partition files in partition order as one pandas DataFrame."""
    import pandas as pd
    import pyarrow.parquet as pq

    frames = [pq.read_table(parts_dir / f"{s}.parquet").to_pandas() for s in stems]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_table_output(df, out: Path, meta: dict) -> None:
    """The concatenated partitions as one file in predict's formats (FITS, CSV, Parquet, ECSV)."""
    from ..ml.predict import COLUMN_UNITS, TableWriter, _format_of, to_table

    fmt = _format_of(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer = TableWriter(fmt, tmp, meta)
    writer.add(to_table({c: df[c].to_numpy() for c in df.columns}), first=True)
    writer.close()
    tmp.replace(out)
    if fmt == "csv":
        side = out.with_name(out.name + ".meta.json")
        units = {c: u for c, (u, _) in COLUMN_UNITS.items()}
        side.write_text(json.dumps({"meta": meta, "units": units}, indent=1, default=str))


def write_hats_output(df, out: Path, meta: dict, units: dict, *, name: str | None = None) -> Path:
    """A HATS catalog at ``out`` through LSDB, with units and provenance in ``hats.properties``.

    The whole table passes through this process (``lsdb.from_dataframe``); for tens of millions
    of rows import the partition files with hats-import instead (see the README).
    """
    import lsdb

    for c in ("ra_deg", "dec_deg"):
        if c not in df.columns or not np.all(np.isfinite(df[c].to_numpy(float))):
            raise ExplorerError(
                f"{out}: a HATS catalog needs finite {c} for every row (column missing or NaN)"
            )
    name = name or out.name
    cat = lsdb.from_dataframe(df, ra_column="ra_deg", dec_column="dec_deg", catalog_name=name)
    props = {
        "irox_units": json.dumps({c: u for c, u in units.items() if c in df.columns and u}),
        "irox_provenance": json.dumps(meta, default=str),
    }
    cat.write_catalog(out, addl_hats_properties=props, overwrite=True, progress_bar=False)
    return out


def write_latent_hats(catalog, out, *, models=None, rows: int | None = None, name: str | None = None) -> Path:
    """A HATS catalog of latents from an HDF5 catalog (stored latents, else encoded with ``models``):
    our table columns, ``latent_<k>`` and ``catalog_row`` (the row number, the Monte Carlo seed)."""
    import pandas as pd

    from ..catalog import Catalog
    from .sources import ROW_COLUMN

    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    idx = np.arange(cat.n if rows is None else min(rows, cat.n))
    if cat.latents is not None:
        lat = cat.latents[idx]
    else:
        if models is None:
            raise ExplorerError(f"{cat.path} holds spectra: give models to encode them")
        from ..ml.registry import ModelBundle, load_models

        bundle = models if isinstance(models, ModelBundle) else load_models(models, components=["encoder"])
        lat = bundle.catalog_latents(cat, idx)
    df = pd.DataFrame({c: np.asarray(v)[idx] for c, v in cat.table.items()})
    for k in range(lat.shape[1]):
        df[f"latent_{k}"] = lat[:, k]
    df[ROW_COLUMN] = idx
    meta = {"irox_content": "latents", "source_catalog": str(cat.path), "n_rows": int(len(idx))}
    from ..catalog import COLUMNS

    units = {c: u for c, (u, _) in COLUMNS.items()}
    return write_hats_output(df, Path(out), meta, units, name=name)
