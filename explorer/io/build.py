"""Build the project's HDF5 catalog from real files: SDSS spectra x AllWISE (x SDSS photometry).

Steps (backing ``python -m explorer build-catalog``):

1. **Spectra**: a folder (searched recursively), a glob, a list file (one path per line,
   relative to the list file; ``#`` comments) or explicit paths of SDSS ``spec``/``spec-lite``
   files (SDSS-I/II, BOSS, eBOSS; ``.fits`` or ``.fits.gz``), read in parallel processes with
   :func:`explorer.io.sdss.read_sdss_spectrum`. A file that cannot be used is *rejected* with
   its reason (never silently dropped, never stopping the others).
2. **Cache**: every file read is stored under ``<cache>/<sha256>.npz`` (spectrum or the reason
   it was rejected) and indexed by path, size and mtime, so a rerun on the same inputs reads and
   hashes nothing twice.
3. **WISE**: an AllWISE table as IRSA returns it (:func:`explorer.io.wise.read_wise_table`),
   matched by position (:func:`explorer.io.crossmatch.crossmatch_by_position`; default radius
   3 arcsec, half the 6.1 arcsec W1 beam, Wright et al. 2010, AJ 140 1868) or by an identifier
   column equal to the SDSS ``PPPP-MMMMM-FFFF`` id.
4. **Photometry** (optional): a SkyServer/CasJobs export (:mod:`explorer.io.photometry`) for
   the ugriz total and fiber magnitudes our spectrum predictor uses. Without it the catalog's
   ``optical_photometry`` attribute is False and the paper-input predictor (latents + z +
   normalization) is the one to use.

Spectra without a WISE match stay in the catalog (WISE columns NaN, ``wise_match = "none"``):
they can be predicted, and :attr:`Catalog.bad_rows` keeps them out of training and evaluation.
Ambiguous matches (one WISE source claimed by several spectra, or several sources within the
radius) are kept, flagged in ``wise_match`` and listed in the report.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import N_PIX, WISE_BANDS
from ..errors import CatalogError, ExplorerError

__all__ = ["find_spectra", "build_catalog", "BuildReport", "sha256_of", "DEFAULT_RADIUS_ARCSEC"]

#: Default position-match radius: half the W1 beam (6.1 arcsec FWHM; Wright et al. 2010).
DEFAULT_RADIUS_ARCSEC = 3.0
_SPEC_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz")
CACHE_VERSION = 1


def sha256_of(path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def find_spectra(inputs) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand folders, globs and list files into spectrum paths.

    Returns
    -------
    paths : list of Path, sorted, without duplicates
    problems : list of (input, reason) for inputs that name nothing
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    out: list[Path] = []
    problems: list[tuple[str, str]] = []
    for item in map(str, inputs):
        p = Path(item)
        if p.is_dir():
            found = [
                q for q in sorted(p.rglob("*")) if q.is_file() and q.name.lower().endswith(_SPEC_SUFFIXES)
            ]
            if not found:
                problems.append((item, "folder holds no .fits/.fits.gz files"))
            out += found
        elif p.is_file() and p.suffix.lower() in (".txt", ".lst", ".list"):
            for line in p.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    q = Path(line)
                    out.append(q if q.is_absolute() else p.parent / q)
        elif p.is_file():
            out.append(p)
        elif any(ch in item for ch in "*?["):
            found = [Path(q) for q in sorted(glob.glob(item, recursive=True)) if Path(q).is_file()]
            if not found:
                problems.append((item, "glob matches no files"))
            out += found
        else:
            problems.append((item, "no such file or folder"))
    seen, uniq = set(), []
    for q in out:
        key = str(q.resolve()) if q.exists() else str(q)
        if key not in seen:
            seen.add(key)
            uniq.append(q)
    return uniq, problems


# -- reading with a cache ------------------------------------------------------------------------
def _specobjid(path: Path) -> str:
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as h:
            for hdu in h[1:4]:
                if hdu.name.upper() == "SPECOBJ":
                    names = {n.lower(): n for n in hdu.columns.names}
                    if "specobjid" in names:
                        return str(hdu.data[names["specobjid"]][0]).strip()
    except Exception:  # the spectrum itself was readable; the id is optional
        return ""
    return ""


def _read_one(args) -> dict:
    """Worker: hash, read and cache one file. Returns a small dict (arrays included)."""
    path, cache_dir = args
    from .sdss import read_sdss_spectrum

    path = Path(path)
    rec: dict = {"path": str(path)}
    try:
        st = path.stat()
        rec["size"], rec["mtime_ns"] = st.st_size, st.st_mtime_ns
        rec["sha256"] = sha256_of(path)
    except OSError as exc:
        rec["error"] = f"{path}: cannot read file ({exc.strerror or exc})"
        return rec
    try:
        spec = read_sdss_spectrum(path)
    except ExplorerError as exc:
        rec["error"] = str(exc)
    except Exception as exc:  # a reader bug must not stop the build either; say what it was
        rec["error"] = f"{path}: unexpected {type(exc).__name__} while reading: {exc}"
    else:
        meta = {k: v for k, v in spec.meta.items() if k != "path"}
        meta["specobjid"] = _specobjid(path)
        rec.update(id=spec.id, z=spec.z, norm=spec.norm, meta=meta, flux=spec.flux, weight=spec.weight)
    if "error" in rec:  # one line per rejected file in the report
        rec["error"] = " ".join(rec["error"].split())
    if cache_dir is not None:
        _cache_store(Path(cache_dir), rec)
    return rec


def _cache_store(cache_dir: Path, rec: dict) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    f = cache_dir / f"{rec['sha256']}.npz"
    tmp = cache_dir / f".{rec['sha256']}.{os.getpid()}.partial.npz"
    info = {k: v for k, v in rec.items() if k not in ("flux", "weight", "path", "size", "mtime_ns")}
    arrays = {"flux": rec["flux"], "weight": rec["weight"]} if "flux" in rec else {}
    np.savez(tmp, info=np.array(json.dumps(info)), **arrays)
    tmp.replace(f)


def _cache_index(cache_dir: Path) -> dict:
    f = cache_dir / "index.json"
    if not f.is_file():
        return {}
    try:
        idx = json.loads(f.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return idx.get("files", {}) if idx.get("version") == CACHE_VERSION else {}


def _cache_load(cache_dir: Path, path: Path, index: dict) -> dict | None:
    """The cached record of ``path`` if its size and mtime are unchanged, else None."""
    entry = index.get(str(path.resolve()))
    if entry is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size != entry["size"] or st.st_mtime_ns != entry["mtime_ns"]:
        return None
    f = cache_dir / f"{entry['sha256']}.npz"
    if not f.is_file():
        return None
    try:
        with np.load(f) as z:
            rec = json.loads(str(z["info"]))
            if "flux" in z.files:
                rec["flux"], rec["weight"] = z["flux"], z["weight"]
    except Exception:
        return None
    rec.update(path=str(path), size=st.st_size, mtime_ns=st.st_mtime_ns, cached=True)
    return rec


def read_spectra(paths, *, workers: int = 2, cache_dir=None, progress: bool = True) -> list[dict]:
    """Read spectrum files (in parallel), reusing the cache. One record per path, in order."""
    from tqdm.auto import tqdm

    paths = [Path(p) for p in paths]
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    index = _cache_index(cache_dir) if cache_dir is not None else {}
    records: list[dict | None] = [None] * len(paths)
    todo = []
    for i, p in enumerate(paths):
        rec = _cache_load(cache_dir, p, index) if cache_dir is not None else None
        if rec is None:
            todo.append(i)
        else:
            records[i] = rec
    bar = tqdm(total=len(paths), initial=len(paths) - len(todo), desc="read spectra", disable=not progress)
    jobs = [(str(paths[i]), str(cache_dir) if cache_dir else None) for i in todo]
    if workers <= 1 or len(todo) <= 1:
        for i, job in zip(todo, jobs, strict=True):
            records[i] = _read_one(job)
            bar.update()
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as ex:
            chunk = max(1, min(16, len(jobs) // (4 * workers)))
            for i, rec in zip(todo, ex.map(_read_one, jobs, chunksize=chunk), strict=True):
                records[i] = rec
                bar.update()
    bar.close()
    if cache_dir is not None and todo:
        for i in todo:
            r = records[i]
            if "sha256" in r:
                index[str(paths[i].resolve())] = {k: r[k] for k in ("size", "mtime_ns", "sha256")}
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / "index.json.partial"
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "files": index}))
        tmp.replace(cache_dir / "index.json")
    return records  # type: ignore[return-value]


# -- the build -------------------------------------------------------------------------------------
@dataclass
class BuildReport:
    """What a build did. ``rejected`` holds one line per file: "path: reason"."""

    path: str = ""
    n_files: int = 0
    n_read: int = 0
    n_from_cache: int = 0
    n_galaxies: int = 0
    n_matched: int = 0
    unmatched: list = field(default_factory=list)
    ambiguous: list = field(default_factory=list)
    rejected: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    spectra_per_second: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def text(self) -> str:
        lines = [
            f"catalog {self.path}: {self.n_galaxies} galaxies from {self.n_files} files "
            f"({self.n_read} read, {self.n_from_cache} from cache) in {self.seconds:.1f} s",
            f"  WISE: {self.n_matched} matched, {len(self.unmatched)} unmatched, {len(self.ambiguous)} ambiguous",
        ]
        lines += [f"  unmatched: {u}" for u in self.unmatched]
        lines += [f"  ambiguous: {a}" for a in self.ambiguous]
        lines += [f"  rejected: {r}" for r in self.rejected]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _split_of(ids, fractions=(0.8, 0.1, 0.1)) -> np.ndarray:
    """Deterministic train/valid/test split from a hash of the id (stable when files are added)."""
    u = np.array([int(hashlib.sha256(str(g).encode()).hexdigest()[:8], 16) / 16**8 for g in ids])
    out = np.full(len(u), "test", dtype="<U5")
    out[u < fractions[0] + fractions[1]] = "valid"
    out[u < fractions[0]] = "train"
    return out


def build_catalog(
    spectra,
    wise,
    out,
    *,
    photometry=None,
    match: str = "position",
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
    wise_id_column: str | None = None,
    workers: int = 2,
    cache_dir=None,
    drop_unmatched: bool = False,
    deredden: bool = True,
    progress: bool = True,
    command: str = "",
) -> BuildReport:
    """Build a catalog from SDSS spectra and an AllWISE table (see the module notes).

    Parameters
    ----------
    spectra : path, glob, list file, or a sequence of them
    wise : path
        AllWISE table (IPAC ``.tbl``, CSV, FITS, VOTable).
    out : path
        Output catalog ``.h5``.
    photometry : path, optional
        SkyServer/CasJobs ugriz export.
    match : {"position", "id"}
    radius_arcsec : float
        Position-match radius.
    wise_id_column : str, optional
        WISE column holding the SDSS id (``match="id"``).
    workers : int
        Reader processes.
    cache_dir : path, optional
        Default ``<out without .h5>.cache``; ``False`` disables the cache.
    drop_unmatched : bool
        Leave spectra without a WISE match out of the catalog (they are still reported).

    Returns
    -------
    BuildReport

    Raises
    ------
    CatalogError, WiseTableError
        Only for problems that make the whole build impossible (no spectra given, no spectrum
        readable, the WISE or photometry table unusable); every such message names the file.
    """
    from ..catalog import write_catalog

    t0 = time.perf_counter()
    out = Path(out)
    if cache_dir is None:
        cache_dir = out.with_suffix(".cache")
    elif cache_dir is False:
        cache_dir = None
    rep = BuildReport(path=str(out))
    paths = _collect_inputs(spectra, rep)
    # read the tables first: a broken table fails in a second, before any spectrum is read
    wt, phot = _read_tables(wise, wise_id_column, photometry, deredden)
    good = _usable_spectra(paths, rep, workers=workers, cache_dir=cache_dir, progress=progress)
    ids = np.array([r["id"] for r in good])
    ra = np.array([r["meta"].get("ra_deg", np.nan) for r in good], float)
    dec = np.array([r["meta"].get("dec_deg", np.nan) for r in good], float)
    m = _match_wise(good, ids, ra, dec, wt, rep, match=match, radius_arcsec=radius_arcsec)
    keep = np.ones(len(good), bool) if not drop_unmatched else m.wise_row >= 0
    sel = np.flatnonzero(keep)
    rep.n_galaxies = int(sel.size)
    if not sel.size:
        raise CatalogError(f"no spectrum matched {wt.source} ({m.how}) and --drop-unmatched was given")
    table = _assemble_table(good, sel, ids, ra, dec, m, wt)
    phot_info = _join_photometry(table, phot, rep)
    flux = np.zeros((sel.size, N_PIX), np.float32)
    weight = np.zeros((sel.size, N_PIX), np.float32)
    for k, i in enumerate(sel):
        flux[k], weight[k] = good[i]["flux"], good[i]["weight"]
    rep.seconds = time.perf_counter() - t0
    rep.spectra_per_second = rep.n_files / rep.seconds if rep.seconds > 0 else 0.0
    provenance = _provenance(rep, good, wise, wt, photometry, phot, match, radius_arcsec, command)
    write_catalog(out, table, flux, weight, simulated=False, provenance=provenance, extra_attrs=phot_info)
    rep.notes.append(
        "catalog attribute optical_photometry="
        + str(phot_info["optical_photometry"])
        + ("" if phot_info["optical_photometry"] else " (predict with a paper-input model)")
    )
    return rep


def _collect_inputs(spectra, rep: BuildReport) -> list[Path]:
    """Spectrum paths named by ``spectra``; inputs that name nothing go to ``rep.rejected``."""
    paths, problems = find_spectra(spectra)
    rep.rejected += [f"{item}: {why}" for item, why in problems]
    if not paths:
        raise CatalogError(f"no spectrum files found in {spectra}")
    rep.n_files = len(paths)
    return paths


def _read_tables(wise, wise_id_column, photometry, deredden: bool):
    """(WiseTable, PhotometryTable or None)."""
    from .wise import read_wise_table

    wt = read_wise_table(wise, id_column=wise_id_column)
    phot = None
    if photometry is not None:
        from .photometry import read_photometry_table

        phot = read_photometry_table(photometry, deredden=deredden)
    return wt, phot


def _usable_spectra(paths, rep: BuildReport, *, workers: int, cache_dir, progress: bool) -> list[dict]:
    """Read ``paths`` (cache first); unreadable files and byte-identical duplicates are rejected."""
    records = read_spectra(paths, workers=workers, cache_dir=cache_dir, progress=progress)
    rep.n_from_cache = sum(1 for r in records if r.get("cached"))
    rep.n_read = len(records) - rep.n_from_cache
    good: list[dict] = []
    by_sha: dict[str, str] = {}
    for r in records:
        if "error" in r:
            rep.rejected.append(r["error"])
            continue
        if r["sha256"] in by_sha:
            rep.rejected.append(f"{r['path']}: same bytes as {by_sha[r['sha256']]} (duplicate file), skipped")
            continue
        by_sha[r["sha256"]] = r["path"]
        good.append(r)
    if not good:
        raise CatalogError(
            f"none of the {len(paths)} spectrum files could be used:\n  " + "\n  ".join(rep.rejected)
        )
    return good


@dataclass
class _Match:
    """WISE match of the usable spectra: WISE row (-1: none), separation, status, how (for messages)."""

    wise_row: np.ndarray
    sep: np.ndarray
    status: np.ndarray
    how: str


def _match_wise(good, ids, ra, dec, wt, rep: BuildReport, *, match: str, radius_arcsec: float) -> _Match:
    """Match the usable spectra to the WISE table by id or position (see the module notes)."""
    from .crossmatch import crossmatch_by_id, crossmatch_by_position

    n = len(good)
    res = _Match(np.full(n, -1), np.full(n, np.nan), np.full(n, "none", dtype="<U9"), "")
    wg = wt.good
    psel = wsel = None  # position match: the spectra and WISE rows with positions
    if match == "id":
        if "id" not in wt.columns:
            raise CatalogError(f"{wt.source}: no identifier column for an id match (use --wise-id-column)")
        m = crossmatch_by_id(ids, np.where(wg, wt.columns["id"], ""), names=("spectra", "wise"))
        idx1, idx2 = m.idx1, m.idx2
        res.how = "by id"
    elif match == "position":
        if "ra_deg" not in wt.columns:
            raise CatalogError(f"{wt.source}: no ra/dec columns for a position match")
        has_pos = np.isfinite(ra) & np.isfinite(dec)
        for i in np.flatnonzero(~has_pos):
            rep.notes.append(f"{good[i]['path']}: no PLUG_RA/PLUG_DEC in SPECOBJ, cannot match by position")
        wsel = np.flatnonzero(wg & np.isfinite(wt.columns["ra_deg"]) & np.isfinite(wt.columns["dec_deg"]))
        psel = np.flatnonzero(has_pos)
        m = crossmatch_by_position(
            ra[psel], dec[psel], wt.columns["ra_deg"][wsel], wt.columns["dec_deg"][wsel], radius_arcsec
        )
        idx1, idx2 = psel[m.idx1], wsel[m.idx2]
        res.sep[idx1] = m.sep_arcsec
        res.how = f"within {radius_arcsec:g} arcsec"
    else:
        raise CatalogError(f"match must be 'position' or 'id', got {match!r}")
    res.wise_row[idx1] = idx2
    res.status[idx1] = "matched"
    _report_match(res, m, good, ids, wt, rep, psel, wsel)
    return res


def _report_match(res: _Match, m, good, ids, wt, rep: BuildReport, psel, wsel) -> None:
    """Flag ambiguous matches in ``res.status``; list them and the unmatched spectra in ``rep``.

    ``psel``/``wsel`` map the indices of a position match back to rows (None for an id match).
    """
    status, how = res.status, res.how
    for j2, i1s in m.ambiguous2.items():
        spec_rows = [int(psel[i] if psel is not None else i) for i in i1s]
        j = int(wsel[j2] if wsel is not None else j2)
        status[spec_rows] = "ambiguous"
        files = ", ".join(f"{good[i]['path']} ({ids[i]})" for i in spec_rows)
        rep.ambiguous.append(f"WISE row {j} of {wt.source} matched by {len(spec_rows)} spectra: {files}")
    for i1, j2s in m.ambiguous1.items():
        i = int(psel[i1] if psel is not None else i1)
        rows = [int(wsel[j] if wsel is not None else j) for j in j2s]
        status[i] = "ambiguous"
        rep.ambiguous.append(
            f"{good[i]['path']} ({ids[i]}): {len(rows)} WISE sources {how} (rows {rows}); nearest used"
        )
    for i in np.flatnonzero(res.wise_row < 0):
        near = ""
        if psel is not None and m.nearest_sep_arcsec is not None and i in psel:
            k = int(np.flatnonzero(psel == i)[0])
            near = f", nearest WISE source {m.nearest_sep_arcsec[k]:.3g} arcsec away"
        rep.unmatched.append(f"{good[i]['path']} ({ids[i]}): no WISE source {how}{near}")
    rep.n_matched = int(np.count_nonzero(res.wise_row >= 0))
    n_bad_wise = len(wt.bad_rows)
    if n_bad_wise:
        rep.notes.append(
            f"{wt.source}: {n_bad_wise} WISE rows flagged and not matched: "
            + "; ".join(f"row {i}: {why}" for i, why in list(wt.bad_rows.items())[:10])
        )


def _assemble_table(good, sel, ids, ra, dec, m: _Match, wt) -> dict:
    """Catalog table columns of the kept spectra ``sel``: spectrum metadata, match, WISE photometry."""
    meta = [good[i]["meta"] for i in sel]
    table: dict = {
        "id": ids[sel],
        "ra_deg": ra[sel],
        "dec_deg": dec[sel],
        "z": np.array([good[i]["z"] for i in sel], float),
        "z_err": np.array([mm.get("z_err", np.nan) for mm in meta], float),
        "spec_norm": np.array([good[i]["norm"] for i in sel], float),
        "split": _split_of(ids[sel]),
        "zwarning": np.array([mm.get("zwarning", 0) for mm in meta], np.int64),
        "sdss_class": np.array([str(mm.get("class", "")) for mm in meta]),
        "specobjid": np.array([str(mm.get("specobjid", "")) for mm in meta]),
        "spec_file": np.array([os.path.basename(good[i]["path"]) for i in sel]),
        "spec_sha256": np.array([good[i]["sha256"] for i in sel]),
        "wise_match": m.status[sel],
        "wise_row": m.wise_row[sel],
        "wise_sep_arcsec": m.sep[sel],
    }
    rows = m.wise_row[sel]
    has = rows >= 0
    for w in WISE_BANDS:
        b = w.lower()
        for suffix, fill in (("mag_vega", np.nan), ("sigma_mag", np.nan), ("flux_mjy", np.nan),
                             ("flux_err_mjy", np.nan), ("is_ul", False)):  # fmt: skip
            src = wt.columns[f"{b}_{suffix}"]
            col = np.full(sel.size, fill, dtype=src.dtype)
            col[has] = src[rows[has]]
            table[f"{b}_{suffix}"] = col
    qual = np.full(sel.size, "", dtype="<U4")
    qual[has] = wt.columns["ph_qual"][rows[has]]
    table["ph_qual"] = qual
    if "id" in wt.columns:
        wid = np.full(sel.size, "", dtype=object)
        wid[has] = wt.columns["id"][rows[has]]
        table["wise_id"] = wid.astype(str)
    return table


def _join_photometry(table: dict, phot, rep: BuildReport) -> dict:
    """Add the ugriz columns of ``phot`` (if any) to ``table``; returns the catalog attributes."""
    if phot is None:
        rep.notes.append("no photometry table: no ugriz magnitudes; use a model trained with --inputs paper")
        return {"optical_photometry": False}
    n = table["id"].size
    prow = np.array([phot.lookup(table["specobjid"][k], table["id"][k]) for k in range(n)], dtype=object)
    found = np.array([p is not None for p in prow])
    for name, src in phot.columns.items():
        col = np.full(n, np.nan)
        col[found] = src[prow[found].astype(int)]
        table[name] = col
    for k in np.flatnonzero(~found):
        rep.notes.append(f"{table['spec_file'][k]} ({table['id'][k]}): not in photometry table {phot.source}")
    rep.notes += [f"{phot.source}: {t}" for t in phot.notes]
    return {"optical_photometry": bool(found.any())}


def _head(lines: list, n: int = 100) -> list:
    """The first ``n`` lines (the full lists are in the report file)."""
    return lines[:n] + ([f"... {len(lines) - n} more in the build report"] if len(lines) > n else [])


def _provenance(rep: BuildReport, good, wise, wt, photometry, phot, match, radius_arcsec, command) -> dict:
    """The catalog's provenance attribute."""
    folders = sorted({str(Path(r["path"]).parent) for r in good})
    return {
        "command": command,
        "kind": "SDSS spectra x AllWISE (build-catalog)",
        "spectra": {
            "folders": _head(folders, 20),
            "n_files": rep.n_files,
            "per_galaxy": "table columns spec_file and spec_sha256",
        },
        "wise_table": {"path": str(wise), "sha256": sha256_of(wise), "rows": len(wt)},
        "photometry_table": (
            {"path": str(photometry), "sha256": sha256_of(photometry), "notes": phot.notes} if phot else None
        ),
        "match": {
            "method": match,
            "radius_arcsec": radius_arcsec if match == "position" else None,
            "radius_reason": "half the W1 beam (6.1 arcsec FWHM, Wright et al. 2010)",
        },  # fmt: skip
        "counts": {
            "files": rep.n_files,
            "galaxies": rep.n_galaxies,
            "matched": rep.n_matched,
            "unmatched": len(rep.unmatched),
            "ambiguous": len(rep.ambiguous),
            "rejected": len(rep.rejected),
        },  # fmt: skip
        "rejected": _head(rep.rejected),
        "unmatched": _head(rep.unmatched),
        "ambiguous": _head(rep.ambiguous),
        "split": "deterministic from sha256(id): 80% train, 10% valid, 10% test",
    }
