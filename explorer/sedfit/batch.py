"""Resumable batches of SED fits and the small table they combine into.

A batch writes one ``<out>/fits/<id>.npz`` per finished galaxy at once (written to a temporary
name, then renamed, so an interrupted run never leaves half a file) and skips every galaxy whose
file exists with the same catalog checksum and settings: rerunning the same command continues it.
``combine`` gathers the files into one small HDF5 table (``data/sedfit_demo.h5``)::

    /                    attrs: format = "irox-sedfit", catalog_sha256, catalog_name, settings
                                (JSON), versions (JSON: bagpipes, nautilus), command, n_fits
    /table/<column>      one row per galaxy: id, index, class_label, z, wall_s, n_like, log_z,
                         best_chi2, n_data and the 16/50/84 % of W1-W4 (Vega), log SFR, q_PAH
    /wise_mag_draws      (N, n_draws, 4) float32, W1-W4 Vega mag posterior draws
    /log_sfr_draws       (N, n_draws) float32, log10 SFR [M_sun/yr], bagpipes' cosmology
    /log_mstar_draws     (N, n_draws) float32
    /qpah_draws          (N, n_draws) float32, q_PAH [per cent]

The catalog checksum is the sha256 of the catalog file: the app overlays a table's fits only on
the catalog they were made from.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import ExplorerError
from ..ml.registry import sha256_file
from .data import SedFitError, fit_data_from_catalog
from .fit import FitResult, FitSettings, fit_galaxy

FORMAT = "irox-sedfit"
DRAW_KEYS = ("wise_mag_draws", "log_sfr_draws", "log_mstar_draws", "qpah_draws")
CLASSES = ("star-forming", "quenched", "agn")


def stratified_sample(cat, n: int, split: str = "test", seed: int = 0) -> np.ndarray:
    """Catalog indices of ``n`` galaxies of ``split``, as equal in number per class as the class
    sizes allow (a seeded random draw within each class); all galaxies when ``n`` exceeds them."""
    idx = cat.split_indices(split)
    if idx.size == 0:
        raise ExplorerError(f"{cat.path}: no galaxies in split {split!r}")
    labels = np.asarray(cat.table.get("class_label", np.full(len(cat), "")), dtype=str)[idx]
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(idx[labels == c]) for c in sorted(set(labels))]
    picked, k = [], 0
    while len(picked) < min(n, idx.size):  # round robin over the classes
        g = groups[k % len(groups)]
        j = k // len(groups)
        if j < g.size:
            picked.append(int(g[j]))
        k += 1
    return np.array(sorted(picked), dtype=int)


def versions() -> dict:
    """Versions of the fitting packages (bagpipes' own ``__version__`` is absent: the metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("bagpipes", "nautilus-sampler", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _safe(galaxy_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(galaxy_id))


def write_fit(path: Path, result: FitResult, meta: dict) -> None:
    """One galaxy's fit as ``.npz`` (atomic: temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp.npz")
    arrays = {k: np.asarray(getattr(result, k), np.float32) for k in DRAW_KEYS}
    info = {**result.summary(), "log_z": result.log_z, "best_chi2": result.best_chi2, "n_data": result.n_data}
    info.update(meta)
    np.savez(tmp, meta=np.array(json.dumps(info)), **arrays)
    os.replace(tmp, path)


def read_fit(path: Path) -> tuple[dict, dict]:
    """(meta, draws) of one ``.npz`` written by :func:`write_fit` (settings that a file predates
    read as the default that was in force: nautilus' own)."""
    with np.load(path) as f:
        meta, draws = json.loads(str(f["meta"])), {k: f[k] for k in DRAW_KEYS}
    if isinstance(meta.get("settings"), dict):
        meta["settings"] = {"n_networks": 4, **meta["settings"]}
    return meta, draws


def run_batch(
    catalog,
    indices,
    out_dir: str | Path,
    settings: FitSettings | None = None,
    *,
    log: Callable[[str], None] = print,
) -> dict:
    """Fit catalog rows ``indices`` one after the other; each finished fit is written at once.

    A galaxy whose file exists (same catalog checksum and settings) is skipped; one that cannot be
    fitted is logged in ``<out>/failed.json`` and the batch goes on.

    Returns
    -------
    dict: n_done (this run), n_skipped, n_failed, wall_s, catalog_sha256
    """
    settings = FitSettings() if settings is None else settings
    out = Path(out_dir)
    fits = out / "fits"
    fits.mkdir(parents=True, exist_ok=True)
    sha = sha256_file(catalog.path)
    sdict = settings.to_dict()
    failed_path = out / "failed.json"
    failed = json.loads(failed_path.read_text()) if failed_path.is_file() else {}
    labels = catalog.table.get("class_label")
    t0 = time.perf_counter()
    done = skipped = 0
    for n, i in enumerate(np.asarray(indices, int)):
        gid = str(catalog.table["id"][i])
        path = fits / f"{_safe(gid)}.npz"
        if path.is_file():
            meta, _ = read_fit(path)
            if meta.get("catalog_sha256") == sha and meta.get("settings") == sdict:
                skipped += 1
                continue
        try:
            result = fit_galaxy(fit_data_from_catalog(catalog, int(i), **_data_kw(settings)), settings)
        except SedFitError as err:
            failed[gid] = str(err)
            failed_path.write_text(json.dumps(failed, indent=1))
            log(f"[{n + 1}/{len(indices)}] {gid}: FAILED {err}")
            continue
        label = "" if labels is None else str(labels[i])
        write_fit(
            path, result, {"index": int(i), "class_label": label, "catalog_sha256": sha, "settings": sdict}
        )
        done += 1
        log(f"[{n + 1}/{len(indices)}] {gid} ({label}) {result.wall_s:.1f} s, {result.n_like} calls")
    return {
        "n_done": done,
        "n_skipped": skipped,
        "n_failed": len(failed),
        "wall_s": time.perf_counter() - t0,
        "catalog_sha256": sha,
    }


def _data_kw(settings: FitSettings) -> dict:
    return {
        "bin_pixels": settings.bin_pixels,
        "spec_floor": settings.spec_floor,
        "phot_floor": settings.phot_floor,
    }


SUMMARY_COLUMNS = (
    *(f"w{k}_{p}" for k in range(1, 5) for p in ("p16", "p50", "p84")),
    *(f"{q}_{p}" for q in ("log_sfr", "qpah") for p in ("p16", "p50", "p84")),
    "z",
    "wall_s",
    "cpu_s",
    "n_like",
    "log_z",
    "best_chi2",
    "n_data",
    "index",
)


def combine(
    out_dir: str | Path,
    table_path: str | Path,
    *,
    catalog_name: str = "",
    command: str = "",
    catalog_sha256: str | None = None,
    settings: FitSettings | None = None,
) -> Path:
    """Gather a batch's ``.npz`` files (of one catalog and one set of settings) into one table;
    with ``catalog_sha256`` / ``settings`` only the files of that catalog and those settings (a
    folder that also holds fits of an older catalog)."""
    import h5py

    files = sorted(Path(out_dir, "fits").glob("*.npz"))
    pairs = [read_fit(f) for f in files if not f.name.endswith(".tmp.npz")]
    if catalog_sha256 is not None:
        pairs = [p for p in pairs if p[0].get("catalog_sha256") == catalog_sha256]
    if settings is not None:
        pairs = [p for p in pairs if p[0].get("settings") == settings.to_dict()]
    if not pairs:
        raise ExplorerError(f"{out_dir}: no finished fits to combine")
    metas, draws = zip(*pairs, strict=True)
    shas = {m["catalog_sha256"] for m in metas}
    sets = {json.dumps(m["settings"], sort_keys=True) for m in metas}
    if len(shas) != 1 or len(sets) != 1:
        raise ExplorerError(
            f"{out_dir}: fits of {len(shas)} catalogs and {len(sets)} settings; combine one batch at a time"
        )
    order = np.argsort([m["index"] for m in metas])
    metas = [metas[k] for k in order]
    draws = [draws[k] for k in order]
    path = Path(table_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            format=FORMAT,
            format_version=1,
            catalog_sha256=shas.pop(),
            catalog_name=catalog_name,
            settings=sets.pop(),
            versions=json.dumps(versions()),
            command=command,
            n_fits=len(metas),
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        g = h5.create_group("table")
        g["id"] = np.array([m["id"] for m in metas], dtype="S")
        g["class_label"] = np.array([m.get("class_label", "") for m in metas], dtype="S")
        for c in SUMMARY_COLUMNS:
            g[c] = np.array([m.get(c, np.nan) for m in metas], dtype=float)  # cpu_s: newer files
        for k in DRAW_KEYS:
            h5.create_dataset(k, data=np.stack([d[k] for d in draws]).astype(np.float32), compression="gzip")
    os.replace(tmp, path)
    return path
